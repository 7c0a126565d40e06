"""The scheduled approval check (functions/approval_age): the age of every pending approval, never its task token,
expired ones left out; the handler emits the oldest as `OldestApprovalWaitSeconds`, which the ApprovalWaiting alarm
compares with ApprovalAlarmSeconds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.unit.handlers.conftest import FakeContext, load_handler
from wandb_deployer.errors import DeployerError
from wandb_deployer.runs.approval import store_pending_approval
from wandb_deployer.runs.approval_age import waiting_approvals
from wandb_deployer.states import ChangeCounts, S3Pointer

pytestmark = pytest.mark.unit

TABLE = "deployments"
TOKEN = "task-token-never-read-by-the-check"


def pending(deployment: str, requested: datetime, timeout_seconds: int = 86400) -> None:
    store_pending_approval(
        deployment=deployment,
        execution_arn=f"arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-deploy:{deployment}-1",
        task_token=TOKEN,
        plan_sha256="ab" * 32,
        counts=ChangeCounts(add=1, change=0, destroy=0, replace=0),
        destructive=[],
        summary=S3Pointer(bucket="artifacts", key=f"runs/{deployment}/plan-summary.json"),
        timeout_seconds=timeout_seconds,
        table=TABLE,
        dynamodb=boto3.client("dynamodb"),
        now=requested,
    )


def test_each_pending_approval_is_measured_oldest_first_and_expired_ones_are_left_out(
    deployer: dict[str, Any],
) -> None:
    now = datetime.now(UTC)
    pending("alpha", now - timedelta(minutes=10))
    pending("beta", now - timedelta(hours=5))
    pending("gamma", now - timedelta(hours=3), timeout_seconds=3600)  # its gate expired: the run has timed out

    found = waiting_approvals(table=TABLE, dynamodb=boto3.client("dynamodb"), now=now)

    assert [(a.deployment, a.age_seconds) for a in found] == [("beta", 5 * 3600), ("alpha", 600)]
    assert TOKEN not in repr(found)


def test_the_handler_emits_the_oldest_wait_and_never_the_token(
    deployer: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    pending("alpha", datetime.now(UTC) - timedelta(hours=5))

    result = load_handler("approval_age").lambda_handler({}, FakeContext())

    assert result["oldest_seconds"] >= 5 * 3600 and [w["deployment"] for w in result["waiting"]] == ["alpha"]
    output = capsys.readouterr().out
    metrics = [json.loads(line) for line in output.splitlines() if '"_aws"' in line]
    (emitted,) = [m for m in metrics if "OldestApprovalWaitSeconds" in m]
    assert emitted["OldestApprovalWaitSeconds"] == [result["oldest_seconds"]]  # service: the template sets it
    assert emitted["ApprovalsWaiting"] == [1.0]
    assert TOKEN not in output and TOKEN not in json.dumps(result)


def test_without_pending_approvals_the_oldest_wait_is_zero(deployer: dict[str, Any]) -> None:
    assert load_handler("approval_age").lambda_handler({}, FakeContext()) == {"waiting": [], "oldest_seconds": 0}


def test_a_failed_scan_is_the_deployers_error(deployer: dict[str, Any]) -> None:
    dynamodb = boto3.client("dynamodb")
    with Stubber(dynamodb) as stub:
        stub.add_client_error("scan", service_error_code="AccessDeniedException", http_status_code=400)
        with pytest.raises(DeployerError, match="Scan approvals"):
            waiting_approvals(table=TABLE, dynamodb=dynamodb)
