"""A runbook step's documented wait at the approval gate (the v8 guide's kubelet credential rotation before aws-auth is
retired): an approval before `approvable_from` is refused and nothing reaches Step Functions, the approval stays
pending; at or after it the approval goes through; a rejection is accepted any time; approvals stored before the
field existed still load."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.unit.runs.conftest import TABLE
from tests.unit.runs.test_approval import EXECUTION, NOW, SHA, TOKEN, _answer
from wandb_deployer.errors import ApprovalTooEarlyError
from wandb_deployer.runs import iso, item_key, to_item
from wandb_deployer.runs.approval import APPROVAL_SK, load_pending_approval, store_pending_approval
from wandb_deployer.states import ChangeCounts, S3Pointer

pytestmark = pytest.mark.unit

FROM = NOW + timedelta(hours=1)
REASON = "3600 s (RunbookAwsAuthWaitSeconds) after the module step's run ended: Wait at least one full kubelet ..."


@pytest.fixture
def waiting(dynamodb: Any) -> Any:
    return store_pending_approval(
        deployment="prod",
        execution_arn=EXECUTION,
        task_token=TOKEN,
        plan_sha256=SHA,
        counts=ChangeCounts(delete=1),
        destructive=[],
        summary=S3Pointer(bucket="artifacts", key="runs/prod/run-1/plan-summary.json"),
        timeout_seconds=86400,
        table=TABLE,
        dynamodb=dynamodb,
        approvable_from=iso(FROM),
        approvable_reason=REASON,
        now=NOW,
    )


@pytest.fixture
def sent(sfn: Any) -> list[str]:
    calls: list[str] = []
    sfn.meta.events.register("before-parameter-build.sfn", lambda model, **_: calls.append(model.name))
    return calls


def still_pending(dynamodb: Any) -> bool:
    return load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=NOW) is not None


def test_an_approval_before_the_wait_is_refused_naming_the_time_and_why_and_nothing_is_sent(
    waiting: Any, sfn: Any, dynamodb: Any, sent: list[str]
) -> None:
    with pytest.raises(ApprovalTooEarlyError) as raised:
        _answer(sfn, dynamodb, now=FROM - timedelta(seconds=1))

    message = str(raised.value)
    assert f"may be approved from {iso(FROM)[:19]}Z ({REASON})" in message
    assert "nothing was sent, the approval stays pending" in message
    assert TOKEN not in message
    assert sent == []
    assert still_pending(dynamodb)


@pytest.mark.parametrize("after", [timedelta(0), timedelta(minutes=1)])
def test_an_approval_at_or_after_the_time_resumes_the_run(
    waiting: Any, sfn: Any, dynamodb: Any, sent: list[str], after: timedelta
) -> None:
    _answer(sfn, dynamodb, now=FROM + after)

    assert sent == ["SendTaskSuccess"]
    assert not still_pending(dynamodb)


def test_a_rejection_is_accepted_before_the_time(waiting: Any, sfn: Any, dynamodb: Any, sent: list[str]) -> None:
    _answer(sfn, dynamodb, approve=False, reason="aws-auth still in use", now=NOW + timedelta(minutes=1))

    assert sent == ["SendTaskFailure"]
    assert not still_pending(dynamodb)


def test_the_wait_is_kept_with_the_approval_and_said_for_people(waiting: Any, dynamodb: Any) -> None:
    loaded = load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=NOW)

    assert loaded is not None and (loaded.approvable_from, loaded.approvable_reason) == (iso(FROM), REASON)
    assert loaded.approvable_line() == f"may be approved from {iso(FROM)[:19]}Z ({REASON})"
    assert loaded.too_early(FROM - timedelta(microseconds=1)) and not loaded.too_early(FROM)
    assert not loaded.unapprovable()  # the gate (a day) outlives the wait (an hour)


def test_a_gate_that_expires_before_the_plan_may_be_approved_is_unapprovable(dynamodb: Any) -> None:
    short = store_pending_approval(
        deployment="prod",
        execution_arn=EXECUTION,
        task_token=TOKEN,
        plan_sha256=SHA,
        counts=ChangeCounts(delete=1),
        destructive=[],
        summary=S3Pointer(bucket="a", key="k"),
        timeout_seconds=600,
        table=TABLE,
        dynamodb=dynamodb,
        approvable_from=iso(FROM),
        approvable_reason=REASON,
        now=NOW,
    )
    assert short.unapprovable()


def test_an_approval_item_stored_before_the_wait_existed_loads_and_is_approvable(
    dynamodb: Any, sfn: Any, sent: list[str]
) -> None:
    old = {
        "deployment": "prod",
        "execution_arn": EXECUTION,
        "task_token": TOKEN,
        "plan_sha256": SHA,
        "counts": ChangeCounts(update=1).model_dump(),
        "destructive": [],
        "summary": {"bucket": "a", "key": "k", "version_id": None},
        "requested_at": iso(NOW),
        "expires_at": int((NOW + timedelta(hours=1)).timestamp()),
    }
    dynamodb.put_item(TableName=TABLE, Item={**item_key("prod", APPROVAL_SK), **to_item(old)})

    loaded = load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb, now=NOW)
    assert loaded is not None and loaded.approvable_from is None and loaded.approvable_line() is None
    _answer(sfn, dynamodb, now=NOW)
    assert sent == ["SendTaskSuccess"]
