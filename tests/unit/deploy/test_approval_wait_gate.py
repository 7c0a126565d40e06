"""The approval gate of a runbook step with a documented wait: the `Approval Needed` notification and the run's
history say from when the plan may be approved, and warn when the gate expires first (it can then only be rejected
or time out)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.unit.deploy.conftest import ARTIFACTS, Deployer
from tests.unit.faults import recorded_calls
from tests.unit.runs.conftest import TABLE
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.approval_step import request_approval
from wandb_deployer.runs import iso
from wandb_deployer.runs.approval import load_pending_approval
from wandb_deployer.runs.history import read_run
from wandb_deployer.states import ApprovalRequest, ChangeCounts, S3Pointer

pytestmark = pytest.mark.unit

WHY = "3600 s (RunbookAwsAuthWaitSeconds) after the module step's run ended at ...: Wait at least one full kubelet ..."


def ask(deployer: Deployer, execution: str, approvable_from: datetime | None, timeout: int) -> dict[str, Any]:
    sns = recorded_calls(client("sns"))
    request = ApprovalRequest(
        deployment="prod",
        execution_arn=execution,
        task_token="token",
        plan_sha256="ab" * 32,
        counts=ChangeCounts(delete=1),
        summary=S3Pointer(bucket=ARTIFACTS, key="runs/prod/me/plan-summary.json"),
        runbook_step="v7-to-v8 step 3/3 retire-aws-auth: preserve_aws_auth_configmap back to its default",
        approvable_from=iso(approvable_from) if approvable_from else None,
        approvable_reason=WHY if approvable_from else None,
    )
    request_approval(request, deployer.settings, timeout_seconds=timeout)
    [notice] = [json.loads(params["Message"]) for name, params in sns if name == "Publish"]
    return dict(notice["detail"])


def test_the_notification_and_the_history_say_from_when_the_plan_may_be_approved(deployer: Deployer) -> None:
    me = deployer.start("me")
    earliest = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=50)

    detail = ask(deployer, me, earliest, timeout=86400)

    line = f"may be approved from {earliest:%Y-%m-%dT%H:%M:%S}Z ({WHY})"
    assert (detail["approvable_from"], detail["approval_wait"]) == (iso(earliest), line)
    assert "approval_warning" not in detail
    pending = load_pending_approval(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert pending is not None and (pending.approvable_from, pending.approvable_reason) == (iso(earliest), WHY)
    run = read_run(deployment="prod", execution_arn=me, table=TABLE, dynamodb=deployer.dynamodb)
    assert run is not None and run.details["gate"]["approval_wait"] == line


def test_a_gate_that_expires_before_the_plan_may_be_approved_says_so(deployer: Deployer) -> None:
    me = deployer.start("me")
    earliest = datetime.now(UTC) + timedelta(minutes=50)

    detail = ask(deployer, me, earliest, timeout=1800)  # ApprovalTimeoutSeconds below RunbookAwsAuthWaitSeconds

    assert detail["approval_warning"].startswith(f"the gate expires at {detail['deadline'][:19]}Z, before the plan")
    assert "ApprovalTimeoutSeconds must exceed RunbookAwsAuthWaitSeconds" in detail["approval_warning"]


def test_a_plan_without_a_wait_says_nothing_of_it(deployer: Deployer) -> None:
    detail = ask(deployer, deployer.start("me"), None, timeout=600)

    assert not {"approvable_from", "approval_wait", "approval_warning"} & set(detail)
