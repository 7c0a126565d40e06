"""Approvals when AWS fails, when the approval changes hands while it is answered, and at the edges of their life.

A failed SendTask must leave the approval pending (Step Functions never got the answer, so the run still waits and
the human can answer again); a dead token withdraws it; a newer run's approval is never touched by an answer to an
older one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from tests.unit.faults import before_call, fail_call, recorded_calls
from tests.unit.runs.conftest import REGION, TABLE
from tests.unit.runs.test_approval import EXECUTION, NOW, SHA, TOKEN, _answer
from wandb_deployer.errors import ApprovalNotPendingError, AwsRequestFailedError, TransientAwsError
from wandb_deployer.runs import item_key
from wandb_deployer.runs.approval import (
    APPROVAL_SK,
    PendingApproval,
    answer_approval,
    load_pending_approval,
    store_pending_approval,
    withdraw_pending_approval,
)
from wandb_deployer.states import ChangeCounts, S3Pointer

pytestmark = pytest.mark.unit

THROTTLED = ("ThrottlingException", 400, TransientAwsError)
DENIED = ("AccessDeniedException", 400, AwsRequestFailedError)
UNAVAILABLE = ("ServiceUnavailable", 503, TransientAwsError)
NEWER_EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:deploy:run-2"
NEWER_SHA = "beef" * 16
SUMMARY = S3Pointer(bucket="artifacts", key="runs/prod/run-1/plan-summary.json")


def store(dynamodb: Any, *, execution: str = EXECUTION, sha: str = SHA, token: str = TOKEN, timeout: int = 3600) -> Any:
    return store_pending_approval(
        deployment="prod",
        execution_arn=execution,
        task_token=token,
        plan_sha256=sha,
        counts=ChangeCounts(update=2, delete=1),
        destructive=["module.wandb.module.database.aws_rds_cluster.this"],
        summary=SUMMARY,
        timeout_seconds=timeout,
        table=TABLE,
        dynamodb=dynamodb,
        now=NOW,
    )


def pending_now(dynamodb: Any) -> PendingApproval | None:
    return load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=NOW)


@pytest.fixture
def other_dynamodb(dynamodb: Any) -> Any:
    return boto3.client("dynamodb", region_name=REGION)


def test_a_stored_approval_is_returned_and_read_back_exactly(dynamodb):
    stored = store(dynamodb, sha=SHA.upper())

    expected = {
        "deployment": "prod",
        "execution_arn": EXECUTION,
        "plan_sha256": SHA,  # always lower case: the answer is compared with it
        "counts": {"create": 0, "update": 2, "delete": 1, "replace": 0},
        "destructive": ["module.wandb.module.database.aws_rds_cluster.this"],
        "summary": {"bucket": "artifacts", "key": "runs/prod/run-1/plan-summary.json", "version_id": None},
        "requested_at": "2026-05-01T12:00:00.000000Z",
        "expires_at": int((NOW + timedelta(hours=1)).timestamp()),
        "approvable_from": None,  # not a runbook step with a documented wait: approvable any time
        "approvable_reason": None,
    }
    assert stored.model_dump(mode="json") == expected
    assert stored.task_token.get_secret_value() == TOKEN
    loaded = pending_now(dynamodb)
    assert loaded is not None and loaded.model_dump(mode="json") == expected
    assert loaded.task_token.get_secret_value() == TOKEN


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED, UNAVAILABLE])
def test_a_failed_store_raises_and_stores_nothing(dynamodb, code, status, error):
    fail_call(dynamodb, "PutItem", code, status=status)

    with pytest.raises(error, match=r"^PutItem approval failed"):
        store(dynamodb)

    assert pending_now(dynamodb) is None


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED])
def test_a_failed_read_is_an_error_not_an_absent_approval(dynamodb, code, status, error):
    store(dynamodb)
    fail_call(dynamodb, "GetItem", code, status=status)

    with pytest.raises(error, match=r"^GetItem approval failed"):
        pending_now(dynamodb)


@pytest.mark.parametrize("approve", [True, False])
@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED, UNAVAILABLE])
def test_an_answer_step_functions_did_not_get_leaves_the_approval_pending(dynamodb, sfn, approve, code, status, error):
    store(dynamodb)
    operation = "SendTaskSuccess" if approve else "SendTaskFailure"
    failed = fail_call(sfn, operation, code, status=status)

    with pytest.raises(error, match=r"^SendTask approval failed") as raised:
        _answer(sfn, dynamodb, approve=approve, reason="not now")

    assert len(failed) == 1 and failed[0]["taskToken"] == TOKEN
    assert TOKEN not in str(raised.value)
    still = pending_now(dynamodb)
    assert still is not None and still.plan_sha256 == SHA  # the human can answer again


def test_an_answer_withdraws_only_its_own_run_approval(dynamodb, other_dynamodb, sfn):
    # Given the run that waited ended and a newer run stored its approval while the answer was on its way
    store(dynamodb)
    sent = recorded_calls(sfn)
    before_call(
        sfn,
        "SendTaskSuccess",
        lambda: store(other_dynamodb, execution=NEWER_EXECUTION, sha=NEWER_SHA, token="newer-token"),
    )

    _answer(sfn, dynamodb)

    # Then the answer went to the run that was asked, and the newer run's approval still waits.
    assert [(name, params["taskToken"]) for name, params in sent] == [("SendTaskSuccess", TOKEN)]
    newer = pending_now(dynamodb)
    assert newer is not None
    assert (newer.execution_arn, newer.plan_sha256) == (NEWER_EXECUTION, NEWER_SHA)


def test_a_dead_token_withdraws_only_its_own_run_approval(dynamodb, other_dynamodb, sfn):
    store(dynamodb)
    before_call(
        sfn, "SendTaskSuccess", lambda: store(other_dynamodb, execution=NEWER_EXECUTION, sha=NEWER_SHA, token="newer")
    )
    fail_call(sfn, "SendTaskSuccess", "TaskTimedOut")

    with pytest.raises(ApprovalNotPendingError, match="no longer pending"):
        _answer(sfn, dynamodb)

    newer = pending_now(dynamodb)
    assert newer is not None and newer.execution_arn == NEWER_EXECUTION


def test_a_dead_token_error_names_the_plan_and_what_to_do(dynamodb, sfn):
    store(dynamodb)
    fail_call(sfn, "SendTaskFailure", "TaskDoesNotExist")

    with pytest.raises(ApprovalNotPendingError) as raised:
        _answer(sfn, dynamodb, approve=False, reason="no")

    assert str(raised.value) == (
        f"deployment 'prod': the approval of plan {SHA} is no longer pending "
        "(TaskDoesNotExist: it timed out or its run ended); start a new run"
    )
    assert pending_now(dynamodb) is None


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED])
def test_a_failed_withdrawal_raises(dynamodb, code, status, error):
    store(dynamodb)
    fail_call(dynamodb, "DeleteItem", code, status=status)

    with pytest.raises(error, match=r"^DeleteItem approval failed"):
        withdraw_pending_approval(deployment="prod", execution_arn=EXECUTION, table=TABLE, dynamodb=dynamodb)

    assert pending_now(dynamodb) is not None


def test_withdrawing_another_run_approval_changes_nothing(dynamodb):
    store(dynamodb)

    withdraw_pending_approval(deployment="prod", execution_arn=NEWER_EXECUTION, table=TABLE, dynamodb=dynamodb)

    assert pending_now(dynamodb) is not None
    withdraw_pending_approval(deployment="prod", execution_arn=EXECUTION, table=TABLE, dynamodb=dynamodb)
    assert pending_now(dynamodb) is None
    assert "Item" not in dynamodb.get_item(TableName=TABLE, Key=item_key("prod", APPROVAL_SK))


def test_an_approval_expires_at_its_deadline_exactly(dynamodb):
    store(dynamodb, timeout=600)
    deadline = NOW + timedelta(seconds=600)

    before = load_pending_approval(
        deployment="prod", table=TABLE, dynamodb=dynamodb, now=deadline - timedelta(seconds=1)
    )
    at = load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=deadline)

    assert before is not None and before.is_expired(deadline - timedelta(seconds=1)) is False
    assert at is None


def test_the_answer_may_quote_the_sha_with_spaces_and_capitals(dynamodb, sfn):
    store(dynamodb)
    sent = recorded_calls(sfn)

    answer_approval(
        deployment="prod",
        plan_sha256=f"  {SHA.upper()}\n",
        approve=True,
        who="bob",
        reason="",
        sfn=sfn,
        table=TABLE,
        dynamodb=dynamodb,
        now=NOW,
    )

    assert [name for name, _ in sent] == ["SendTaskSuccess"]
    assert pending_now(dynamodb) is None


def test_a_rejection_names_who_and_why_and_is_cut_to_the_cause_limit(dynamodb, sfn):
    store(dynamodb)
    sent = recorded_calls(sfn)

    _answer(sfn, dynamodb, approve=False, reason="the database would be replaced")
    store(dynamodb)
    _answer(sfn, dynamodb, approve=False, reason="x" * 5000)

    assert [name for name, _ in sent] == ["SendTaskFailure", "SendTaskFailure"]
    assert sent[0][1]["cause"] == "rejected by alice@example.com: the database would be replaced"
    assert sent[0][1]["error"] == "ApprovalRejectedError"
    long_cause = sent[1][1]["cause"]
    assert len(long_cause) == 1000 and long_cause.startswith("rejected by alice@example.com: xxx")
