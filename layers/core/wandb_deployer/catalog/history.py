"""What is known about inputs that exist only in some module versions (read from the modules' sources and changelogs).

The shipped catalogs cover a few releases only; these lifetimes correct a neighbouring catalog for the versions between
them, and give the reason when a user sets an input that does not exist at their version.
"""

from __future__ import annotations

from typing import NamedTuple

_AWS = "wandb/wandb/aws"


class InputLifetime(NamedTuple):
    """An input exists from `first` (inclusive) until `removed` (exclusive); None means unbounded on that side."""

    first: str | None
    removed: str | None
    note: str


def version_tuple(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in version.split("."))
    return major, minor, patch


def exists_at(lifetime: InputLifetime, version: str) -> bool:
    wanted = version_tuple(version)
    if lifetime.first is not None and wanted < version_tuple(lifetime.first):
        return False
    return not (lifetime.removed is not None and wanted >= version_tuple(lifetime.removed))


_NEVER = "0.0.0"

INPUT_LIFETIMES: dict[tuple[str, str], InputLifetime] = {
    (_AWS, "create_elasticache_subnet"): InputLifetime(
        _NEVER,
        _NEVER,
        "never an input of any wandb/wandb/aws release (the W&B docs' snippet is wrong); "
        "the input is create_elasticache (default true)",
    ),
    (_AWS, "wandb_version"): InputLifetime(
        _NEVER,
        _NEVER,
        "an input of the kubernetes app module only (legacy generation: app/wandb_version); in the operator "
        "generation the W&B version comes from W&B's release channel unless pinned in the W&B System Console",
    ),
    (_AWS, "license"): InputLifetime(
        "4.0.0",
        None,
        "not an input of wandb/wandb/aws before 4.0.0: in the legacy generation the license belongs to the "
        "kubernetes app module (the SecureString app/license)",
    ),
    (_AWS, "enable_dummy_dns"): InputLifetime(
        "4.1.0", "5.0.0", "exists only in wandb/wandb/aws 4.1.0 - 4.24.0 (removed in 5.0.0)"
    ),
    (_AWS, "enable_operator_alb"): InputLifetime(
        "4.1.0", "5.0.0", "exists only in wandb/wandb/aws 4.1.0 - 4.24.0 (removed in 5.0.0)"
    ),
    (_AWS, "size"): InputLifetime("4.3.0", None, "exists from wandb/wandb/aws 4.3.0"),
    (_AWS, "create_bucket"): InputLifetime(
        None, "7.0.0", "removed in wandb/wandb/aws 7.0.0 (the default bucket is always created)"
    ),
    (_AWS, "kubernetes_legacy_cluster_creator_admin"): InputLifetime(
        "8.0.0", None, "exists from wandb/wandb/aws 8.0.0"
    ),
}

# Inputs that became required (lost their default) in a later release than the catalog that serves a version.
REQUIRED_FROM: dict[tuple[str, str], str] = {
    (_AWS, "eks_cluster_version"): "2.1.0",
}
