"""functions/record_run at the end of a run: an expired approval gate is `timed-out` with its deadline, a failure
keeps its message in one line (secrets masked), and the steps of the execution are timed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.unit.handlers.conftest import LICENSE, FakeContext, load_handler
from wandb_deployer.runs.history import read_run, record_run_event

pytestmark = pytest.mark.unit

STARTED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def execution(deployer: dict[str, Any]) -> str:
    """A deploy execution in moto (its history is what the record step times) with its `started` record."""
    arn = boto3.client("stepfunctions").start_execution(
        stateMachineArn=deployer["state_machine_arn"], name="demo-push-1", input="{}"
    )["executionArn"]
    record_run_event(
        deployment="demo",
        execution_arn=arn,
        outcome="started",
        trigger="push",
        started_at=STARTED,
        table="deployments",
        dynamodb=boto3.client("dynamodb"),
    )
    return str(arn)


def run_record(arn: str) -> Any:
    record = read_run(deployment="demo", execution_arn=arn, table="deployments", dynamodb=boto3.client("dynamodb"))
    assert record is not None
    return record


def record(arn: str, **payload: Any) -> None:
    event = {
        "deployment": "demo",
        "execution_arn": arn,
        "trigger": "push",
        "started_at": STARTED.isoformat(),
        **payload,
    }
    load_handler("record_run").lambda_handler(event, FakeContext())


def test_an_expired_gate_is_timed_out_with_its_deadline(execution: str) -> None:
    deadline = "2026-05-02T12:00:00.000000Z"
    record(
        execution,
        outcome="approval-needed",
        plan_sha256="ab" * 32,
        counts={"create": 0, "update": 0, "delete": 1, "replace": 0},
    )
    record_run_event(
        deployment="demo",
        execution_arn=execution,
        outcome="approval-needed",
        started_at=STARTED,
        details={"gate": {"deadline": deadline, "plan_sha256": "ab" * 32}},
        table="deployments",
        dynamodb=boto3.client("dynamodb"),
    )

    record(execution, outcome="rejected", error="States.Timeout", cause="")

    ended = run_record(execution)
    assert ended.outcome == "timed-out"
    assert ended.details["approval"]["decision"] == "timed-out"
    assert ended.details["approval"]["deadline"] == deadline
    assert ended.reason == "the approval gate expired: nobody approved or rejected the plan before its deadline"


def test_a_failure_keeps_its_message_in_one_line_and_no_secret(execution: str) -> None:
    cause = json.dumps(
        {
            "errorType": "InvalidConfigError",
            "errorMessage": f"infra/license: {LICENSE} is not\na license",
            "stackTrace": ['  File "app.py"'],
        }
    )
    record(execution, outcome="failed", error="InvalidConfigError", cause=cause)

    ended = run_record(execution)
    assert (ended.outcome, ended.error) == ("failed", "InvalidConfigError")
    assert ended.reason == "infra/license: *** is not a license"
    assert LICENSE not in ended.model_dump_json() and LICENSE.split(".")[1] not in ended.model_dump_json()
    assert isinstance(ended.details["steps"], list)
