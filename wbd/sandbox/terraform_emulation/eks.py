"""EMULATION of the plan *shape* of the aws module's EKS resources across the 7.x -> 8.x upgrade. Not Terraform, no
cluster: the records live in state only (like random_pet); nothing is created in the AWS emulator.

Opt-in (`WBD_SANDBOX_EMULATE_EKS=1`, operator generation only), so that the runbook tests can see the plans W&B's
upgrade guide describes; other sandbox runs keep the single `terraform_data` stand-in for everything unmodelled.

Derived from wandb/terraform-aws-wandb (addresses relative to `module.<call>.module.app_eks`):
- up to 7.x the community EKS module v17: `module.eks.aws_eks_cluster.this[0]`, `aws_iam_role.cluster[0]`,
  `aws_security_group.cluster[0]`, `aws_security_group_rule.cluster_https_worker_ingress[0]`, the v17 worker role and
  security group (`aws_iam_role.workers[0]`, `aws_security_group.workers[0]`), the aws-auth ConfigMap
  `kubernetes_config_map.aws_auth[0]`, and per private subnet (`ng-${idx}`; the module's default
  `network_private_subnet_cidrs` has two) `module.node_groups.aws_eks_node_group.workers["ng-i"]` and
  `module.node_groups.aws_launch_template.workers["ng-i"]`;
- from 8.0.0 v20, with the `moved {}` blocks of `modules/app_eks/moved.tf` (role, ingress rule, node groups, launch
  templates) and `modules/app_eks/aws_auth_legacy.tf` (the ConfigMap to `kubernetes_config_map.aws_auth_legacy[0]`,
  which exists only with `preserve_aws_auth_configmap = true`: without it the v17 ConfigMap has no configuration and
  is destroyed); the v17 worker role and security group are gone (destroyed); `aws_security_group.node[0]` and
  `time_sleep.this[0]` (triggered by the cluster version) are new; `aws_eks_access_entry.this["cluster_creator"]` and
  its policy association exist when `kubernetes_legacy_cluster_creator_admin` is false
  (`enable_cluster_creator_admin_permissions = !var.legacy_cluster_creator_admin`).
- what forces a replacement (docs/v8-upgrade-guide.md): node groups and launch templates (v20's `"-"` separator in
  `name_prefix`, ForceNew), the ingress rule (its source moves from the v17 worker SG to the v20 node SG),
  `time_sleep` (its trigger is the cluster version); the cluster, role and cluster SG keep their names (the v8 module
  sets the name-preservation inputs) and are updated in place.
- fault `terraform.replace_cluster` (armed in the sandbox's faults file): the plan is made as if the name overrides
  were missing ("the cluster IAM role gets a different name_prefix ... which cascades to a cluster recreate").
"""

from __future__ import annotations

from typing import Any

from wbd.sandbox.terraform_emulation.state import ResourceRecord
from wbd.sandbox.terraform_emulation.workspace import Workspace

ENABLE_VARIABLE = "WBD_SANDBOX_EMULATE_EKS"
REPLACE_CLUSTER_FAULT = "terraform.replace_cluster"
NODE_GROUP_KEYS = ("ng-0", "ng-1")  # one per private subnet: the module's default network_private_subnet_cidrs
V20_FROM_MAJOR = 8
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
KUBERNETES_PROVIDER = "registry.terraform.io/hashicorp/kubernetes"
TIME_PROVIDER = "registry.terraform.io/hashicorp/time"
TYPES = (
    "aws_eks_cluster",
    "aws_iam_role",
    "aws_security_group",
    "aws_security_group_rule",
    "aws_eks_node_group",
    "aws_launch_template",
    "kubernetes_config_map",
    "time_sleep",
    "aws_eks_access_entry",
    "aws_eks_access_policy_association",
)
# The attribute whose change replaces the resource (ForceNew), per type.
FORCE_NEW = {
    "aws_eks_cluster": "role_name_prefix",
    "aws_iam_role": "name_prefix",
    "aws_security_group": "name_prefix",
    "aws_security_group_rule": "source_security_group",
    "aws_eks_node_group": "name_prefix",
    "aws_launch_template": "name_prefix",
    "time_sleep": "cluster_version",
    "kubernetes_config_map": "name",
}


def _moved(workspace: Workspace) -> dict[str, str]:
    """modules/app_eks/moved.tf and aws_auth_legacy.tf at v8.0.0: from -> to, under `module.<call>.module.app_eks`."""
    base = _app_eks(workspace)
    pairs = {
        "module.eks.aws_iam_role.cluster[0]": "module.eks.aws_iam_role.this[0]",
        "module.eks.aws_security_group_rule.cluster_https_worker_ingress[0]": (
            'module.eks.aws_security_group_rule.cluster["ingress_nodes_443"]'
        ),
        "module.eks.kubernetes_config_map.aws_auth[0]": "kubernetes_config_map.aws_auth_legacy[0]",
    }
    for key in NODE_GROUP_KEYS:
        for kind in ("aws_eks_node_group", "aws_launch_template"):
            pairs[f'module.eks.module.node_groups.{kind}.workers["{key}"]'] = (
                f'module.eks.module.eks_managed_node_group["{key}"].{kind}.this[0]'
            )
    return {f"{base}.{source}": f"{base}.{target}" for source, target in pairs.items()}


def _app_eks(workspace: Workspace) -> str:
    return f"module.{workspace.aws_module.name}.module.app_eks"


