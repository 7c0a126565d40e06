"""The approval gate, the lock step and the run record step: what each stores, returns and tells, and what it does
when AWS fails. The task token never leaves the table."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.unit.deploy.conftest import ARTIFACTS, STATE, Deployer
from tests.unit.faults import answer_call, fail_call, recorded_calls
from tests.unit.runs.conftest import TABLE
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.approval_step import request_approval
from wandb_deployer.deploy.lock_step import RUN_LEASE_BEYOND_APPROVAL_SECONDS, acquire
from wandb_deployer.deploy.record_step import record_and_notify
from wandb_deployer.errors import AwsRequestFailedError, DeploymentLockedError, TransientAwsError
from wandb_deployer.runs.approval import load_pending_approval
from wandb_deployer.runs.history import list_runs
from wandb_deployer.runs.lock import acquire_lock, read_lock
from wandb_deployer.states import ApprovalRequest, ChangeCounts, LockInput, LockResult, RecordRunInput, S3Pointer

pytestmark = pytest.mark.unit

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAQ-secret-task-token"
SHA = "9f" * 32
SUMMARY = S3Pointer(bucket=ARTIFACTS, key="runs/prod/run/plan-summary.json")
DESTRUCTIVE = ["module.wandb.module.database.aws_rds_cluster.this"]


def notices(calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [json.loads(params["Message"]) for name, params in calls if name == "Publish"]


def bus_events(calls: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    entries = [entry for name, params in calls if name == "PutEvents" for entry in params["Entries"]]
    return [(entry["DetailType"], json.loads(entry["Detail"])) for entry in entries]


# --- approval gate ----------------------------------------------------------------------------------------------------


def approval_request(execution: str) -> ApprovalRequest:
    return ApprovalRequest(
        deployment="prod",
        execution_arn=execution,
        task_token=TOKEN,
        plan_sha256=SHA,
        counts=ChangeCounts(update=1, replace=1),
        destructive=DESTRUCTIVE,
        summary=SUMMARY,
    )


def test_the_gate_binds_the_token_to_the_plan_records_and_asks_a_human(deployer: Deployer) -> None:
    me = deployer.start("me")
    sns, events = recorded_calls(client("sns")), recorded_calls(client("events"))

    request_approval(approval_request(me), deployer.settings, timeout_seconds=600)

    pending = load_pending_approval(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert pending is not None
    assert (pending.execution_arn, pending.plan_sha256, pending.destructive) == (me, SHA, DESTRUCTIVE)
    assert pending.task_token.get_secret_value() == TOKEN
    assert pending.counts == ChangeCounts(update=1, replace=1) and pending.summary == SUMMARY
    assert pending.expires_at - int(datetime.now(UTC).timestamp()) in range(590, 601)
    [run] = list_runs(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert (run.execution_arn, run.outcome) == (me, "approval-needed")
    counts = {"create": 0, "update": 1, "delete": 0, "replace": 1}
    assert run.details == {
        "plan_sha256": SHA,
        "counts": counts,
        # the gate as `wbd runs` / `wbd status` show it: until when it waits (then the run is timed-out)
        "gate": {
            "plan_sha256": SHA,
            "requested_at": pending.requested_at,
            "deadline": pending.deadline,
            "counts": counts,
            "destructive": DESTRUCTIVE,
        },
    }
    [notice] = notices(sns)
    expected_detail = {
        "execution_arn": me,
        "plan_sha256": SHA,
        "counts": counts,
        "destructive": DESTRUCTIVE,
        "summary": f"s3://{ARTIFACTS}/runs/prod/run/plan-summary.json",
        "deadline": pending.deadline,
        "approve_with": f"wbd approve prod --plan {SHA}",
    }
    assert (notice["event"], notice["deployment"], notice["detail"]) == ("Approval Needed", "prod", expected_detail)
    assert bus_events(events) == [("Approval Needed", notice)]
    for name, params in sns + events:
        assert TOKEN not in json.dumps(params), name


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [("ThrottlingException", 400, TransientAwsError), ("AccessDeniedException", 400, AwsRequestFailedError)],
)
def test_a_gate_that_cannot_store_the_approval_asks_nobody(
    deployer: Deployer, code: str, status: int, error: type[Exception]
) -> None:
    fail_call(client("dynamodb"), "PutItem", code, status=status)
    sns = recorded_calls(client("sns"))

    with pytest.raises(error, match="PutItem approval"):
        request_approval(approval_request(deployer.start("me")), deployer.settings, timeout_seconds=600)

    assert notices(sns) == []


def test_a_notification_eventbridge_refuses_fails_the_gate_to_be_retried(deployer: Deployer) -> None:
    answer_call(
        client("events"), "PutEvents", {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException"}]}
    )

    with pytest.raises(TransientAwsError, match="Approval Needed"):
        request_approval(approval_request(deployer.start("me")), deployer.settings, timeout_seconds=600)


# --- lock step --------------------------------------------------------------------------------------------------------


def tflock_exists(deployer: Deployer) -> bool:
    listed = deployer.s3.list_objects_v2(Bucket=STATE, Prefix="deployments/prod/terraform.tfstate.tflock")
    return bool(listed.get("KeyCount"))


def test_the_lock_step_takes_the_lock_for_the_longest_approval_wait(deployer: Deployer) -> None:
    me = deployer.start("me")
    before = int(datetime.now(UTC).timestamp())

    result = acquire(LockInput(deployment="prod", execution_arn=me), deployer.settings)

    after = int(datetime.now(UTC).timestamp())
    assert result == LockResult(deployment="prod", execution_arn=me, took_over_from=None, released_state_lock=False)
    lock = read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert lock is not None and lock.owner == me
    lease = deployer.settings.approval_timeout_seconds + RUN_LEASE_BEYOND_APPROVAL_SECONDS
    assert before + lease <= lock.lease_until <= after + lease


def test_the_lock_step_releases_a_state_lock_left_by_a_build_that_ended(deployer: Deployer) -> None:
    me, killed = deployer.start("me"), deployer.start("killed")
    acquire_lock(deployment="prod", execution_arn=killed, table=TABLE, dynamodb=deployer.dynamodb, sfn=deployer.sfn)
    deployer.sfn.stop_execution(executionArn=killed)
    build_id = deployer.codebuild.start_build(projectName="wbd-terraform")["build"]["id"]  # moto: finished at once
    deployer.s3.put_object(Bucket=STATE, Key="deployments/prod/terraform.tfstate.tflock", Body=b'{"ID": "x"}')
    marker = json.dumps({"build_id": build_id, "action": "apply"}).encode()
    deployer.s3.put_object(Bucket=ARTIFACTS, Key="locks/prod/holder.json", Body=marker)

    result = acquire(LockInput(deployment="prod", execution_arn=me), deployer.settings)

    assert result == LockResult(deployment="prod", execution_arn=me, took_over_from=killed, released_state_lock=True)
    assert not tflock_exists(deployer)


def test_the_lock_step_refuses_while_a_build_still_holds_the_state(deployer: Deployer) -> None:
    me = deployer.start("me")
    deployer.s3.put_object(Bucket=STATE, Key="deployments/prod/terraform.tfstate.tflock", Body=b'{"ID": "x"}')
    marker = json.dumps({"build_id": "wbd-terraform:running"}).encode()
    deployer.s3.put_object(Bucket=ARTIFACTS, Key="locks/prod/holder.json", Body=marker)
    in_progress = {"builds": [{"id": "wbd-terraform:running", "buildStatus": "IN_PROGRESS"}]}
    answer_call(client("codebuild"), "BatchGetBuilds", in_progress)

    with pytest.raises(DeploymentLockedError, match="running build wbd-terraform:running"):
        acquire(LockInput(deployment="prod", execution_arn=me), deployer.settings)

    assert tflock_exists(deployer)


def test_the_lock_step_refuses_while_another_run_holds_the_lock(deployer: Deployer) -> None:
    other = deployer.start("other")
    acquire_lock(deployment="prod", execution_arn=other, table=TABLE, dynamodb=deployer.dynamodb, sfn=deployer.sfn)

    with pytest.raises(DeploymentLockedError, match="other"):
        acquire(LockInput(deployment="prod", execution_arn=deployer.start("me")), deployer.settings)


# --- run record -------------------------------------------------------------------------------------------------------

STARTED = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("outcome", "event"),
    [
        ("started", "Run Started"),
        ("succeeded", "Run Succeeded"),
        ("failed", "Run Failed"),
        ("rejected", "Run Rejected"),
        ("no-changes", "Run Unchanged"),
    ],
)
def test_each_outcome_is_recorded_and_told_under_its_own_name(deployer: Deployer, outcome: Any, event: str) -> None:
    me = deployer.start("me")
    sns, events = recorded_calls(client("sns")), recorded_calls(client("events"))
    request = RecordRunInput(
        deployment="prod",
        execution_arn=me,
        outcome=outcome,
        trigger="parameter-change",
        started_at=STARTED,
        fingerprint="f1",
        plan_sha256=SHA,
        counts=ChangeCounts(create=2),
        error="BuildFailedError",
        cause="terraform apply failed",
    )

    record_and_notify(request, deployer.settings)

    [run] = list_runs(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert (run.execution_arn, run.outcome, run.trigger, run.fingerprint) == (me, outcome, "parameter-change", "f1")
    assert (run.error, run.cause, run.started_at) == (
        "BuildFailedError",
        "terraform apply failed",
        "2026-05-01T12:00:00.000000Z",
    )
    details = dict(run.details)
    steps = details.pop("steps", None)  # the execution's steps, timed at the end of a run
    assert details == {"plan_sha256": SHA, "counts": {"create": 2, "update": 0, "delete": 0, "replace": 0}}
    assert (steps is not None) is (outcome != "started")
    assert run.reason == "terraform apply failed"
    [notice] = notices(sns)
    assert (notice["event"], notice["deployment"]) == (event, "prod")
    assert notice["detail"] == {
        "execution_arn": me,
        "outcome": outcome,
        "trigger": "parameter-change",
        "fingerprint": "f1",
        "error": "BuildFailedError",
        "reason": "terraform apply failed",
        "cause": "terraform apply failed",
        "plan_sha256": SHA,
        "counts": {"create": 2, "update": 0, "delete": 0, "replace": 0},
    }
    assert bus_events(events) == [(event, notice)]


def test_an_outcome_without_counts_records_no_plan_details(deployer: Deployer) -> None:
    me = deployer.start("me")
    sns = recorded_calls(client("sns"))

    record_and_notify(RecordRunInput(deployment="prod", execution_arn=me, outcome="failed"), deployer.settings)

    [run] = list_runs(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert set(run.details) == {"steps"} and run.trigger == "manual"
    [notice] = notices(sns)
    assert notice["detail"]["counts"] is None and notice["detail"]["plan_sha256"] is None


def test_approval_needed_is_recorded_but_told_by_the_gate_not_here(deployer: Deployer) -> None:
    me = deployer.start("me")
    sns, events = recorded_calls(client("sns")), recorded_calls(client("events"))

    record_and_notify(RecordRunInput(deployment="prod", execution_arn=me, outcome="approval-needed"), deployer.settings)

    assert [run.outcome for run in list_runs(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)] == [
        "approval-needed"
    ]
    assert sns == [] and events == []


@pytest.mark.parametrize(
    ("service", "operation", "code", "error"),
    [
        ("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", TransientAwsError),
        ("sns", "Publish", "AuthorizationError", AwsRequestFailedError),
        ("events", "PutEvents", "ThrottlingException", TransientAwsError),
    ],
)
def test_a_record_or_notification_that_fails_fails_the_step(
    deployer: Deployer, service: str, operation: str, code: str, error: type[Exception]
) -> None:
    fail_call(client(service), operation, code)

    with pytest.raises(error):
        record_and_notify(
            RecordRunInput(deployment="prod", execution_arn=deployer.start("me"), outcome="succeeded"),
            deployer.settings,
        )
