"""The documented transitions' plan-shape rules, as data, each with the guide's own words.

Sources (wandb/terraform-aws-wandb):
- `docs/v8-upgrade-guide.md` at v8.0.0 ("Upgrade runbook", steps 3, 6 and 11; "Expected plan output", stages 1, 2
  and 4; "Verification checklist"; "Duplicate OIDC provider"); addresses from `modules/app_eks/moved.tf` and
  `modules/app_eks/aws_auth_legacy.tf` at v8.0.0, relative to the aws module's call;
- `docs/operator-migration/readme.md` (tags v4.12.0 to v8.0.0), "Post-Operator Setup": the documented plan;
- the smaller majors' notes in `README.md`, "Migrations": "Upgrading from 4.x -> 5.x" (v5.0.0, and the same text
  at v8.0.0) and "6.x -> 7.x" (v7.0.0); the addresses from `main.tf` at v6.1.0 (`module "file_storage"` with
  `count = var.create_bucket ? 1 : 0`) and v7.0.0 (no count, and `moved { from = module.file_storage[0]
  to = module.file_storage }`).
"""

from __future__ import annotations

from wandb_deployer.plan.shape import PlanRule

V8_GUIDE = "docs/v8-upgrade-guide.md (wandb/terraform-aws-wandb v8.0.0)"
OPERATOR_GUIDE = "docs/operator-migration/readme.md (wandb/terraform-aws-wandb v4.12.0+)"

_EKS = "module.app_eks.module.eks"
CLUSTER = f"{_EKS}.aws_eks_cluster.this[0]"
CLUSTER_ROLE = f"{_EKS}.aws_iam_role.this[0]"
CLUSTER_SECURITY_GROUP = f"{_EKS}.aws_security_group.cluster[0]"
WANDB_OIDC_PROVIDER = "module.app_eks.aws_iam_openid_connect_provider.eks"
COMMUNITY_OIDC_PROVIDER = f"{_EKS}.aws_iam_openid_connect_provider.oidc_provider[0]"
COMMUNITY_KMS_KEY = f"{_EKS}.module.kms.aws_kms_key.this[0]"
AWS_AUTH_V17 = f"{_EKS}.kubernetes_config_map.aws_auth[0]"
AWS_AUTH_LEGACY = "module.app_eks.kubernetes_config_map.aws_auth_legacy[0]"
CREATOR_ACCESS_ENTRY = f'{_EKS}.aws_eks_access_entry.this["cluster_creator"]'
CREATOR_POLICY_ASSOCIATION = f'{_EKS}.aws_eks_access_policy_association.this["cluster_creator_admin"]'
NODE_GROUPS = f"{_EKS}.module.eks_managed_node_group[*].aws_eks_node_group.this[0]"
LAUNCH_TEMPLATES = f"{_EKS}.module.eks_managed_node_group[*].aws_launch_template.this[0]"
CLUSTER_INGRESS_RULE = f'{_EKS}.aws_security_group_rule.cluster["ingress_nodes_443"]'
TIME_SLEEP = f"{_EKS}.time_sleep.this[0]"

_STEP6 = f"{V8_GUIDE}, Upgrade runbook, step 6"
_UNRECOVERABLE = (
    "Stop and diagnose if your plan shows replacements on `aws_eks_cluster`, `aws_iam_role.this`, "
    "`aws_security_group.cluster`, the KMS key, or the wandb-side OIDC provider — those would be unrecoverable in "
    "a single apply and indicate a configuration error."
)

CLUSTER_KEPT = PlanRule(
    kind="must-not-replace",
    addresses=(CLUSTER,),
    diagnosis=(
        "`aws_eks_cluster.this[0]` must NOT be `must be replaced`. If it is, the most common cause is a missed name "
        "override in step 2 — the cluster IAM role gets a different `name_prefix` and TF treats it as a different "
        "resource, which cascades to a cluster recreate. " + _UNRECOVERABLE
    ),
    source=_STEP6,
)

