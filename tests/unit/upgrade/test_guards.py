"""The upgrade guards: every guard with an accepted and a rejected case."""

from __future__ import annotations

from typing import Any

import pytest

from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.errors import UpgradeRejectedError
from wandb_deployer.upgrade.guards import UpgradePlan, UpgradeRequest, evaluate_upgrade
from wandb_deployer.upgrade.request import parse_upgrade_request

pytestmark = pytest.mark.unit


def config(
    *, generation="operator", module="7.4.0", terraform="1.9.8", eks: str | None = "1.30", **extra: Any
) -> DeploymentConfig:
    infra: dict[str, Any] = {"namespace": "wandb"}
    if eks is not None:
        infra["eks_cluster_version"] = eks
    infra.update(extra.pop("infra", {}))
    return DeploymentConfig(
        deployment="prod",
        deployer=DeployerSettings(generation=generation, module_version=module, terraform_version=terraform),
        infra=infra,
        app=extra.pop("app", {}),
    )


def upgrade(current: DeploymentConfig, **fields: Any) -> UpgradePlan:
    return evaluate_upgrade(UpgradeRequest(deployment="prod", requested_by="alice", **fields), current)


def writes(plan: UpgradePlan) -> dict[str, str]:
    return {write.name: write.value for write in plan.writes}


def rejected(current: DeploymentConfig, **fields: Any) -> list[str]:
    with pytest.raises(UpgradeRejectedError) as raised:
        upgrade(current, **fields)
    assert raised.value.deployment == "prod"
    return raised.value.reasons


# --- schema: semantic versions only ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"deployment": "prod", "module_version": "v8"}, "module_version"),
        ({"deployment": "prod", "module_version": "8.0"}, "module_version"),
        ({"deployment": "prod", "terraform_version": "latest"}, "terraform_version"),
        ({"deployment": "prod", "eks_cluster_version": "1.31.2"}, "eks_cluster_version"),
        ({"deployment": "prod", "wandb_version": "0.60"}, "wandb_version"),
        ({"deployment": "prod"}, "request"),
        ({"deployment": "Prod!", "module_version": "8.0.0"}, "deployment"),
        ({"deployment": "prod", "module_version": "8.0.0", "license": "x"}, "license"),
    ],
)
def test_malformed_requests_are_rejected_naming_the_field(detail, field):
    with pytest.raises(UpgradeRejectedError) as raised:
        parse_upgrade_request(detail)
    assert any(reason.startswith(field) for reason in raised.value.reasons), raised.value.reasons


def test_rejection_never_echoes_the_offending_value():
    with pytest.raises(UpgradeRejectedError) as raised:
        parse_upgrade_request({"deployment": "prod", "module_version": "8.0.0", "license": "SECRET-LICENSE-VALUE"})
    assert "SECRET-LICENSE-VALUE" not in str(raised.value)


def test_well_formed_request_is_parsed():
    request = parse_upgrade_request({"deployment": "prod", "module_version": "8.0.0", "force": True})
    assert request.module_version == "8.0.0" and request.force and request.requested_by == "unknown"


# --- downgrades -----------------------------------------------------------------------------------------------------


def test_minor_module_upgrade_is_accepted():
    assert writes(upgrade(config(module="8.0.0"), module_version="8.1.0")) == {"deployer/module_version": "8.1.0"}


def test_downgrade_is_rejected_without_force():
    [reason] = rejected(config(module="8.1.0"), module_version="8.0.0")
    assert "downgrade" in reason and "force" in reason


def test_downgrade_within_a_major_is_accepted_with_force():
    plan = upgrade(config(module="8.1.0"), module_version="8.0.0", force=True)
    assert writes(plan) == {"deployer/module_version": "8.0.0"}
    assert plan.forced and any("forced downgrade" in note for note in plan.notes)


def test_major_downgrade_is_rejected_even_with_force():
    [reason] = rejected(config(module="8.0.0"), module_version="7.4.0", force=True)
    assert "major downgrade" in reason


def test_terraform_downgrade_is_rejected_without_force():
    [reason] = rejected(config(module="8.0.0", terraform="1.10.0"), terraform_version="1.9.8")
    assert reason.startswith("terraform_version")
    assert writes(upgrade(config(module="8.0.0", terraform="1.10.0"), terraform_version="1.9.8", force=True))


def test_same_versions_write_nothing():
    plan = upgrade(config(module="8.0.0"), module_version="8.0.0", eks_cluster_version="1.30")
    assert plan.writes == []
    assert any("nothing to change" in note for note in plan.notes)


