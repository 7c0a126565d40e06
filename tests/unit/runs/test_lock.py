"""The deployment lock: one run at a time, safe takeover, and release of a stale Terraform state lock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tests.unit.runs.conftest import REGION, TABLE
from wandb_deployer.errors import DeploymentLockedError, ForeignStateLockError
from wandb_deployer.runs.lock import (
    START_GRACE_SECONDS,
    LockState,
    acquire_lock,
    read_lock,
    release_lock,
    release_stale_state_lock,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _lock(dynamodb: Any) -> LockState:
    lock = read_lock(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert lock is not None
    return lock


def _acquire(arn: str, dynamodb: Any, sfn: Any, now: datetime = NOW, lease_seconds: int = 7200):
    return acquire_lock(
        deployment="prod",
        execution_arn=arn,
        table=TABLE,
        dynamodb=dynamodb,
        sfn=sfn,
        lease_seconds=lease_seconds,
        now=now,
    )


def test_free_lock_is_acquired_and_renewed_by_its_owner(dynamodb, sfn, start_execution):
    first = start_execution("first")

    result = _acquire(first, dynamodb, sfn)
    renewed = _acquire(first, dynamodb, sfn, now=NOW + timedelta(hours=1))

    assert result.took_over_from is None and renewed.took_over_from is None
    lock = read_lock(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert lock is not None and lock.owner == first
    assert lock.lease_until == int((NOW + timedelta(hours=3)).timestamp())


def test_lock_held_by_a_running_execution_is_refused(dynamodb, sfn, start_execution):
    first, second = start_execution("first"), start_execution("second")
    _acquire(first, dynamodb, sfn)

    with pytest.raises(DeploymentLockedError, match="first"):
        _acquire(second, dynamodb, sfn)

    assert _lock(dynamodb).owner == first


def test_lock_of_a_stopped_execution_is_taken_over(dynamodb, sfn, start_execution):
    first, second = start_execution("first"), start_execution("second")
    _acquire(first, dynamodb, sfn)
    sfn.stop_execution(executionArn=first)

    result = _acquire(second, dynamodb, sfn)

    assert result.took_over_from == first
    lock = _lock(dynamodb)
    assert lock.owner == second and lock.took_over_from == first


def test_lock_of_an_execution_that_does_not_exist_is_taken_over_after_the_start_grace(
    dynamodb, sfn, state_machine_arn, start_execution
):
    ghost = state_machine_arn.replace(":stateMachine:", ":execution:") + ":ghost"
    _acquire(ghost, dynamodb, sfn)

    result = _acquire(start_execution("second"), dynamodb, sfn, now=NOW + timedelta(seconds=START_GRACE_SECONDS + 1))

    assert result.took_over_from == ghost


def test_lock_reserved_for_an_execution_being_started_is_honoured(dynamodb, sfn, state_machine_arn, start_execution):
    # Given a trigger reserved the lock for an execution it is starting (it does not exist yet),
    planned = state_machine_arn.replace(":stateMachine:", ":execution:") + ":being-started"
    _acquire(planned, dynamodb, sfn, lease_seconds=START_GRACE_SECONDS)

    # then another claimant within the grace period is refused: the change coalesces into the starting run.
    with pytest.raises(DeploymentLockedError):
        _acquire(start_execution("second"), dynamodb, sfn, now=NOW + timedelta(seconds=30))


def test_expired_lease_is_taken_over_even_if_the_owner_runs(dynamodb, sfn, start_execution):
    first, second = start_execution("first"), start_execution("second")
    _acquire(first, dynamodb, sfn, lease_seconds=60)

    result = _acquire(second, dynamodb, sfn, now=NOW + timedelta(minutes=5))

    assert result.took_over_from == first
    assert _lock(dynamodb).took_over_from == first


def test_release_is_conditional_on_the_owner_and_idempotent(dynamodb, sfn, start_execution):
    first, second = start_execution("first"), start_execution("second")
    _acquire(first, dynamodb, sfn)

    assert release_lock(deployment="prod", execution_arn=second, table=TABLE, dynamodb=dynamodb) is False
    assert release_lock(deployment="prod", execution_arn=first, table=TABLE, dynamodb=dynamodb) is True
    assert release_lock(deployment="prod", execution_arn=first, table=TABLE, dynamodb=dynamodb) is False
    assert read_lock(deployment="prod", table=TABLE, dynamodb=dynamodb) is None
    assert _acquire(second, dynamodb, sfn).took_over_from is None


# --- stale Terraform state lock -------------------------------------------------------------------------------------

STATE_BUCKET, ARTIFACTS_BUCKET, STATE_KEY = "wbd-state", "wbd-artifacts", "deployments/prod/terraform.tfstate"
MARKER = "locks/prod/holder.json"


@pytest.fixture
def s3(aws):
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=STATE_BUCKET)
    client.create_bucket(Bucket=ARTIFACTS_BUCKET)
    return client


@pytest.fixture
def codebuild(aws):
    client = boto3.client("codebuild", region_name=REGION)
    client.create_project(
        name="wbd-terraform",
        source={"type": "S3", "location": "wbd-artifacts/workspaces/prod.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole="arn:aws:iam::123456789012:role/codebuild",
    )
    return client


def _hold_state_lock(s3, build_id: str | None) -> None:
    s3.put_object(Bucket=STATE_BUCKET, Key=f"{STATE_KEY}.tflock", Body=b'{"ID":"x"}')
    if build_id is not None:
        marker = {"build_id": build_id, "action": "apply", "started_at": "2026-05-01T11:00:00Z"}
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=MARKER, Body=json.dumps(marker).encode())


def _release(s3, codebuild) -> bool:
    return release_stale_state_lock(
        deployment="prod",
        state_bucket=STATE_BUCKET,
        state_key=STATE_KEY,
        artifacts_bucket=ARTIFACTS_BUCKET,
        s3=s3,
        codebuild=codebuild,
    )


def _exists(s3, bucket: str, key: str) -> bool:
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0) > 0)


def test_no_state_lock_nothing_to_release(s3, codebuild):
    assert _release(s3, codebuild) is False


def test_state_lock_of_a_finished_build_is_released(s3, codebuild):
    build_id = codebuild.start_build(projectName="wbd-terraform")["build"]["id"]  # moto reports it finished
    _hold_state_lock(s3, build_id)

    assert _release(s3, codebuild) is True
    assert not _exists(s3, STATE_BUCKET, f"{STATE_KEY}.tflock")
    assert not _exists(s3, ARTIFACTS_BUCKET, MARKER)


def test_state_lock_without_holder_marker_is_never_broken(s3, codebuild):
    # Given a lock no build of the deployer accounts for (a human's break-glass `terraform` session)
    _hold_state_lock(s3, None)

    # Then the run fails with a clear error and the lock stays (security review, item 10)
    with pytest.raises(ForeignStateLockError, match="force-unlock"):
        _release(s3, codebuild)
    assert _exists(s3, STATE_BUCKET, f"{STATE_KEY}.tflock")


def test_state_lock_taken_after_the_marked_build_ended_is_never_broken(s3, codebuild):
    build_id = "wbd-terraform:11111111-2222-3333-4444-555555555555"
    _hold_state_lock(s3, build_id)  # the lock object is written now, after the build below ended
    ended = datetime.now(tz=UTC) - timedelta(hours=1)
    stubber = Stubber(codebuild)
    stubber.add_response(
        "batch_get_builds",
        {"builds": [{"id": build_id, "buildStatus": "STOPPED", "endTime": ended}]},
        {"ids": [build_id]},
    )

    with stubber, pytest.raises(ForeignStateLockError, match="after build"):
        _release(s3, codebuild)
    assert _exists(s3, STATE_BUCKET, f"{STATE_KEY}.tflock")
    assert _exists(s3, ARTIFACTS_BUCKET, MARKER)


def test_state_lock_of_a_build_that_ended_after_taking_it_is_released(s3, codebuild):
    build_id = "wbd-terraform:11111111-2222-3333-4444-555555555555"
    _hold_state_lock(s3, build_id)
    stubber = Stubber(codebuild)
    stubber.add_response(
        "batch_get_builds",
        {"builds": [{"id": build_id, "buildStatus": "STOPPED", "endTime": datetime.now(tz=UTC) + timedelta(hours=1)}]},
        {"ids": [build_id]},
    )

    with stubber:
        assert _release(s3, codebuild) is True
    assert not _exists(s3, STATE_BUCKET, f"{STATE_KEY}.tflock")


def test_state_lock_of_an_unknown_build_is_released(s3, codebuild):
    _hold_state_lock(s3, "wbd-terraform:00000000-0000-0000-0000-000000000000")

    assert _release(s3, codebuild) is True


def test_state_lock_of_a_running_build_is_kept(s3, codebuild):
    build_id = "wbd-terraform:11111111-2222-3333-4444-555555555555"
    _hold_state_lock(s3, build_id)
    stubber = Stubber(codebuild)
    stubber.add_response(
        "batch_get_builds", {"builds": [{"id": build_id, "buildStatus": "IN_PROGRESS"}]}, {"ids": [build_id]}
    )

    with stubber, pytest.raises(DeploymentLockedError, match="running build"):
        _release(s3, codebuild)

    assert _exists(s3, STATE_BUCKET, f"{STATE_KEY}.tflock")
    assert _exists(s3, ARTIFACTS_BUCKET, MARKER)
