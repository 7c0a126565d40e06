"""The upgrade guards at their edges: the first operator major, Terraform 1.9 from module 6, one step exactly, values
that are not versions; and the whole plan an accepted upgrade returns (writes in order, previous values, notes)."""

from __future__ import annotations

import pytest

from tests.unit.upgrade.test_guards import config, rejected, upgrade, writes
from wandb_deployer.upgrade.guards import MIGRATION_GUIDE, ParameterWrite, UpgradePlan

pytestmark = pytest.mark.unit


# --- generations: 4.x is the first operator major ------------------------------------------------------------------


def test_legacy_3x_to_4_0_0_is_the_migration_not_an_upgrade():
    # One major step that lands exactly on the first operator major, with a minor below 4.
    [reason] = rejected(config(generation="legacy", module="3.4.0"), module_version="4.0.0")
    assert reason == (
        "module_version: 3.4.0 -> 4.0.0 is the legacy -> operator migration, not an upgrade: "
        f"follow the migration procedure ({MIGRATION_GUIDE})"
    )


def test_legacy_stays_below_4_and_operator_starts_at_4():
    assert writes(upgrade(config(generation="legacy", module="3.0.0"), module_version="3.9.0")) == {
        "deployer/module_version": "3.9.0"
    }
    assert writes(upgrade(config(module="4.0.0"), module_version="4.1.0")) == {"deployer/module_version": "4.1.0"}
    [reason] = rejected(config(module="4.0.0"), module_version="3.9.9", force=True)
    assert reason == "module_version: the operator generation needs module 4.x or later, not 3.9.9"


# --- module majors: one at a time, never down ------------------------------------------------------------------------


def test_major_downgrade_and_major_skip_say_what_to_do():
    [down] = rejected(config(module="8.0.0"), module_version="7.9.9", force=True)
    [skip] = rejected(config(module="5.2.0"), module_version="7.0.0")
    assert down == (
        "module_version: 7.9.9 is a major downgrade from 8.0.0; a module cannot read state written by a newer major "
        "(applying a module older than 7.x to 7.x state may delete the bucket)"
    )
    assert skip == (
        "module_version: one major version at a time: 5.2.0 -> 6.x first (each major has its own upgrade guide), "
        "not 7.0.0"
    )


def test_a_patch_upgrade_and_a_minor_downgrade_compare_the_whole_version():
    assert writes(upgrade(config(module="8.1.2"), module_version="8.1.3")) == {"deployer/module_version": "8.1.3"}
    [reason] = rejected(config(module="8.1.2"), module_version="8.0.9")
    assert reason == "module_version: 8.0.9 is a downgrade from 8.1.2 (send force=true to allow it)"


# --- Terraform >= 1.9 from module 6 ----------------------------------------------------------------------------------


def test_a_terraform_only_request_keeps_module_6_on_terraform_1_9():
    # The module is already 6.x; the request names only a Terraform version, still below 1.9.
    [reason] = rejected(config(module="6.1.0", terraform="1.8.0"), terraform_version="1.8.5")
    assert reason == (
        "module 6.1.0 (6.x and later) requires Terraform >= 1.9, but terraform_version is 1.8.5: "
        "request terraform_version too"
    )


@pytest.mark.parametrize(
    ("module", "terraform", "accepted"),
    [("6.0.0", "1.9.0", True), ("6.0.0", "1.8.9", False), ("5.9.9", "1.5.7", True)],
)
def test_terraform_1_9_is_the_boundary_and_module_6_the_first_that_needs_it(module, terraform, accepted):
    current = config(module="5.0.0" if module.startswith("5") else "5.2.0", terraform="1.5.0")
    request = {"module_version": module, "terraform_version": terraform}
    if accepted:
        assert writes(upgrade(current, **request)) == {
            "deployer/terraform_version": terraform,
            "deployer/module_version": module,
        }
    else:
        [reason] = rejected(current, **request)
        assert reason.startswith(f"module {module} (6.x and later) requires Terraform >= 1.9")


def test_a_request_without_module_or_terraform_does_not_judge_the_toolchain():
    # An old pairing already in place is not this request's business: an EKS step alone is accepted.
    plan = upgrade(config(module="6.0.0", terraform="1.5.7", eks="1.30"), eks_cluster_version="1.31")
    assert writes(plan) == {"infra/eks_cluster_version": "1.31"}


# --- EKS -------------------------------------------------------------------------------------------------------------


def test_eks_messages_name_the_next_step():
    [two] = rejected(config(eks="1.29"), eks_cluster_version="1.31")
    [down] = rejected(config(eks="1.31"), eks_cluster_version="1.29", force=True)
    assert two == "eks_cluster_version: EKS upgrades one minor version at a time: 1.29 -> 1.30 first, not 1.31"
    assert down == "eks_cluster_version: EKS cannot be downgraded (1.31 -> 1.29), not even forced"


def test_the_same_eks_version_is_a_note_and_no_write():
    plan = upgrade(config(eks="1.30"), eks_cluster_version="1.30")
    assert plan.writes == []
    assert plan.notes == [
        "eks_cluster_version is already 1.30",
        "nothing to change: every requested version is already current",
    ]


@pytest.mark.parametrize("current", [None, "", "1.30.1", "latest"])
def test_an_eks_version_that_was_not_set_as_one_is_replaced_with_a_note(current):
    infra = {} if current is None else {"eks_cluster_version": current}
    plan = upgrade(config(eks=None, infra=infra), eks_cluster_version="1.33")
    assert plan.writes == [
        ParameterWrite(name="infra/eks_cluster_version", value="1.33", previous=current if current else None)
    ]
    assert plan.notes == ["infra/eks_cluster_version was not set explicitly; the module's default was in use"]


