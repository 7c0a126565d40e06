"""The end of every run: what it marks applied, which approval it withdraws, which build it stops, the lock it releases
and the next run it starts when the desired state moved; the result is asserted for every outcome."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.deploy.conftest import ARTIFACTS, Deployer
from tests.unit.faults import answer_call, before_call, fail_call, recorded_calls
from tests.unit.runs.conftest import TABLE
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.finish_step import finish, stop_stray_build
from wandb_deployer.errors import AwsRequestFailedError, TransientAwsError
from wandb_deployer.runs.approval import load_pending_approval, store_pending_approval
from wandb_deployer.runs.desired import read_applied, read_desired, record_desired_change
from wandb_deployer.runs.lock import acquire_lock, read_lock
from wandb_deployer.states import ChangeCounts, FinishRunInput, FinishRunResult, RunContext, S3Pointer, Wrapped

pytestmark = pytest.mark.unit

MARKER = "locks/prod/holder.json"


def loaded(desired_generation: int) -> dict[str, object]:
    return {
        "deployment": "prod",
        "fingerprint": "f-run",
        "workspace": {"bucket": ARTIFACTS, "key": "runs/prod/run/workspace.zip"},
        "run_prefix": "runs/prod/run/",
        "generation": "operator",
        "module_version": "8.0.0",
        "terraform_version": "1.10.5",
        "approval": "destructive",
        "drift_action": "notify",
        "health_timeout_seconds": 900,
        "license_parameter": "/wandb-deployer/prod/infra/license",
        "expects_queue": True,
        "desired_generation": desired_generation,
    }


def request(execution: str, outcome: Any, *, snapshot: int | None = 1) -> FinishRunInput:
    context = RunContext(config=Wrapped(value=loaded(snapshot))) if snapshot is not None else RunContext()
    return FinishRunInput(deployment="prod", execution_arn=execution, outcome=outcome, context=context)


def hold_lock(deployer: Deployer, execution: str) -> None:
    acquire_lock(deployment="prod", execution_arn=execution, table=TABLE, dynamodb=deployer.dynamodb, sfn=deployer.sfn)


def desired_changes(deployer: Deployer, count: int) -> None:
    for _ in range(count):
        record_desired_change(
            deployment="prod", parameter_name="/wandb-deployer/prod/infra/size", table=TABLE, dynamodb=deployer.dynamodb
        )


def store_approval(deployer: Deployer, execution: str) -> None:
    store_pending_approval(
        deployment="prod",
        execution_arn=execution,
        task_token="token",
        plan_sha256="ab" * 32,
        counts=ChangeCounts(delete=1),
        destructive=["module.wandb.aws_s3_bucket.b"],
        summary=S3Pointer(bucket=ARTIFACTS, key="runs/prod/run/plan-summary.json"),
        timeout_seconds=3600,
        table=TABLE,
        dynamodb=deployer.dynamodb,
    )


def running_build(deployer: Deployer, *, reported: bool = True) -> str:
    """A build whose holder marker names it and that CodeBuild reports IN_PROGRESS (moto finishes builds at once)."""
    build_id = str(deployer.codebuild.start_build(projectName="wbd-terraform")["build"]["id"])
    marker = {"build_id": build_id, "action": "apply"}
    deployer.s3.put_object(Bucket=ARTIFACTS, Key=MARKER, Body=json.dumps(marker).encode())
    if reported:
        in_progress = {"builds": [{"id": build_id, "buildStatus": "IN_PROGRESS"}]}
        answer_call(client("codebuild"), "BatchGetBuilds", in_progress)
    return build_id


def stop(deployer: Deployer) -> str | None:
    return stop_stray_build(deployment="prod", artifacts_bucket=ARTIFACTS, s3=deployer.s3, codebuild=deployer.codebuild)


def pending(deployer: Deployer) -> Any:
    return load_pending_approval(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)


# --- outcomes ---------------------------------------------------------------------------------------------------------


def test_a_succeeded_run_marks_what_it_applied_and_releases_the_lock(deployer: Deployer) -> None:
    me = deployer.start("me")
    desired_changes(deployer, 1)
    hold_lock(deployer, me)
    builds = recorded_calls(client("codebuild"))

    result = finish(request(me, "succeeded", snapshot=1), deployer.settings)

    assert result == FinishRunResult(deployment="prod", released=True, next_execution_arn=None)
    applied = read_applied(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert applied is not None
    assert (applied.fingerprint, applied.execution_arn, applied.generation, applied.wandb_generation) == (
        "f-run",
        me,
        1,
        "operator",
    )
    assert read_desired(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb).pending is False
    assert read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb) is None
    assert builds == []  # a run that succeeded has no stray build
    assert [e["executionArn"] for e in deployer.executions()] == [me]


@pytest.mark.parametrize("outcome", ["failed", "rejected"])
def test_a_failed_or_rejected_run_withdraws_its_approval_and_applies_nothing(deployer: Deployer, outcome: Any) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)
    store_approval(deployer, me)

    result = finish(request(me, outcome), deployer.settings)

    assert result == FinishRunResult(deployment="prod", released=True, next_execution_arn=None)
    assert pending(deployer) is None
    assert read_applied(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb) is None
    assert read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb) is None


@pytest.mark.parametrize("outcome", ["succeeded", "checked"])
def test_a_run_that_ends_normally_leaves_an_approval_alone(deployer: Deployer, outcome: Any) -> None:
    # An approval in the table now belongs to another run (the lock guarantees one waiting run at a time).
    me = deployer.start("me")
    hold_lock(deployer, me)
    store_approval(deployer, me)

    finish(request(me, outcome), deployer.settings)

    assert pending(deployer) is not None


def test_a_checked_drift_run_marks_nothing_applied(deployer: Deployer) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)

    result = finish(request(me, "checked"), deployer.settings)

    assert result == FinishRunResult(deployment="prod", released=True)
    assert read_applied(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb) is None


def test_a_failed_run_stops_its_stray_build(deployer: Deployer) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)
    build_id = running_build(deployer)
    builds = recorded_calls(client("codebuild"))

    result = finish(request(me, "failed"), deployer.settings)

    assert [(name, params) for name, params in builds if name == "StopBuild"] == [("StopBuild", {"id": build_id})]
    assert result == FinishRunResult(deployment="prod", released=True)


@pytest.mark.parametrize("outcome", ["succeeded", "rejected", "checked"])
def test_only_a_failed_run_stops_a_build(deployer: Deployer, outcome: Any) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)
    running_build(deployer)
    builds = recorded_calls(client("codebuild"))

    finish(request(me, outcome), deployer.settings)

    assert builds == []


def test_a_run_that_failed_before_loading_its_config_releases_and_starts_nothing(deployer: Deployer) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)
    desired_changes(deployer, 2)

    result = finish(request(me, "failed", snapshot=None), deployer.settings)

    assert result == FinishRunResult(deployment="prod", released=True, next_execution_arn=None)
    assert [e["executionArn"] for e in deployer.executions()] == [me]


def test_a_run_that_no_longer_holds_the_lock_says_so(deployer: Deployer) -> None:
    me, other = deployer.start("me"), deployer.start("other")
    hold_lock(deployer, other)

    result = finish(request(me, "succeeded"), deployer.settings)

    assert result.released is False
    lock = read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert lock is not None and lock.owner == other


# --- coalescing: the next run when the desired state moved -----------------------------------------------------------


@pytest.mark.parametrize("outcome", ["succeeded", "failed", "rejected", "checked"])
def test_a_change_made_during_the_run_starts_the_next_run(deployer: Deployer, outcome: Any) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)
    desired_changes(deployer, 2)  # the run snapshotted 1; one more change arrived while it ran

    result = finish(request(me, outcome, snapshot=1), deployer.settings)

    assert result.released is True
    assert result.next_execution_arn is not None
    started = [e for e in deployer.executions() if e["executionArn"] == result.next_execution_arn]
    assert len(started) == 1 and started[0]["name"].startswith("prod-rerun-")
    assert json.loads(deployer.sfn.describe_execution(executionArn=result.next_execution_arn)["input"]) == {
        "deployment": "prod",
        "trigger": "rerun",
    }
    lock = read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert lock is not None and lock.owner == result.next_execution_arn  # reserved for the run it started


def test_no_change_during_the_run_starts_nothing(deployer: Deployer) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)
    desired_changes(deployer, 3)

    result = finish(request(me, "succeeded", snapshot=3), deployer.settings)

    assert result.next_execution_arn is None
    assert [e["executionArn"] for e in deployer.executions()] == [me]


def test_a_run_started_by_the_trigger_meanwhile_takes_the_change(deployer: Deployer) -> None:
    # Given the lock is taken by the trigger's new run between this run's release and its rerun check
    me, newer = deployer.start("me"), deployer.start("newer")
    hold_lock(deployer, me)
    desired_changes(deployer, 2)
    before_call(
        client("dynamodb"),
        "GetItem",
        lambda: hold_lock(deployer, newer),
        when=lambda params: params["Key"]["sk"]["S"] == "DESIRED",
    )

    result = finish(request(me, "succeeded", snapshot=1), deployer.settings)

    # Then this run starts nothing: the newer run snapshots the newest config.
    assert result == FinishRunResult(deployment="prod", released=True, next_execution_arn=None)
    assert {e["executionArn"] for e in deployer.executions()} == {me, newer}


# --- failures ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "code", "status"),
    [
        ("GetObject", "AccessDenied", 403),
        ("BatchGetBuilds", "AccessDeniedException", 400),
        ("StopBuild", "AccessDeniedException", 400),
        ("StopBuild", "ThrottlingException", 400),
    ],
)
def test_a_build_that_cannot_be_stopped_does_not_keep_the_lock(
    deployer: Deployer, operation: str, code: str, status: int
) -> None:
    # A failed run releases its lock whatever else fails; a build still running keeps the next run out by itself
    # (the next run's lock step refuses while the build holds the Terraform state lock).
    me = deployer.start("me")
    hold_lock(deployer, me)
    store_approval(deployer, me)
    running_build(deployer, reported=operation != "BatchGetBuilds")
    failing = client("s3") if operation == "GetObject" else client("codebuild")
    failed = fail_call(failing, operation, code, status=status)

    result = finish(request(me, "failed"), deployer.settings)

    assert len(failed) == 1
    assert result == FinishRunResult(deployment="prod", released=True)
    assert read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb) is None
    assert pending(deployer) is None


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [("ThrottlingException", 400, TransientAwsError), ("AccessDeniedException", 400, AwsRequestFailedError)],
)
@pytest.mark.parametrize("operation", ["PutItem", "DeleteItem"])
def test_a_failed_table_write_fails_the_step(
    deployer: Deployer, operation: str, code: str, status: int, error: type[Exception]
) -> None:
    me = deployer.start("me")
    hold_lock(deployer, me)
    fail_call(client("dynamodb"), operation, code, status=status)

    with pytest.raises(error):
        finish(request(me, "succeeded"), deployer.settings)


# --- stop_stray_build -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker",
    [None, b"{}", b'{"build_id": ""}', b'{"action": "apply"}'],
)
def test_without_a_build_named_in_the_marker_nothing_is_stopped(deployer: Deployer, marker: bytes | None) -> None:
    if marker is not None:
        deployer.s3.put_object(Bucket=ARTIFACTS, Key=MARKER, Body=marker)
    builds = recorded_calls(deployer.codebuild)

    stopped = stop(deployer)

    assert stopped is None and builds == []


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED", "STOPPED"])
def test_a_build_that_ended_is_not_stopped(deployer: Deployer, status: str) -> None:
    build_id = str(deployer.codebuild.start_build(projectName="wbd-terraform")["build"]["id"])
    deployer.s3.put_object(Bucket=ARTIFACTS, Key=MARKER, Body=json.dumps({"build_id": build_id}).encode())
    answer_call(deployer.codebuild, "BatchGetBuilds", {"builds": [{"id": build_id, "buildStatus": status}]})
    builds = recorded_calls(deployer.codebuild)

    stopped = stop(deployer)

    assert stopped is None
    assert [name for name, _ in builds] == ["BatchGetBuilds"]


def test_a_build_codebuild_does_not_know_is_not_stopped(deployer: Deployer) -> None:
    deployer.s3.put_object(Bucket=ARTIFACTS, Key=MARKER, Body=b'{"build_id": "wbd-terraform:gone"}')
    builds = recorded_calls(deployer.codebuild)

    stopped = stop(deployer)

    assert stopped is None
    assert [(name, params) for name, params in builds] == [("BatchGetBuilds", {"ids": ["wbd-terraform:gone"]})]


def test_a_running_build_is_stopped_and_named(deployer: Deployer) -> None:
    build_id = str(deployer.codebuild.start_build(projectName="wbd-terraform")["build"]["id"])
    deployer.s3.put_object(Bucket=ARTIFACTS, Key=MARKER, Body=json.dumps({"build_id": build_id}).encode())
    answer_call(deployer.codebuild, "BatchGetBuilds", {"builds": [{"id": build_id, "buildStatus": "IN_PROGRESS"}]})

    stopped = stop(deployer)

    assert stopped == build_id


@pytest.mark.parametrize(
    ("operation", "code", "status", "error"),
    [
        ("GetObject", "AccessDenied", 403, AwsRequestFailedError),
        ("GetObject", "SlowDown", 503, TransientAwsError),
        ("BatchGetBuilds", "ThrottlingException", 400, TransientAwsError),
        ("StopBuild", "AccessDeniedException", 400, AwsRequestFailedError),
    ],
)
def test_stop_stray_build_names_what_failed(
    deployer: Deployer, operation: str, code: str, status: int, error: type[Exception]
) -> None:
    build_id = str(deployer.codebuild.start_build(projectName="wbd-terraform")["build"]["id"])
    deployer.s3.put_object(Bucket=ARTIFACTS, Key=MARKER, Body=json.dumps({"build_id": build_id}).encode())
    fail_call(deployer.s3 if operation == "GetObject" else deployer.codebuild, operation, code, status=status)
    answer_call(deployer.codebuild, "BatchGetBuilds", {"builds": [{"id": build_id, "buildStatus": "IN_PROGRESS"}]})

    with pytest.raises(error, match=operation):
        stop(deployer)