def _record(module: str, address: str, attributes: dict[str, Any], provider: str = AWS_PROVIDER) -> ResourceRecord:
    """A record at `<module>.<rest>`: `rest` is `[module.x.]type.name[index]`."""
    parts = address.split(".")
    while parts[0] == "module":
        module, parts = f"{module}.module.{parts[1]}", parts[2:]
    kind, name = parts[0], ".".join(parts[1:])
    return ResourceRecord(module=module, type=kind, name=name, provider=provider, attributes=attributes)


def _truthy(value: object) -> bool:
    return value is True or str(value).lower() == "true"


def desired_eks_resources(workspace: Workspace, *, replace_cluster: bool = False) -> list[ResourceRecord]:
    """The EKS records the configuration asks for at the workspace's module release (see the module docstring)."""
    namespace = workspace.inputs.namespace
    version = str(workspace.variables.get("eks_cluster_version") or "default")
    base = _app_eks(workspace)
    v20 = workspace.aws_module.major >= V20_FROM_MAJOR
    role_prefix = f"{namespace}-cluster-" if replace_cluster else namespace
    records = [
        _record(base, "module.eks.aws_eks_cluster.this[0]", {
            "name": namespace, "version": version, "role_name_prefix": role_prefix,
            "tags": {"terraform-aws-modules": "eks"} if v20 else {},
        }),
        _record(base, f"module.eks.aws_iam_role.{'this' if v20 else 'cluster'}[0]", {
            "name_prefix": role_prefix, "assume_role_actions": ["sts:AssumeRole", "sts:TagSession"] if v20 else [
                "sts:AssumeRole"
            ],
        }),
        _record(base, "module.eks.aws_security_group.cluster[0]", {
            "name_prefix": namespace, "description": "EKS cluster security group.",
        }),
    ]  # fmt: skip
    if not v20:
        records += [
            _record(base, "module.eks.aws_security_group_rule.cluster_https_worker_ingress[0]", {
                "source_security_group": "workers",
            }),
            _record(base, "module.eks.aws_iam_role.workers[0]", {"name_prefix": f"{namespace}-workers"}),
            _record(base, "module.eks.aws_security_group.workers[0]", {"name_prefix": f"{namespace}-workers"}),
            _record(base, "module.eks.kubernetes_config_map.aws_auth[0]", {
                "name": "aws-auth", "namespace": "kube-system", "labels": {"app.kubernetes.io/managed-by": "Terraform"},
            }, KUBERNETES_PROVIDER),
        ]  # fmt: skip
        for key in NODE_GROUP_KEYS:
            prefix = f"{namespace}-{key}"  # v17: no separator before the random suffix
            records += [
                _record(base, f'module.eks.module.node_groups.aws_eks_node_group.workers["{key}"]', {
                    "name_prefix": prefix, "version": version, "ami_type": "AL2_x86_64",
                }),
                _record(base, f'module.eks.module.node_groups.aws_launch_template.workers["{key}"]', {
                    "name_prefix": prefix,
                }),
            ]  # fmt: skip
        return records
    records += [
        _record(base, 'module.eks.aws_security_group_rule.cluster["ingress_nodes_443"]', {
            "source_security_group": "node",
        }),
        _record(base, "module.eks.aws_security_group.node[0]", {"name_prefix": f"{namespace}-node"}),
        _record(base, "module.eks.time_sleep.this[0]", {"cluster_version": version}, TIME_PROVIDER),
    ]  # fmt: skip
    for key in NODE_GROUP_KEYS:
        prefix = f"{namespace}-{key}-"  # v20 hardcodes a "-" separator in name_prefix (ForceNew)
        records += [
            _record(base, f'module.eks.module.eks_managed_node_group["{key}"].aws_eks_node_group.this[0]', {
                "name_prefix": prefix, "version": version, "ami_type": "AL2023_x86_64_STANDARD",
            }),
            _record(base, f'module.eks.module.eks_managed_node_group["{key}"].aws_launch_template.this[0]', {
                "name_prefix": prefix,
            }),
        ]  # fmt: skip
    if _truthy(workspace.variables.get("preserve_aws_auth_configmap")):
        records.append(
            _record(base, "kubernetes_config_map.aws_auth_legacy[0]", {
                "name": "aws-auth", "namespace": "kube-system", "labels": {},
            }, KUBERNETES_PROVIDER)
        )  # fmt: skip
    if not _truthy(workspace.variables.get("kubernetes_legacy_cluster_creator_admin")):
        records += [
            _record(base, 'module.eks.aws_eks_access_entry.this["cluster_creator"]', {"type": "STANDARD"}),
            _record(base, 'module.eks.aws_eks_access_policy_association.this["cluster_creator_admin"]', {
                "policy_arn": "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy",
            }),
        ]  # fmt: skip
    return records


def apply_moves(workspace: Workspace, refreshed: dict[str, ResourceRecord], desired: set[str]) -> None:
    """Terraform's `moved {}`: a state object at a `from` address is planned at its `to` address when the
    configuration declares that address (and nothing is in state there yet)."""
    if workspace.aws_module.major < V20_FROM_MAJOR:
        return
    for source, target in _moved(workspace).items():
        if source in refreshed and target in desired and target not in refreshed:
            moved = refreshed.pop(source)
            refreshed[target] = next(
                r for r in desired_eks_resources(workspace) if r.address == target
            ).with_attributes(moved.attributes)
