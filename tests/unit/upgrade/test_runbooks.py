"""Runbooks of the documented transitions: their steps, transition-only variables (checked against the module
contract at each step's release), and the requests they refuse."""

from __future__ import annotations

import fnmatch
from typing import Any

import pytest

from wandb_deployer.contract import AWS_MODULE, contract_for
from wandb_deployer.errors import UpgradeRejectedError
from wandb_deployer.upgrade import runbook_data as data
from wandb_deployer.upgrade import runbooks
from wandb_deployer.upgrade.guards import UpgradeRequest
from wandb_deployer.upgrade.runbooks import (
    STEP_DELETES,
    STEP_PUTS,
    ParameterChange,
    Runbook,
    crosses_transition,
    license_staging,
    runbook_for,
    step_deletes,
    step_variables,
    step_writes,
)

from .test_guards import config

pytestmark = pytest.mark.unit


def request(**fields: Any) -> UpgradeRequest:
    return UpgradeRequest(deployment="prod", requested_by="alice", **fields)


def changes(runbook: Runbook, step: int) -> dict[str, str | None]:
    return {c.name: c.value if c.staged_from is None else f"<- {c.staged_from}" for c in runbook.steps[step].changes}


def v8_runbook(**fields: Any) -> Runbook:
    found = runbook_for(request(module_version="8.0.0", **fields), config(module="7.18.2", eks="1.32"))
    assert found is not None
    return found


def test_v7_to_v8_is_the_guides_sequence_module_then_eks_then_retire_aws_auth() -> None:
    runbook = v8_runbook(eks_cluster_version="1.33")
    assert runbook.transition == "v7-to-v8"
    assert [s.name for s in runbook.steps] == ["module", "eks-1.33", "retire-aws-auth"]
    assert changes(runbook, 0) == {
        "infra/kubernetes_legacy_cluster_creator_admin": "true",
        "infra/preserve_aws_auth_configmap": "true",
        "deployer/module_version": "8.0.0",
    }
    assert changes(runbook, 1) == {"infra/eks_cluster_version": "1.33"}  # EKS never moves with the module
    assert changes(runbook, 2) == {"infra/preserve_aws_auth_configmap": None}  # back to the module's default
    assert [c.kind for c in runbook.steps[0].preflight] == ["ec2-vcpu-quota", "subnet-free-ips"]
    assert runbook.steps[0].rules == data.V8_MODULE_STEP_RULES
    assert runbook.steps[1].rules == data.V8_EKS_STEP_RULES
    assert runbook.steps[2].rules == data.V8_RETIRE_AWS_AUTH_RULES


def test_v7_to_v8_without_eks_has_two_steps_and_keeps_terraform_in_the_module_step() -> None:
    runbook = v8_runbook(terraform_version="1.10.5")
    assert [s.name for s in runbook.steps] == ["module", "retire-aws-auth"]
    assert changes(runbook, 0)["deployer/terraform_version"] == "1.10.5"
    assert list(changes(runbook, 0))[-1] == "deployer/module_version"  # the module moves last


def test_the_reset_default_of_preserve_aws_auth_is_false_in_the_contract() -> None:
    variable = contract_for(AWS_MODULE).release("8.0.0").get("preserve_aws_auth_configmap")
    assert variable is not None and variable.default is False and not variable.required


def test_v7_to_v8_keeps_the_ordinary_guards() -> None:
    with pytest.raises(UpgradeRejectedError) as raised:
        v8_runbook(eks_cluster_version="1.34")
    assert any("one minor version at a time" in reason for reason in raised.value.reasons)


def test_ordinary_upgrades_have_no_runbook() -> None:
    assert runbook_for(request(module_version="7.18.2"), config(module="7.4.0")) is None
    assert runbook_for(request(eks_cluster_version="1.31"), config(module="7.18.2")) is None
    assert crosses_transition(request(module_version="6.0.0"), config(module="5.0.0")) is None


def legacy(**infra: Any) -> Any:
    """A legacy deployment whose license `wbd upgrade` has staged for the operator migration."""
    return config(
        generation="legacy", module="2.8.0", eks="1.29", infra=infra, app={"wandb_version": "0.51.2", "host": "x"}
    ).model_copy(update={"secret_versions": {"app/license": 3, "infra/license": 1}})


def test_the_operator_migration_needs_the_license_staged_and_names_how() -> None:
    unstaged = legacy().model_copy(update={"secret_versions": {"app/license": 3}})
    assert license_staging(request(module_version="4.7.2"), unstaged) == ("app/license", "infra/license")
    assert license_staging(request(module_version="4.7.2"), legacy()) is None
    assert license_staging(request(module_version="3.4.0"), unstaged) is None  # a legacy upgrade: no migration
    assert license_staging(request(module_version="7.18.2"), config(module="7.4.0")) is None
    with pytest.raises(UpgradeRejectedError) as raised:
        runbook_for(request(module_version="4.7.2"), unstaged)
    assert [r for r in raised.value.reasons if r.startswith("infra/license:")] == [
        "infra/license: the migration moves the license to the aws module and the deployer never reads it: stage "
        "it first (`wbd upgrade prod --module-version 4.7.2` copies app/license to infra/license with your "
        "credentials), or copy it yourself as a SecureString"
    ]


