"""The upgrade guards applied to every change of the desired config (a push, a hand edit), compared with the config
last applied: the same rules as an `Upgrade Requested` event, with deployer/allow_downgrade as its `force`."""

from __future__ import annotations

from typing import Any

import pytest

from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.upgrade.guards import guard_config_change

pytestmark = pytest.mark.unit

APPLIED = {
    "deployer/generation": "operator",
    "deployer/module_version": "8.0.0",
    "deployer/terraform_version": "1.10.5",
    "infra/eks_cluster_version": "1.34",
    "infra/size": "small",
}
LEGACY_APPLIED = {
    "deployer/generation": "legacy",
    "deployer/module_version": "2.8.0",
    "deployer/terraform_version": "1.10.5",
    "infra/eks_cluster_version": "1.33",
    "app/wandb_version": "0.51.2",
}


def desired(
    *, generation: str = "operator", module: str = "8.0.0", terraform: str = "1.10.5", eks: str = "1.34", **more: Any
) -> DeploymentConfig:
    return DeploymentConfig(
        deployment="prod",
        deployer=DeployerSettings(generation=generation, module_version=module, terraform_version=terraform),  # type: ignore[arg-type]
        infra={"eks_cluster_version": eks, "size": more.pop("size", "small")},
        app=more.pop("app", {}),
    )


def test_an_unchanged_or_upgraded_config_passes() -> None:
    assert guard_config_change(APPLIED, desired()) == []
    assert guard_config_change(APPLIED, desired(size="medium")) == []
    assert guard_config_change(APPLIED, desired(eks="1.35")) == []
    assert guard_config_change(APPLIED, desired(terraform="1.10.6")) == []


def test_eks_goes_back_never_and_forward_one_minor_at_a_time_whatever_the_allowance() -> None:
    # The case: an upgrade applied EKS 1.34, then the unchanged file (1.33) was pushed.
    (back,) = guard_config_change(APPLIED, desired(eks="1.33"))
    assert back == "eks_cluster_version: EKS cannot be downgraded (1.34 -> 1.33), not even forced"
    assert guard_config_change(APPLIED, desired(eks="1.33"), allow_downgrade=True) == [back]
    (jump,) = guard_config_change(APPLIED, desired(eks="1.36"), allow_downgrade=True)
    assert "one minor version at a time: 1.34 -> 1.35 first, not 1.36" in jump


def test_a_version_downgrade_needs_the_one_shot_allowance() -> None:
    (reason,) = guard_config_change(APPLIED, desired(terraform="1.10.4"))
    assert reason.startswith("terraform_version: 1.10.4 is a downgrade from 1.10.5")
    assert "wbd config push --force" in reason and "deployer/allow_downgrade" in reason
    assert guard_config_change(APPLIED, desired(terraform="1.10.4"), allow_downgrade=True) == []


def test_a_module_major_moves_one_step_and_never_back() -> None:
    (back,) = guard_config_change(APPLIED, desired(module="7.4.0"), allow_downgrade=True)
    assert "major downgrade from 8.0.0" in back
    applied_6 = {**APPLIED, "deployer/module_version": "6.1.0"}
    (skip,) = guard_config_change(applied_6, desired(module="8.0.0"))
    assert "one major version at a time: 6.1.0 -> 7.x first" in skip


def test_every_violated_guard_is_reported_at_once() -> None:
    reasons = guard_config_change(APPLIED, desired(terraform="1.10.4", eks="1.33"))
    assert len(reasons) == 2


def test_the_legacy_wandb_version_is_guarded_too() -> None:
    legacy = desired(generation="legacy", module="2.8.0", eks="1.33", app={"wandb_version": "0.50.0"})
    (reason,) = guard_config_change(LEGACY_APPLIED, legacy)
    assert reason.startswith("wandb_version: 0.50.0 is a downgrade from 0.51.2")
    assert guard_config_change(LEGACY_APPLIED, legacy, allow_downgrade=True) == []


def test_the_migration_between_generations_is_left_to_its_approval_gate() -> None:
    # legacy 2.8.0 -> operator 8.0.0 is W&B's documented migration (it always stops at the approval gate)
    migrated = desired(module="8.0.0", eks="1.33")
    assert guard_config_change(LEGACY_APPLIED, migrated) == []
    # its other versions are still guarded
    assert guard_config_change(LEGACY_APPLIED, desired(module="8.0.0", eks="1.32"))


def test_an_applied_config_it_cannot_read_back_is_not_compared() -> None:
    assert guard_config_change({"deployer/generation": "nonsense"}, desired(eks="1.20")) == []
    assert guard_config_change({}, desired()) == []