V8_MODULE_STEP_RULES: tuple[PlanRule, ...] = (
    CLUSTER_KEPT,
    PlanRule(
        kind="must-not-replace",
        addresses=(CLUSTER_ROLE, CLUSTER_SECURITY_GROUP),
        diagnosis=(
            "`aws_iam_role.this[0]` and `aws_security_group.cluster[0]` must NOT be `must be replaced` either. They "
            "each share a `name_prefix` knob with the cluster; if either shows replacement, the corresponding "
            "override (see step 2) is missing. " + _UNRECOVERABLE
        ),
        source=_STEP6,
    ),
    PlanRule(
        kind="must-not-replace",
        addresses=(WANDB_OIDC_PROVIDER,),
        types=("aws_kms_key",),
        diagnosis=_UNRECOVERABLE,
        source=_STEP6,
    ),
    PlanRule(
        kind="must-not-create",
        addresses=(COMMUNITY_KMS_KEY,),
        diagnosis=(
            "No KMS create. `module.eks.module.kms.aws_kms_key.this[0]` should not appear; if it does, "
            "`create_kms_key = false` isn't taking effect or `var.kms_key_arn` was inadvertently changed."
        ),
        source=_STEP6,
    ),
    PlanRule(
        kind="must-not-create",
        addresses=(COMMUNITY_OIDC_PROVIDER,),
        diagnosis=(
            "With both layers declared in v20, `terraform apply` tries to create two "
            "`aws_iam_openid_connect_provider` resources for the same OIDC issuer URL. AWS only permits one provider "
            "per URL (`EntityAlreadyExists`). The fix is to disable the community module's copy (`enable_irsa = "
            "false`)."
        ),
        source=f"{V8_GUIDE}, Duplicate OIDC provider",
    ),
    PlanRule(
        kind="must-not-destroy",
        addresses=(AWS_AUTH_V17,),
        diagnosis=(
            "Do NOT see `kubernetes_config_map.aws_auth[0]` in this list — if you do, step 3 wasn't applied and you "
            "should set the variable before continuing. Without `preserve_aws_auth_configmap = true`, the "
            "v17-managed ConfigMap would be marked for destroy and TF would `DELETE` it from the cluster during "
            "apply — risking auth interruption for nodes joining or refreshing tokens during the window."
        ),
        source=f"{V8_GUIDE}, Upgrade runbook, steps 3 and 6",
    ),
    PlanRule(
        kind="must-not-create",
        addresses=(CREATOR_ACCESS_ENTRY, CREATOR_POLICY_ASSOCIATION),
        diagnosis=(
            '`aws_eks_access_entry.this["cluster_creator"]` and its `aws_eks_access_policy_association` should '
            "_not_ appear — for a v17 → v20 upgrade you set `kubernetes_legacy_cluster_creator_admin = true` so "
            "that AWS owns the cluster-creator entry implicitly. If you see them in the plan, the variable has "
            "been set to `false` (correct for fresh installs but not for upgrades) and the apply will hit the 409 "
            "race (`ResourceInUseException`)."
        ),
        source=_STEP6,
    ),
    PlanRule(
        kind="expected-replacements",
        addresses=(NODE_GROUPS, LAUNCH_TEMPLATES, CLUSTER_INGRESS_RULE, TIME_SLEEP),
        diagnosis=(
            "Replacements should be limited to `aws_eks_node_group.this[0]`, `aws_launch_template.this[0]`, "
            '`aws_security_group_rule.cluster["ingress_nodes_443"]`, and `module.eks.time_sleep.this[0]`.'
        ),
        source=f"{V8_GUIDE}, Verification checklist",
    ),
)

V8_EKS_STEP_RULES: tuple[PlanRule, ...] = (
    CLUSTER_KEPT.model_copy(
        update={
            "diagnosis": (
                "An EKS minor bump updates `aws_eks_cluster.this[0]` in place (`version`); a replacement would "
                "recreate the cluster."
            ),
            "source": f"{V8_GUIDE}, Expected plan output, Stage 2 / Stage 3",
        }
    ),
    PlanRule(
        kind="expected-replacements",
        addresses=(TIME_SLEEP,),
        diagnosis=(
            "Plan headline shape: `1 to add, 8-10 to change, 1 to destroy`, 1 forced replacement (the `time_sleep` "
            "only); each `aws_eks_node_group.this[0]` is an in-place update (AWS rolls AMIs)."
        ),
        source=f"{V8_GUIDE}, Expected plan output, Stage 2 / Stage 3",
    ),
)

V8_RETIRE_AWS_AUTH_RULES: tuple[PlanRule, ...] = (
    CLUSTER_KEPT.model_copy(
        update={
            "diagnosis": "Retiring the aws-auth ConfigMap only destroys `kubernetes_config_map.aws_auth_legacy[0]`.",
            "source": f"{V8_GUIDE}, Expected plan output, Stage 4",
        }
    ),
    PlanRule(
        kind="expected-replacements",
        diagnosis=(
            "Plan headline: `0 to add, 0 to change, 1 to destroy`. No data-plane impact — nodes don't roll, pods "
            "don't migrate."
        ),
        source=f"{V8_GUIDE}, Expected plan output, Stage 4",
    ),
)

# Step 11 of the guide: the aws-auth ConfigMap is retired no earlier than one kubelet credential rotation after the
# migration apply (step 8, the runbook's `module` step). The deployer refuses an earlier approval of the step's plan;
# how long it waits is its RunbookAwsAuthWaitSeconds (default 3600: the guide's "typically an hour").
V8_AWS_AUTH_WAIT_REASON = (
    "Wait at least one full kubelet credential rotation cycle (typically an hour) between step 8 and step 11. If "
    "anything was still relying on aws-auth, that's when you'll see it — and you can flip the variable back to "
    "`true` and reapply to recover."
)
V8_AWS_AUTH_WAIT_SOURCE = f"{V8_GUIDE}, Upgrade runbook, step 11"