# --- EKS: one minor at a time, never down -----------------------------------------------------------------------------


def test_eks_one_minor_step_is_accepted():
    plan = upgrade(config(module="8.0.0", eks="1.30"), eks_cluster_version="1.31")
    assert writes(plan) == {"infra/eks_cluster_version": "1.31"}
    assert plan.writes[0].previous == "1.30"


def test_eks_two_minor_steps_are_rejected():
    [reason] = rejected(config(module="8.0.0", eks="1.30"), eks_cluster_version="1.32")
    assert "one minor version at a time" in reason and "1.31" in reason


def test_eks_downgrade_is_rejected_even_with_force():
    [reason] = rejected(config(module="8.0.0", eks="1.31"), eks_cluster_version="1.30", force=True)
    assert "cannot be downgraded" in reason


def test_eks_version_not_set_before_is_written_with_a_note():
    plan = upgrade(config(module="8.0.0", eks=None), eks_cluster_version="1.31")
    assert writes(plan) == {"infra/eks_cluster_version": "1.31"}
    assert plan.notes


# --- module majors ----------------------------------------------------------------------------------------------------


def test_one_major_step_is_accepted():
    assert writes(upgrade(config(module="5.2.0"), module_version="6.0.0")) == {"deployer/module_version": "6.0.0"}


def test_skipping_a_major_is_rejected():
    [reason] = rejected(config(module="5.2.0"), module_version="7.0.0")
    assert "one major version at a time" in reason and "6.x" in reason


def test_legacy_minor_major_step_is_accepted():
    current = config(generation="legacy", module="2.8.0")
    assert writes(upgrade(current, module_version="3.0.0")) == {"deployer/module_version": "3.0.0"}


def test_legacy_to_operator_via_an_upgrade_event_is_rejected():
    [reason] = rejected(config(generation="legacy", module="2.8.0"), module_version="4.7.2")
    assert "migration" in reason and "deployer/generation=operator" in reason


def test_operator_generation_cannot_go_below_4():
    [reason] = rejected(config(module="4.7.2"), module_version="3.0.0", force=True)
    assert "4.x or later" in reason


def test_7_to_8_writes_the_cluster_creator_admin_flag_before_the_module():
    plan = upgrade(config(module="7.4.0"), module_version="8.0.0")
    assert [write.name for write in plan.writes] == [
        "infra/kubernetes_legacy_cluster_creator_admin",
        "deployer/module_version",
    ]
    assert writes(plan)["infra/kubernetes_legacy_cluster_creator_admin"] == "true"


def test_7_to_8_with_the_flag_already_true_writes_only_the_module():
    current = config(module="7.4.0", infra={"kubernetes_legacy_cluster_creator_admin": True})
    assert writes(upgrade(current, module_version="8.0.0")) == {"deployer/module_version": "8.0.0"}


def test_module_6_needs_terraform_1_9():
    [reason] = rejected(config(module="5.2.0", terraform="1.5.7"), module_version="6.0.0")
    assert "Terraform >= 1.9" in reason


def test_module_6_with_terraform_1_9_requested_together_is_accepted():
    plan = upgrade(config(module="5.2.0", terraform="1.5.7"), module_version="6.0.0", terraform_version="1.9.8")
    assert [write.name for write in plan.writes] == ["deployer/terraform_version", "deployer/module_version"]


# --- wandb_version: legacy only ---------------------------------------------------------------------------------------


def test_wandb_version_is_rejected_in_the_operator_generation():
    [reason] = rejected(config(module="8.0.0"), wandb_version="0.60.0")
    assert "release channel" in reason


def test_wandb_version_upgrade_in_the_legacy_generation_is_accepted():
    current = config(generation="legacy", module="2.8.0", app={"wandb_version": "0.58.1"})
    plan = upgrade(current, wandb_version="0.60.0")
    assert writes(plan) == {"app/wandb_version": "0.60.0"}
    assert plan.writes[0].previous == "0.58.1"


def test_wandb_version_downgrade_in_the_legacy_generation_is_rejected():
    current = config(generation="legacy", module="2.8.0", app={"wandb_version": "0.60.0"})
    [reason] = rejected(current, wandb_version="0.58.1")
    assert reason.startswith("wandb_version") and "downgrade" in reason


def test_every_violated_guard_is_reported_at_once():
    reasons = rejected(
        config(module="5.2.0", eks="1.30"), eks_cluster_version="1.33", wandb_version="0.60.0", module_version="7.0.0"
    )
    assert len(reasons) == 3