def test_every_runbook_writes_only_what_the_step_writers_are_granted() -> None:
    """The template grants the step writers exactly STEP_PUTS / STEP_DELETES (tests/unit/template); a step outside
    them is refused before anything is written."""
    for found in (v8_runbook(), runbook_for(request(module_version="4.7.2"), legacy())):
        assert found is not None
        for step in found.steps:
            assert all(any(fnmatch.fnmatchcase(n, p) for p in STEP_PUTS) for n in step_writes(step)), step.name
            assert all(any(fnmatch.fnmatchcase(n, p) for p in STEP_DELETES) for n in step_deletes(step)), step.name
    migrate = runbook_for(request(module_version="4.7.2"), legacy())
    assert migrate is not None and "app/license" in step_deletes(migrate.steps[0])
    assert "infra/license" not in step_writes(migrate.steps[0])  # staged by the operator, never written by a step


def test_legacy_to_operator_sets_the_guides_transition_variables_and_drops_the_app_module() -> None:
    runbook = runbook_for(request(module_version="4.7.2"), legacy())
    assert runbook is not None and runbook.transition == "legacy-to-operator"
    assert [s.name for s in runbook.steps] == ["migrate"]
    assert changes(runbook, 0) == {
        "infra/license": "<- app/license",
        "infra/enable_dummy_dns": "true",
        "infra/enable_operator_alb": "true",
        "infra/size": "small",
        "app/host": None,
        "app/wandb_version": None,
        "deployer/app_module_version": None,
        "deployer/generation": "operator",
        "deployer/module_version": "4.7.2",
    }
    assert runbook.steps[0].rules == data.OPERATOR_MIGRATION_RULES


def test_legacy_to_operator_with_eks_moves_eks_in_a_run_of_its_own() -> None:
    runbook = runbook_for(request(module_version="4.7.2", eks_cluster_version="1.30"), legacy())
    assert runbook is not None
    assert [s.name for s in runbook.steps] == ["migrate", "eks-1.30"]
    assert "infra/eks_cluster_version" not in changes(runbook, 0)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"module_version": "5.0.0"}, "enable_dummy_dns is not an input of wandb/wandb/aws 5.0.0"),
        ({"module_version": "4.0.0"}, "enable_operator_alb is not an input of wandb/wandb/aws 4.0.0"),
        ({"module_version": "4.7.2", "wandb_version": "0.52.0"}, "release channel"),
        ({"module_version": "4.7.99"}, "is not a release"),
        ({"module_version": "4.7.2", "eks_cluster_version": "1.31"}, "one minor version at a time"),
    ],
)
def test_legacy_to_operator_refusals_name_the_reason(fields: dict[str, Any], says: str) -> None:
    with pytest.raises(UpgradeRejectedError) as raised:
        runbook_for(request(**fields), legacy())
    assert any(says in reason for reason in raised.value.reasons), raised.value.reasons


def test_an_infra_input_the_target_lacks_is_refused_before_migrating() -> None:
    with pytest.raises(UpgradeRejectedError) as raised:
        runbook_for(request(module_version="4.7.2"), legacy(create_elasticache_subnet=True))
    assert raised.value.reasons == [
        "infra/create_elasticache_subnet: not an input of wandb/wandb/aws 4.7.2; remove it before migrating"
    ]


@pytest.mark.parametrize(
    ("current", "wanted"),
    [
        (config(module="7.18.2", eks="1.32"), request(module_version="8.0.0", eks_cluster_version="1.33")),
        (legacy(), request(module_version="4.7.2", eks_cluster_version="1.30")),
    ],
)
def test_every_variable_a_step_sets_exists_at_the_steps_release(current: Any, wanted: UpgradeRequest) -> None:
    runbook = runbook_for(wanted, current)
    assert runbook is not None
    module = contract_for(AWS_MODULE)
    for step in runbook.steps:
        release = module.release(step.module_version)
        assert step_variables(step), step.name
        assert [name for name in step_variables(step) if name not in release] == [], step.name
    # the transition-only variables exist at the target and not before it: they are what the contract says
    before = module.release(runbook.from_module_version)
    first = set(step_variables(runbook.steps[0])) - {"license", "size"}
    assert first and not first & set(before.variables)


def test_a_step_that_would_write_what_the_step_writers_are_not_granted_is_refused() -> None:
    found = v8_runbook()
    step = found.steps[0].model_copy(
        update={
            "changes": (ParameterChange(name="deployer/approval", value="never"), ParameterChange(name="infra/vpc"))
        }
    )
    with pytest.raises(UpgradeRejectedError) as raised:
        runbooks._check_contract(found.model_copy(update={"steps": (step,)}))
    assert raised.value.reasons == [
        "runbook step module: deployer/approval: a runbook step may not write it (the deployer is not granted it)",
        "runbook step module: infra/vpc: a runbook step may not delete it (the deployer is not granted it)",
    ]
