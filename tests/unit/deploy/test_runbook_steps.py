"""The workflow's steps for a runbook: the end of a step's run starts the next step (its parameters written) or stops
the runbook, and the run's notification names the step; the approval gate names it too."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.unit.deploy.conftest import ARTIFACTS, Deployer
from tests.unit.faults import recorded_calls
from tests.unit.runs.conftest import TABLE
from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.deploy.approval_step import request_approval
from wandb_deployer.deploy.record_step import record_and_notify
from wandb_deployer.states import ApprovalRequest, ChangeCounts, RecordRunInput, S3Pointer
from wandb_deployer.upgrade.guards import UpgradeRequest
from wandb_deployer.upgrade.runbook_execution import start_runbook
from wandb_deployer.upgrade.runbook_record import read_runbook, save_runbook
from wandb_deployer.upgrade.runbooks import runbook_for

pytestmark = pytest.mark.unit

PREFIX = "/wandb-deployer"


def started(deployer: Deployer) -> None:
    current = DeploymentConfig(
        deployment="prod",
        deployer=DeployerSettings(module_version="7.18.2"),
        infra={"namespace": "wandb", "eks_cluster_version": "1.32"},
    )
    runbook = runbook_for(UpgradeRequest(deployment="prod", module_version="8.0.0"), current)
    assert runbook is not None
    start_runbook(
        runbook, requested_by="a", request_id=None, prefix=PREFIX, ssm=client("ssm"), table=TABLE,
        dynamodb=deployer.dynamodb,
    )  # fmt: skip


def record(deployer: Deployer, execution: str, outcome: Any, started_at: datetime, **extra: Any) -> list[Any]:
    sns = recorded_calls(client("sns"))
    request = RecordRunInput(
        deployment="prod", execution_arn=execution, outcome=outcome, started_at=started_at, **extra
    )
    record_and_notify(request, deployer.settings)
    return [json.loads(params["Message"]) for name, params in sns if name == "Publish"]


def later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def test_a_succeeded_step_starts_the_next_and_its_notification_names_both(deployer: Deployer) -> None:
    started(deployer)
    me = deployer.start("me")

    [notice] = record(deployer, me, "succeeded", later())

    assert notice["detail"]["runbook"] == {
        "transition": "v7-to-v8",
        "step": "step 1/2 module",
        "title": "module 7.18.2 -> 8.0.0 (EKS module v17 -> v20), EKS unchanged",
        "runbook_status": "running",
        "next": "step 2/2 retire-aws-auth",
    }
    found = client("ssm").get_parameters(Names=[f"{PREFIX}/prod/infra/preserve_aws_auth_configmap"])["Parameters"]
    assert found == []  # the retire step's change: back to the module's default
    state = read_runbook(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert state is not None and state.steps[0].execution_arn == me and state.current == 1


def test_a_failed_step_stops_the_runbook_and_an_older_run_changes_nothing(deployer: Deployer) -> None:
    started(deployer)
    older, me = deployer.start("older"), deployer.start("me")

    [quiet] = record(deployer, older, "succeeded", datetime.now(UTC) - timedelta(hours=1))
    assert "runbook" not in quiet["detail"]
    [notice] = record(deployer, me, "failed", later(), error="BuildFailedError", cause="terraform apply failed")

    assert notice["detail"]["runbook"]["runbook_status"] == "stopped"
    state = read_runbook(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert state is not None and (state.status, state.steps[0].outcome) == ("stopped", "failed")


def test_a_run_stopped_by_its_plan_rules_names_the_step_in_its_failure(deployer: Deployer) -> None:
    started(deployer)
    me = deployer.start("me")
    state = read_runbook(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert state is not None
    stopped = state.with_step(state.record.model_copy(update={"execution_arn": me, "status": "stopped"}))
    save_runbook(
        stopped.model_copy(update={"status": "stopped", "reason": "rules"}), table=TABLE, dynamodb=deployer.dynamodb
    )

    [notice] = record(deployer, me, "failed", later(), error="RunbookRuleViolationError")

    assert notice["detail"]["runbook"] == {
        "transition": "v7-to-v8",
        "step": "step 1/2 module",
        "title": "module 7.18.2 -> 8.0.0 (EKS module v17 -> v20), EKS unchanged",
        "runbook_status": "stopped",
        "stopped": "rules",
    }


def test_the_approval_gate_names_the_step(deployer: Deployer) -> None:
    me = deployer.start("me")
    sns = recorded_calls(client("sns"))
    request = ApprovalRequest(
        deployment="prod",
        execution_arn=me,
        task_token="token",
        plan_sha256="ab" * 32,
        counts=ChangeCounts(update=1),
        summary=S3Pointer(bucket=ARTIFACTS, key="runs/prod/me/plan-summary.json"),
        runbook_step="v7-to-v8 step 1/2 module: module 7.18.2 -> 8.0.0",
    )

    request_approval(request, deployer.settings, timeout_seconds=600)

    [notice] = [json.loads(params["Message"]) for name, params in sns if name == "Publish"]
    assert notice["detail"]["runbook_step"] == "v7-to-v8 step 1/2 module: module 7.18.2 -> 8.0.0"
