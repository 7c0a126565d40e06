"""Which changes are destructive: they lose data or W&B itself, or they change who may reach what.

A destructive change needs a human approval under the `destructive` policy, and a drift remediation under
`remediate-safe` refuses it:
- deleting or replacing what holds data or identity cannot be undone by the next apply: a database, a bucket, a KMS
  key (and everything encrypted with it), the cluster, a file system, the cache, W&B's DNS name, the queue of file
  events, the TLS certificate, a secret, W&B itself (its Helm release and Kubernetes objects);
- deleting, replacing or changing in place what controls access (IAM, security groups, bucket policies and public
  access blocks, queue policies) or retention (lifecycle rules) can open W&B's data to others or expire it; an
  in-place update that changes only tags is not destructive.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

ChangeAction = Literal["create", "update", "delete", "replace"]

# resource type -> what a delete or replace would lose
DATA_HOLDING_TYPES: dict[str, str] = {
    "aws_rds_cluster": "database",
    "aws_rds_cluster_instance": "database",
    "aws_db_instance": "database",
    "aws_s3_bucket": "object storage",
    "aws_kms_key": "encryption key",
    "aws_eks_cluster": "kubernetes cluster",
    "aws_eks_node_group": "kubernetes nodes",
    "aws_efs_file_system": "file system",
    "aws_route53_record": "dns record",
    "aws_sqs_queue": "queued file events",
    "aws_acm_certificate": "tls certificate",
    "aws_acm_certificate_validation": "tls certificate",
    "helm_release": "W&B itself",
}
# resource type prefix -> what a delete or replace would lose
DATA_HOLDING_PREFIXES: dict[str, str] = {
    "aws_elasticache_": "cache",
    "aws_secretsmanager_secret": "secret",
    "kubernetes_": "W&B itself",
}
# resource type -> the access or retention it controls: a delete, a replace or an update (beyond tags) is destructive
ACCESS_CONTROL_TYPES: dict[str, str] = {
    "aws_s3_bucket_policy": "bucket access",
    "aws_s3_bucket_public_access_block": "bucket access",
    "aws_s3_account_public_access_block": "bucket access",
    "aws_s3_bucket_acl": "bucket access",
    "aws_s3_bucket_lifecycle_configuration": "object retention",
    "aws_sqs_queue_policy": "queue access",
    "aws_kms_key_policy": "key access",
    "aws_security_group": "network access",
}
ACCESS_CONTROL_PREFIXES: dict[str, str] = {
    "aws_iam_": "identity and access",
    "aws_security_group_": "network access",
    "aws_vpc_security_group_": "network access",
    "aws_eks_access_": "cluster access",
}
# Attributes whose change alone leaves access and data as they were.
TAG_ATTRIBUTES = frozenset({"tags", "tags_all"})

_REPLACE_ORDERS = (("delete", "create"), ("create", "delete"))
_SINGLE_ACTIONS: dict[str, ChangeAction] = {"create": "create", "update": "update", "delete": "delete"}


def change_action(actions: Sequence[str]) -> ChangeAction | None:
    """The kind of change Terraform's `change.actions` list means; None for no-op, read and forget."""
    if tuple(actions) in _REPLACE_ORDERS:
        return "replace"
    if len(actions) == 1:
        return _SINGLE_ACTIONS.get(actions[0])
    return None


def _lookup(resource_type: str, exact: dict[str, str], prefixes: dict[str, str]) -> str | None:
    if resource_type in exact:
        return exact[resource_type]
    for prefix, held in prefixes.items():
        if resource_type.startswith(prefix):
            return held
    return None


def access_controlled_by(resource_type: str) -> str | None:
    """The access or retention a resource of this type controls (for example "bucket access"), or None."""
    return _lookup(resource_type, ACCESS_CONTROL_TYPES, ACCESS_CONTROL_PREFIXES)


def data_held_by(resource_type: str) -> str | None:
    """What losing a resource of this type loses (for example "database"), or None when it loses nothing."""
    return _lookup(resource_type, DATA_HOLDING_TYPES, DATA_HOLDING_PREFIXES) or access_controlled_by(resource_type)


def is_destructive(
    resource_type: str, action: ChangeAction | None, changed_attributes: Iterable[str] | None = None
) -> bool:
    """A delete or replace of a resource that holds data, identity or access, or an in-place update of one that
    controls access or retention. `changed_attributes` (when known) lets an update of tags alone pass."""
    if action in ("delete", "replace"):
        return data_held_by(resource_type) is not None
    if action != "update" or access_controlled_by(resource_type) is None:
        return False
    if changed_attributes is None:
        return True  # unknown: assume it changes access
    return bool(set(changed_attributes) - TAG_ATTRIBUTES)
