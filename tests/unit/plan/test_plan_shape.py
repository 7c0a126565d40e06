"""Plan-shape rules of the runbooks, on `terraform show -json` documents shaped like the guides' expected and forbidden
diffs (addresses from docs/v8-upgrade-guide.md and docs/operator-migration/readme.md, under the deployer's module
call `module.wandb_infra`)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from wandb_deployer.plan.shape import PlanRule, RuleViolation, ShapedChange, check_plan_shape
from wandb_deployer.plan.summary import summarise_plan_json
from wandb_deployer.upgrade import runbook_data as data

from .plans import plan_document, resource_change

pytestmark = pytest.mark.unit

CALL = "module.wandb_infra."
EKS = CALL + "module.app_eks.module.eks."
NG = EKS + 'module.eks_managed_node_group["ng-{}"].'


def change(address: str, actions: list[str]) -> dict[str, Any]:
    resource_type = address.rsplit(".", 2)[-2]
    return resource_change(address, resource_type, actions)


def checked(changes: list[dict[str, Any]], rules: tuple[PlanRule, ...]) -> list[RuleViolation]:
    digest = summarise_plan_json(io.BytesIO(json.dumps(plan_document(changes)).encode()), max_listed=10_000)
    shaped = [ShapedChange(address=c.address, type=c.type, action=c.action) for c in digest.changes]
    return check_plan_shape(shaped, rules)


REPLACE, UPDATE, DELETE, CREATE = ["create", "delete"], ["update"], ["delete"], ["create"]


def stage1_plan() -> list[dict[str, Any]]:
    """The guide's Stage 1 shape for a 2-AZ deployment (in-place cluster, role, SG; NG/LT pairs replaced; the ingress
    rule replaced; aws-auth adopted in place; v17 orphans destroyed; v20 shapes created)."""
    return [
        change(EKS + "aws_eks_cluster.this[0]", UPDATE),
        change(EKS + "aws_iam_role.this[0]", UPDATE),
        change(EKS + "aws_security_group.cluster[0]", UPDATE),
        *(change(NG.format(i) + "aws_eks_node_group.this[0]", REPLACE) for i in range(2)),
        *(change(NG.format(i) + "aws_launch_template.this[0]", REPLACE) for i in range(2)),
        change(EKS + 'aws_security_group_rule.cluster["ingress_nodes_443"]', REPLACE),
        change(CALL + "module.app_eks.kubernetes_config_map.aws_auth_legacy[0]", UPDATE),
        change(EKS + "aws_iam_role.workers[0]", DELETE),
        change(EKS + "aws_security_group.workers[0]", DELETE),
        change(EKS + "aws_security_group.node[0]", CREATE),
        change(EKS + "time_sleep.this[0]", CREATE),
        change(CALL + "module.app_eks.aws_iam_openid_connect_provider.eks", ["no-op"]),
        change(CALL + "module.kms.aws_kms_key.key", ["no-op"]),
    ]


def with_change(plan: list[dict[str, Any]], address: str, actions: list[str]) -> list[dict[str, Any]]:
    kept = [c for c in plan if c["address"] != address]
    return [*kept, change(address, actions)]


def test_the_guides_stage1_shape_passes_the_module_step() -> None:
    assert checked(stage1_plan(), data.V8_MODULE_STEP_RULES) == []


@pytest.mark.parametrize(
    ("address", "actions", "kind", "diagnosis_says"),
    [
        (EKS + "aws_eks_cluster.this[0]", REPLACE, "must-not-replace", "missed name override in step 2"),
        (EKS + "aws_eks_cluster.this[0]", DELETE, "must-not-replace", "cascades to a cluster recreate"),
        (EKS + "aws_iam_role.this[0]", REPLACE, "must-not-replace", "share a `name_prefix` knob"),
        (EKS + "aws_security_group.cluster[0]", REPLACE, "must-not-replace", "override (see step 2) is missing"),
        (CALL + "module.app_eks.aws_iam_openid_connect_provider.eks", REPLACE, "must-not-replace", "OIDC provider"),
        (CALL + "module.kms.aws_kms_key.key", REPLACE, "must-not-replace", "the KMS key"),
        (EKS + "module.kms.aws_kms_key.this[0]", CREATE, "must-not-create", "No KMS create"),
        (EKS + "aws_iam_openid_connect_provider.oidc_provider[0]", CREATE, "must-not-create", "enable_irsa"),
        (EKS + "kubernetes_config_map.aws_auth[0]", DELETE, "must-not-destroy", "step 3 wasn't applied"),
        (EKS + 'aws_eks_access_entry.this["cluster_creator"]', CREATE, "must-not-create", "409"),
        (
            EKS + 'aws_eks_access_policy_association.this["cluster_creator_admin"]',
            CREATE,
            "must-not-create",
            "kubernetes_legacy_cluster_creator_admin = true",
        ),
        (CALL + "module.database.aws_rds_cluster.this[0]", REPLACE, "expected-replacements", "limited to"),
    ],
)
def test_each_module_step_rule_stops_its_violation_with_the_guides_diagnosis(
    address: str, actions: list[str], kind: str, diagnosis_says: str
) -> None:
    violations = checked(with_change(stage1_plan(), address, actions), data.V8_MODULE_STEP_RULES)
    # A replacement the guide forbids is also outside its list of expected replacements: both are reported, the
    # specific rule first.
    also = ["expected-replacements"] if actions == REPLACE and kind != "expected-replacements" else []
    assert [(v.address, v.kind) for v in violations] == [(address, k) for k in [kind, *also]]
    assert diagnosis_says in violations[0].diagnosis
    assert violations[0].source.startswith("docs/v8-upgrade-guide.md")
    assert address in violations[0].message()


def test_a_replaced_cluster_in_an_eks_step_breaks_its_guard_and_its_expected_replacements() -> None:
    violations = checked([change(EKS + "aws_eks_cluster.this[0]", REPLACE)], data.V8_EKS_STEP_RULES)
    assert [v.kind for v in violations] == ["must-not-replace", "expected-replacements"]
    assert "in place" in violations[0].diagnosis


def test_an_updated_cluster_or_created_elsewhere_is_no_violation() -> None:
    plan = [change(EKS + "aws_eks_cluster.this[0]", UPDATE), change(EKS + 'aws_eks_access_entry.this["ops"]', CREATE)]
    assert checked(plan, data.V8_MODULE_STEP_RULES) == []


def test_eks_step_allows_only_the_time_sleep_replacement() -> None:
    good = [
        change(EKS + "aws_eks_cluster.this[0]", UPDATE),
        change(NG.format(0) + "aws_eks_node_group.this[0]", UPDATE),
        change(EKS + "time_sleep.this[0]", REPLACE),
    ]
    assert checked(good, data.V8_EKS_STEP_RULES) == []
    bad = with_change(good, NG.format(0) + "aws_eks_node_group.this[0]", REPLACE)
    assert [(v.kind, "in-place update" in v.diagnosis) for v in checked(bad, data.V8_EKS_STEP_RULES)] == [
        ("expected-replacements", True)
    ]


def test_retire_step_destroys_the_legacy_configmap_and_replaces_nothing() -> None:
    good = [change(CALL + "module.app_eks.kubernetes_config_map.aws_auth_legacy[0]", DELETE)]
    assert checked(good, data.V8_RETIRE_AWS_AUTH_RULES) == []
    bad = [*good, change(NG.format(1) + "aws_launch_template.this[0]", REPLACE)]
    assert [v.kind for v in checked(bad, data.V8_RETIRE_AWS_AUTH_RULES)] == ["expected-replacements"]


def operator_plan() -> list[dict[str, Any]]:
    """The documented plan of the operator migration (its destroy and replace lists, and the database updates)."""
    app = "module.wandb_app."
    return [
        change(CALL + "module.database.aws_rds_cluster.this[0]", UPDATE),
        change(CALL + 'module.database.aws_rds_cluster_instance.this["1"]', UPDATE),
        change(CALL + "module.redis[0].aws_elasticache_replication_group.default", UPDATE),
        change(app + "kubernetes_config_map.config_map", DELETE),
        change(app + "kubernetes_deployment.wandb", DELETE),
        change(app + "kubernetes_secret.secret", DELETE),
        change(CALL + 'module.app_eks.aws_autoscaling_attachment.autoscaling_attachment["primary"]', REPLACE),
        change(CALL + "module.app_lb.aws_route53_record.alb", REPLACE),
        change(CALL + 'module.app_eks.aws_eks_node_group.workers["primary"]', REPLACE),
        change(CALL + "module.wandb.helm_release.operator", CREATE),
        change(CALL + "module.file_storage.aws_s3_bucket.file_storage", ["no-op"]),
    ]


def test_the_documented_operator_migration_plan_passes() -> None:
    assert checked(operator_plan(), data.OPERATOR_MIGRATION_RULES) == []


@pytest.mark.parametrize(
    ("address", "actions"),
    [
        (CALL + "module.database.aws_rds_cluster.this[0]", REPLACE),
        (CALL + 'module.database.aws_rds_cluster_instance.this["1"]', DELETE),
        (CALL + "module.file_storage.aws_s3_bucket.file_storage", DELETE),
        (CALL + "module.kms.aws_kms_key.key", REPLACE),
    ],
)
def test_the_operator_migration_refuses_a_plan_touching_the_database_or_bucket(
    address: str, actions: list[str]
) -> None:
    violations = checked(with_change(operator_plan(), address, actions), data.OPERATOR_MIGRATION_RULES)
    assert violations[0].kind == "must-not-destroy"
    assert violations[0].address == address
    assert "lose W&B's data" in violations[0].diagnosis


def test_an_unlisted_replacement_in_the_migration_is_a_violation() -> None:
    address = CALL + "module.networking.aws_nat_gateway.this[0]"
    violations = checked([*operator_plan(), change(address, REPLACE)], data.OPERATOR_MIGRATION_RULES)
    assert [(v.kind, v.address) for v in violations] == [("expected-replacements", address)]


def test_patterns_take_brackets_and_quotes_literally() -> None:
    rule = PlanRule(kind="must-not-create", addresses=('x.this["a*"]',), diagnosis="d", source="s")
    assert rule.matches('module.m.x.this["ab"]', "t")
    assert not rule.matches("module.m.x.this[a]", "t")  # `[` is no character class
    assert not rule.matches('module.m.yx.this["a"]', "t")  # a path suffix starts after a dot
    typed = PlanRule(kind="must-not-destroy", types=("kubernetes_*",), diagnosis="d", source="s")
    assert typed.matches("a.b", "kubernetes_secret") and not typed.matches("a.b", "aws_kubernetes_secret")


# --- 6.x -> 7.x: README.md v7.0.0 "6.x -> 7.x"; main.tf v6.1.0 (`module "file_storage"` with
# `count = var.create_bucket ? 1 : 0`) and v7.0.0 (no count; `moved { from = module.file_storage[0]
# to = module.file_storage }`) ---------------------------------------------------------------------------------------
FS_V6, FS_V7 = CALL + "module.file_storage[0].", CALL + "module.file_storage."


def test_the_moved_bucket_of_a_7x_plan_passes() -> None:
    # With the moved block the bucket appears at its new address with no change (or an in-place update).
    moved = [
        change(FS_V7 + "aws_s3_bucket.file_storage", ["no-op"]),
        change(FS_V7 + "aws_s3_bucket_cors_configuration.file_storage", UPDATE),
        change(FS_V7 + "aws_sqs_queue.file_storage[0]", ["no-op"]),
    ]
    assert checked(moved, data.V7_BUCKET_RULES) == []


@pytest.mark.parametrize(
    ("address", "actions"),
    [
        (FS_V6 + "aws_s3_bucket.file_storage", DELETE),  # no move: the 6.x instance is destroyed...
        (FS_V6 + "aws_sqs_queue.file_storage[0]", DELETE),
        (FS_V7 + "aws_s3_bucket.file_storage", REPLACE),  # ...or the bucket is recreated under its new address
        (FS_V7 + "aws_s3_bucket.file_storage", DELETE),  # an older module planned against 7.x state
    ],
)
def test_a_plan_that_destroys_the_file_storage_bucket_is_refused(address: str, actions: list[str]) -> None:
    plan = with_change([change(FS_V7 + "aws_s3_bucket.file_storage", CREATE)], address, actions)
    [violation] = checked(plan, data.V7_BUCKET_RULES)
    assert violation.address == address and violation.kind == "must-not-destroy"
    assert "may result in terraform deleting your bucket" in violation.diagnosis
    assert violation.source.startswith(data.V7_NOTES)


def test_a_created_default_bucket_is_allowed_for_create_bucket_false() -> None:
    # README.md v7.0.0: v7 is "always creating a "defaultBucket"": with create_bucket = false at 6.x it is created.
    assert checked([change(FS_V7 + "aws_s3_bucket.file_storage", CREATE)], data.V7_BUCKET_RULES) == []
