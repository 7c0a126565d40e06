"""Approvals bound to the exact plan: a mismatch sends nothing; the token is stored, never shown."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.unit.runs.conftest import TABLE
from tests.unit.runs.secrets import FAKE_LICENSE
from wandb_deployer.errors import ApprovalNotPendingError, DeployerError, PlanMismatchError
from wandb_deployer.runs.approval import (
    answer_approval,
    caller_identity,
    load_pending_approval,
    store_pending_approval,
)
from wandb_deployer.states import ApprovalDecision, ChangeCounts, S3Pointer

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAQ-task-token-secret"
SHA = "c0ffee" + "0" * 58
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:deploy:run-1"


@pytest.fixture
def pending(dynamodb):
    return store_pending_approval(
        deployment="prod",
        execution_arn=EXECUTION,
        task_token=TOKEN,
        plan_sha256=SHA,
        counts=ChangeCounts(update=2, delete=1),
        destructive=["module.wandb.module.database.aws_rds_cluster.this"],
        summary=S3Pointer(bucket="artifacts", key="runs/prod/run-1/plan-summary.json"),
        timeout_seconds=3600,
        table=TABLE,
        dynamodb=dynamodb,
        now=NOW,
    )


@pytest.fixture
def sent(sfn):
    """Every Step Functions call the code makes, by operation name, with its parameters."""
    calls: list[tuple[str, dict[str, Any]]] = []
    sfn.meta.events.register(
        "before-parameter-build.sfn", lambda params, model, **_: calls.append((model.name, params))
    )
    return calls


def _answer(
    sfn: Any,
    dynamodb: Any,
    *,
    sha: str = SHA,
    approve: bool = True,
    reason: str = "",
    now: datetime | None = NOW + timedelta(minutes=5),
) -> None:
    answer_approval(
        deployment="prod",
        plan_sha256=sha,
        approve=approve,
        who="alice@example.com",
        reason=reason,
        sfn=sfn,
        table=TABLE,
        dynamodb=dynamodb,
        now=now,
    )


def test_approval_of_the_pending_plan_resumes_the_run(pending, sfn, dynamodb, sent):
    _answer(sfn, dynamodb, sha=SHA.upper())

    assert [name for name, _ in sent] == ["SendTaskSuccess"]
    params = sent[0][1]
    assert params["taskToken"] == TOKEN
    assert ApprovalDecision.model_validate_json(params["output"]) == ApprovalDecision(
        approved_sha256=SHA, approved_by="alice@example.com"
    )
    assert load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=NOW) is None


def test_rejection_fails_the_task_with_the_reason(pending, sfn, dynamodb, sent):
    _answer(sfn, dynamodb, approve=False, reason=f"drops the database; license {FAKE_LICENSE}")

    assert [name for name, _ in sent] == ["SendTaskFailure"]
    params = sent[0][1]
    assert params["error"] == "ApprovalRejectedError"
    assert "drops the database" in params["cause"] and "alice@example.com" in params["cause"]
    assert FAKE_LICENSE not in params["cause"]


def test_plan_mismatch_is_refused_and_nothing_is_sent(pending, sfn, dynamodb, sent):
    with pytest.raises(PlanMismatchError, match="c0ffee"):
        _answer(sfn, dynamodb, sha="f" * 64)

    assert sent == []
    assert load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=NOW) is not None


def test_nothing_pending_is_a_clear_error(dynamodb, sfn, sent):
    with pytest.raises(ApprovalNotPendingError, match="no pending approval"):
        _answer(sfn, dynamodb)
    assert sent == []


def test_expired_approval_is_not_pending(pending, sfn, dynamodb, sent):
    with pytest.raises(ApprovalNotPendingError):
        _answer(sfn, dynamodb, now=NOW + timedelta(hours=2))
    assert sent == []


@pytest.mark.parametrize("code", ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"])
def test_dead_task_token_is_a_clear_error_and_clears_the_approval(pending, sfn, dynamodb, code):
    with Stubber(sfn) as stubber:
        stubber.add_client_error("send_task_success", service_error_code=code, http_status_code=400)
        with pytest.raises(ApprovalNotPendingError, match=code) as raised:
            _answer(sfn, dynamodb)

    assert TOKEN not in str(raised.value)
    assert load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=NOW) is None


def test_task_token_is_never_logged_or_shown(dynamodb, sfn, caplog, capsys):
    caplog.set_level(logging.INFO)  # botocore DEBUG dumps request bodies; the deployer logs at INFO and above
    approval = store_pending_approval(
        deployment="prod",
        execution_arn=EXECUTION,
        task_token=TOKEN,
        plan_sha256=SHA,
        counts=ChangeCounts(),
        destructive=[],
        summary=S3Pointer(bucket="a", key="k"),
        timeout_seconds=60,
        table=TABLE,
        dynamodb=dynamodb,
    )
    _answer(sfn, dynamodb, now=None)

    assert approval.task_token.get_secret_value() == TOKEN
    shown = repr(approval) + approval.model_dump_json() + json.dumps(approval.model_dump(mode="json"))
    output = capsys.readouterr()
    assert "approval answered" in caplog.text  # the logs were captured: the check below means something
    for text in (shown, caplog.text, output.out, output.err):
        assert TOKEN not in text


def test_the_approver_is_the_callers_aws_identity_not_a_local_user_name(aws):
    # moto answers GetCallerIdentity for its default credentials as this user
    assert caller_identity(boto3.client("sts", region_name="us-east-1")) == "arn:aws:sts::123456789012:user/moto"


def test_an_unknown_caller_identity_fails_the_approval_instead_of_guessing():
    stubbed = boto3.client("sts", region_name="us-east-1")
    stubber = Stubber(stubbed)
    stubber.add_client_error("get_caller_identity", service_error_code="ExpiredToken", http_status_code=403)
    with stubber, pytest.raises(DeployerError, match="GetCallerIdentity"):
        caller_identity(stubbed)