_DATA_KEPT = (
    "The documented plan updates the database in place (`aws_rds_cluster.this[0]`, "
    '`aws_rds_cluster_instance.this["1"]`, `aws_elasticache_replication_group.default`) and leaves the bucket '
    "alone: a plan that destroys or replaces the database, the bucket or the key that encrypts them would lose "
    "W&B's data. Stop and compare the configuration with `post-operator.tfvars`."
)
OPERATOR_MIGRATION_RULES: tuple[PlanRule, ...] = (
    PlanRule(
        kind="must-not-destroy",
        types=("aws_rds_cluster", "aws_rds_cluster_instance", "aws_db_instance", "aws_s3_bucket", "aws_kms_key"),
        diagnosis=_DATA_KEPT,
        source=f"{OPERATOR_GUIDE}, Post-Operator Setup",
    ),
    PlanRule(
        kind="expected-replacements",
        addresses=(
            "aws_autoscaling_attachment.autoscaling_attachment[*]",
            "aws_route53_record.alb",
            "aws_eks_node_group.workers[*]",
        ),
        diagnosis=(
            'The plan\'s `replace:` list is `aws_autoscaling_attachment.autoscaling_attachment["primary"]`, '
            '`aws_route53_record.alb` and `aws_eks_node_group.workers["primary"]` (the Route53 record is replaced: '
            "plan a DNS cutover)."
        ),
        source=f"{OPERATOR_GUIDE}, Post-Operator Setup",
    ),
)


# --- 4.x -> 5.x: README.md at v5.0.0, "Upgrading from 4.x -> 5.x" ---------------------------------------------------
V5_NOTES = "README.md (wandb/terraform-aws-wandb v5.0.0), Upgrading from 4.x -> 5.x"
NODE_COUNT = "kubernetes_node_count"
MIN_NODES_PER_AZ = "kubernetes_min_nodes_per_az"
MAX_NODES_PER_AZ = "kubernetes_max_nodes_per_az"
# "> :warning: Please remove the `enable_dummy_dns` and `enable_operator_alb` variables as they are no longer valid
# flags." (README.md v5.0.0); neither is an input of 5.0.0's variables.tf.
V5_REMOVED_FLAGS = ("enable_dummy_dns", "enable_operator_alb")
# "Previously, unless the `size` variable was set explicitly, there were default values for the following variables:
# `kubernetes_instance_types`, `kubernetes_node_count`, `elasticache_node_type`, `database_instance_class`. The
# `size` variable is now defaulted to `small`, and the following values to can be used to partially override the
# values set by the `size` variable" (README.md v5.0.0): the three below keep their names, the node count does not.
V5_SIZE_OVERRIDES = ("kubernetes_instance_types", "elasticache_node_type", "database_instance_class")
V5_NODE_COUNT_NOTE = (
    "4.x runs `kubernetes_node_count` nodes in one node group across the private subnets (`desired_capacity = "
    "try(local.deployment_size[var.size].node_count, var.kubernetes_node_count)`, main.tf v4.24.0); 5.0.0 runs one "
    "node group per private subnet sized by `kubernetes_min_nodes_per_az` / `kubernetes_max_nodes_per_az` "
    '(modules/app_eks/main.tf v5.0.0). "If having the cluster scale nodes in and out is not desired, the '
    "`kubernetes_min_nodes_per_az` and `kubernetes_max_nodes_per_az` can be set to the same value to prevent the "
    'cluster from scaling." (README.md v5.0.0)'
)

# --- 6.x -> 7.x: README.md at v7.0.0, "6.x -> 7.x"; main.tf at v6.1.0 and v7.0.0 ------------------------------------
V7_NOTES = "README.md (wandb/terraform-aws-wandb v7.0.0), 6.x -> 7.x"
CREATE_BUCKET = "create_bucket"  # "removed the `create_bucket` var due to the above." (README.md v7.0.0)
FILE_STORAGE_V6 = "module.file_storage[0].*"  # main.tf v6.1.0: `count = var.create_bucket ? 1 : 0`
FILE_STORAGE_BUCKET = "module.file_storage.aws_s3_bucket.file_storage"  # main.tf v7.0.0, modules/file_storage
_V7_QUOTE = (
    "\"`v7` changes how the module references storage from using terraform's `count` to always creating a "
    '"defaultBucket" [...] We are considering this a major change because of the terraform `moved` block which '
    "migrates the resource. After moving to a `v7` applying an earlier version of the module may result in terraform "
    'deleting your bucket."'
)
V7_BUCKET_RULES: tuple[PlanRule, ...] = (
    PlanRule(
        kind="must-not-destroy",
        addresses=(FILE_STORAGE_V6, FILE_STORAGE_BUCKET),
        diagnosis=(
            "The file-storage bucket holds W&B's files and must not be destroyed. 7.0.0's main.tf moves it "
            "(`moved { from = module.file_storage[0] to = module.file_storage }`): a 7.x plan shows it under "
            "`module.file_storage` with no destroy, and nothing under `module.file_storage[0]`. A destroy means the "
            "move did not happen (or an older module is planned against 7.x state). " + _V7_QUOTE
        ),
        source=f"{V7_NOTES}; main.tf v7.0.0 (moved block)",
    ),
)
