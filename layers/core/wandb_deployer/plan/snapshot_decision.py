"""Which runs take a database snapshot before they apply: those whose change is risky for W&B's data.

A run is risky when its config changes a version against the config last applied (the W&B version, the module
versions, the EKS version, the generation), or when its plan deletes or replaces the database (a cluster, a cluster
instance, a DB instance). The snapshot is of the Aurora cluster the plan names: its `cluster_identifier` before the
change, the one field of the plan's values the stored plan keeps (see terraform_build/planfiles.py). A plan without an
existing cluster (a first install) has nothing to snapshot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

# Config snapshot keys (`<section>/<key>`) whose change makes a run risky.
RISKY_VERSION_KEYS = (
    "app/wandb_version",
    "deployer/module_version",
    "deployer/app_module_version",
    "deployer/generation",
    "infra/eks_cluster_version",
)
DATABASE_TYPES = frozenset({"aws_rds_cluster", "aws_rds_cluster_instance", "aws_db_instance"})
SNAPSHOT_CLUSTER_TYPE = "aws_rds_cluster"
_RISKY_ACTIONS = frozenset({"delete", "replace"})
_NOT_IN_IDENTIFIER = re.compile(r"[^a-z0-9]+")
MAX_SNAPSHOT_IDENTIFIER = 255


class SnapshotDecision(BaseModel):
    """Why a snapshot is taken (empty: the run is not risky) and of which clusters (empty: nothing to snapshot)."""

    model_config = ConfigDict(frozen=True)

    reasons: list[str] = Field(default_factory=list)
    clusters: list[str] = Field(default_factory=list)

    @property
    def required(self) -> bool:
        return bool(self.reasons) and bool(self.clusters)


class DatabaseChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    type: str
    action: str


def version_changes(applied: Mapping[str, str] | None, desired: Mapping[str, str]) -> list[str]:
    """The risky version keys whose value differs between the config last applied and the desired one; none when
    nothing was applied yet (a first install has no data to lose) or the applied config is unknown."""
    if applied is None:
        return []
    return [key for key in RISKY_VERSION_KEYS if applied.get(key) != desired.get(key)]


def decide_snapshot(
    *,
    has_changes: bool,
    version_keys: Sequence[str],
    destructive: Iterable[DatabaseChange],
    clusters: Sequence[str],
) -> SnapshotDecision:
    """The reasons a plan is risky for the database, and the existing clusters to snapshot; nothing without changes."""
    if not has_changes:
        return SnapshotDecision()
    reasons = [f"{key} changes" for key in version_keys]
    reasons += [
        f"{change.action} of {change.address}"
        for change in destructive
        if change.type in DATABASE_TYPES and change.action in _RISKY_ACTIONS
    ]
    return SnapshotDecision(reasons=reasons, clusters=sorted(set(clusters)))


def snapshot_identifier(deployment: str, run: str, cluster: str = "") -> str:
    """`wbd-<deployment>-<run>` (and the cluster when a plan has several) as RDS allows a snapshot identifier: letters,
    digits and single hyphens, a letter first, no hyphen last, at most 255 characters."""
    parts = ["wbd", deployment, run] + ([cluster] if cluster else [])
    text = _NOT_IN_IDENTIFIER.sub("-", "-".join(parts).lower()).strip("-")
    return text[:MAX_SNAPSHOT_IDENTIFIER].rstrip("-")