# --- wandb_version (legacy) ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("current", ["latest", "0.58", "v0.58.1"])
def test_a_non_semantic_current_wandb_version_is_replaced_with_a_note(current):
    plan = upgrade(config(generation="legacy", module="2.8.0", app={"wandb_version": current}), wandb_version="0.60.0")
    assert plan.writes == [ParameterWrite(name="app/wandb_version", value="0.60.0", previous=None)]
    assert plan.notes == [f"current wandb_version {current!r} is not semantic; replaced"]


@pytest.mark.parametrize("app", [{}, {"wandb_version": ""}, {"wandb_version": None}])
def test_a_first_wandb_version_is_written_without_a_note(app):
    plan = upgrade(config(generation="legacy", module="2.8.0", app=app), wandb_version="0.60.0")
    assert plan.writes == [ParameterWrite(name="app/wandb_version", value="0.60.0", previous=None)]
    assert plan.notes == []


def test_wandb_version_in_the_operator_generation_says_where_the_version_comes_from():
    [reason] = rejected(config(module="8.0.0"), wandb_version="0.60.0")
    assert reason == (
        "wandb_version: the operator generation takes the W&B version from W&B's release channel "
        "(pin it in the W&B System Console); wandb_version applies to the legacy generation only"
    )


def test_a_forced_wandb_downgrade_is_written_with_a_note():
    current = config(generation="legacy", module="2.8.0", app={"wandb_version": "0.60.0"})
    plan = upgrade(current, wandb_version="0.58.1", force=True)
    assert plan.writes == [ParameterWrite(name="app/wandb_version", value="0.58.1", previous="0.60.0")]
    assert plan.notes == ["wandb_version: forced downgrade from 0.60.0 to 0.58.1"]
    assert plan.forced is True


# --- 7.x -> 8.x ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("already", "previous"), [(False, "false"), ("false", "false"), (None, None)])
def test_7_to_8_sets_the_creator_admin_flag_unless_it_is_true(already, previous):
    infra = {} if already is None else {"kubernetes_legacy_cluster_creator_admin": already}
    plan = upgrade(config(module="7.4.0", infra=infra), module_version="8.0.0")
    assert plan.writes == [
        ParameterWrite(name="infra/kubernetes_legacy_cluster_creator_admin", value="true", previous=previous),
        ParameterWrite(name="deployer/module_version", value="8.0.0", previous="7.4.0"),
    ]
    assert plan.notes == [
        "7.x -> 8.x: kubernetes_legacy_cluster_creator_admin = true keeps the cluster creator's admin access"
    ]


@pytest.mark.parametrize("already", [True, "true", "True"])
def test_7_to_8_leaves_a_true_flag_alone(already):
    plan = upgrade(
        config(module="7.4.0", infra={"kubernetes_legacy_cluster_creator_admin": already}), module_version="8.1.0"
    )
    assert [write.name for write in plan.writes] == ["deployer/module_version"]


@pytest.mark.parametrize(("current", "wanted"), [("6.3.0", "7.0.0"), ("8.0.0", "8.1.0"), ("8.2.0", "9.0.0")])
def test_only_7_to_8_touches_the_creator_admin_flag(current, wanted):
    plan = upgrade(config(module=current, terraform="1.10.0"), module_version=wanted)
    assert [write.name for write in plan.writes] == ["deployer/module_version"]
    assert plan.notes == []


# --- the whole plan ------------------------------------------------------------------------------------------------


def test_an_accepted_upgrade_returns_every_write_in_the_safe_order_with_previous_values():
    current = config(module="7.4.0", terraform="1.9.8", eks="1.30")
    plan = upgrade(current, module_version="8.0.0", terraform_version="1.10.5", eks_cluster_version="1.31")
    assert plan == UpgradePlan(
        deployment="prod",
        requested_by="alice",
        forced=False,
        writes=[
            ParameterWrite(name="deployer/terraform_version", value="1.10.5", previous="1.9.8"),
            ParameterWrite(name="infra/eks_cluster_version", value="1.31", previous="1.30"),
            ParameterWrite(name="infra/kubernetes_legacy_cluster_creator_admin", value="true", previous=None),
            ParameterWrite(name="deployer/module_version", value="8.0.0", previous="7.4.0"),
        ],
        notes=["7.x -> 8.x: kubernetes_legacy_cluster_creator_admin = true keeps the cluster creator's admin access"],
    )


def test_a_legacy_upgrade_writes_the_app_version_before_the_module():
    current = config(generation="legacy", module="2.8.0", terraform="1.5.7", eks="1.29", app={"wandb_version": "0.1.0"})
    plan = upgrade(
        current, module_version="3.0.0", terraform_version="1.6.0", eks_cluster_version="1.30", wandb_version="0.2.0"
    )
    assert [write.name for write in plan.writes] == [
        "deployer/terraform_version",
        "infra/eks_cluster_version",
        "app/wandb_version",
        "deployer/module_version",
    ]


def test_a_request_for_another_deployment_is_rejected():
    current = config().model_copy(update={"deployment": "staging"})
    [reason] = rejected(current, module_version="7.5.0")
    assert reason == "request is for 'prod' but the config is of 'staging'"


def test_the_same_module_and_terraform_are_notes():
    plan = upgrade(config(module="8.0.0", terraform="1.10.0"), module_version="8.0.0", terraform_version="1.10.0")
    assert plan.writes == []
    assert plan.notes == [
        "terraform_version is already 1.10.0",
        "module_version is already 8.0.0",
        "nothing to change: every requested version is already current",
    ]
