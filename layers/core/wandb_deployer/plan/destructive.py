"""Which resource types hold data or identity, so that deleting or replacing one is a destructive change.

A destructive change on one of these needs a human approval under the `destructive` policy: losing a database, a
bucket, a KMS key (and everything encrypted with it), the cluster, a file system, the cache or the DNS name of W&B
cannot be undone by the next apply.
"""

from __future__ import annotations

from collections.abc import Sequence
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
}
# resource type prefix -> what a delete or replace would lose
DATA_HOLDING_PREFIXES: dict[str, str] = {
    "aws_elasticache_": "cache",
}

_REPLACE_ORDERS = (("delete", "create"), ("create", "delete"))
_SINGLE_ACTIONS: dict[str, ChangeAction] = {"create": "create", "update": "update", "delete": "delete"}


def change_action(actions: Sequence[str]) -> ChangeAction | None:
    """The kind of change Terraform's `change.actions` list means; None for no-op, read and forget."""
    if tuple(actions) in _REPLACE_ORDERS:
        return "replace"
    if len(actions) == 1:
        return _SINGLE_ACTIONS.get(actions[0])
    return None


def data_held_by(resource_type: str) -> str | None:
    """What a resource of this type holds (for example "database"), or None when losing it loses no data."""
    if resource_type in DATA_HOLDING_TYPES:
        return DATA_HOLDING_TYPES[resource_type]
    for prefix, held in DATA_HOLDING_PREFIXES.items():
        if resource_type.startswith(prefix):
            return held
    return None


def is_destructive(resource_type: str, action: ChangeAction | None) -> bool:
    """A delete or replace of a resource that holds data or identity."""
    return action in ("delete", "replace") and data_held_by(resource_type) is not None
