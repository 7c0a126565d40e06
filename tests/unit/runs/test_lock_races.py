"""The deployment lock when it changes hands while a run acquires it, when AWS fails, and at its time boundaries.

Races are played deterministically: another actor (with its own client) moves right before one of the acquiring run's
calls is sent (`tests.unit.faults.before_call`). Failures are AWS's answers injected into one operation
(`tests.unit.faults.fail_call`); every other call reaches moto.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from tests.unit.faults import answer_call, before_call, fail_call, recorded_calls
from tests.unit.runs.conftest import REGION, TABLE
from tests.unit.runs.test_lock import NOW, _acquire, _lock
from wandb_deployer.errors import (
    AwsRequestFailedError,
    DeploymentLockedError,
    ForeignStateLockError,
    TransientAwsError,
)
from wandb_deployer.runs.lock import START_GRACE_SECONDS, read_lock, release_lock, release_stale_state_lock
from wandb_deployer.states import LockResult

pytestmark = pytest.mark.unit

THROTTLED = ("ThrottlingException", 400, TransientAwsError)
DENIED = ("AccessDeniedException", 400, AwsRequestFailedError)
UNAVAILABLE = ("ServiceUnavailable", 503, TransientAwsError)


def is_takeover(params: Any) -> bool:
    return params.get("ConditionExpression") == "#owner = :old"


@pytest.fixture
def other_dynamodb(dynamodb: Any) -> Any:
    """Another actor's client on the same table: its calls are not intercepted."""
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def dead(sfn: Any, start_execution: Any) -> Any:
    """An execution that ran and ended (the owner of a lock that may be taken over)."""

    def make(name: str) -> str:
        arn = start_execution(name)
        sfn.stop_execution(executionArn=arn)
        return arn

    return make


# --- races -----------------------------------------------------------------------------------------------------------


def test_a_lock_that_changes_hands_at_every_takeover_is_refused_after_three_tries(
    dynamodb, other_dynamodb, sfn, start_execution, dead
):
    # Given a lock held by a run that ended, and three other claimants that each win the takeover race
    killed = dead("killed")
    _acquire(killed, dynamodb, sfn)
    rivals = iter([dead("rival-1"), dead("rival-2"), dead("rival-3")])
    raced = before_call(
        dynamodb, "PutItem", lambda: _acquire(next(rivals), other_dynamodb, sfn), times=3, when=is_takeover
    )
    me = start_execution("me")

    # When this run tries to take it over, always a moment too late
    with pytest.raises(DeploymentLockedError, match="changed hands while acquiring"):
        _acquire(me, dynamodb, sfn)

    # Then it gives up (it never runs without the lock) and the last rival holds the lock.
    assert len(raced) == 3
    lock = _lock(dynamodb)
    assert lock.owner.endswith(":rival-3") and lock.took_over_from is not None
    assert lock.took_over_from.endswith(":rival-2")


def test_a_running_rival_that_wins_the_takeover_race_keeps_the_lock(
    dynamodb, other_dynamodb, sfn, start_execution, dead
):
    killed = dead("killed")
    _acquire(killed, dynamodb, sfn)
    rival = start_execution("rival")  # running
    before_call(dynamodb, "PutItem", lambda: _acquire(rival, other_dynamodb, sfn), when=is_takeover)

    with pytest.raises(DeploymentLockedError, match=r"locked by the running execution .*:rival"):
        _acquire(start_execution("me"), dynamodb, sfn)

    lock = _lock(dynamodb)
    assert lock.owner == rival and lock.took_over_from == killed


def test_a_lock_released_between_the_refused_put_and_the_read_is_then_taken_plainly(
    dynamodb, other_dynamodb, sfn, start_execution
):
    holder, me = start_execution("holder"), start_execution("me")
    _acquire(holder, dynamodb, sfn)
    release = before_call(
        dynamodb,
        "GetItem",
        lambda: release_lock(deployment="prod", execution_arn=holder, table=TABLE, dynamodb=other_dynamodb),
    )

    result = _acquire(me, dynamodb, sfn)

    assert release, "the holder released while this run was looking at the lock"
    assert result == LockResult(deployment="prod", execution_arn=me)
    lock = _lock(dynamodb)
    assert lock.owner == me and lock.took_over_from is None


def test_a_takeover_note_that_loses_a_race_still_reports_the_takeover(dynamodb, other_dynamodb, sfn, start_execution):
    # Given an expired lease replaced by the plain put, and the lock moved on before the note is written
    first, me, later = start_execution("first"), start_execution("me"), start_execution("later")
    _acquire(first, dynamodb, sfn, lease_seconds=60)
    moment = NOW + timedelta(minutes=5)
    before_call(
        dynamodb,
        "UpdateItem",
        lambda: _acquire(later, other_dynamodb, sfn, now=moment + timedelta(hours=3)),  # after my lease ended
    )

    result = _acquire(me, dynamodb, sfn, now=moment)

    # Then this run did take the lock over (its result says so) and the note did not overwrite the newer lock.
    assert result == LockResult(deployment="prod", execution_arn=me, took_over_from=first)
    lock = _lock(dynamodb)
    assert lock.owner == later and lock.took_over_from == me


# --- AWS failures ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED, UNAVAILABLE])
def test_a_failed_liveness_check_never_takes_a_lock_over(dynamodb, sfn, start_execution, code, status, error):
    # Throttling is not "the owner is gone": the run fails (retryably) and the holder keeps its lock.
    holder = start_execution("holder")
    _acquire(holder, dynamodb, sfn)
    failed = fail_call(sfn, "DescribeExecution", code, status=status)

    with pytest.raises(error, match=r"^DescribeExecution failed"):
        _acquire(start_execution("me"), dynamodb, sfn)

    assert len(failed) == 1 and failed[0]["executionArn"] == holder
    assert _lock(dynamodb).owner == holder


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED])
def test_a_failed_existence_check_of_a_reserved_owner_keeps_the_reservation(
    dynamodb, sfn, state_machine_arn, start_execution, code, status, error
):
    planned = state_machine_arn.replace(":stateMachine:", ":execution:") + ":being-started"
    _acquire(planned, dynamodb, sfn, lease_seconds=START_GRACE_SECONDS)
    # The first look finds it not running (it does not exist yet); the second, whether it exists, fails.
    first_look = fail_call(sfn, "DescribeExecution", "ExecutionDoesNotExist")
    failed = fail_call(sfn, "DescribeExecution", code, status=status)

    with pytest.raises(error, match=r"^DescribeExecution failed"):
        _acquire(start_execution("me"), dynamodb, sfn, now=NOW + timedelta(seconds=5))

    assert len(first_look) == 1 and len(failed) == 1
    assert _lock(dynamodb).owner == planned


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED, UNAVAILABLE])
@pytest.mark.parametrize(
    ("operation", "when", "named"),
    [
        ("PutItem", lambda p: not is_takeover(p), "PutItem lock"),
        ("GetItem", None, "GetItem lock"),
        ("PutItem", is_takeover, "PutItem lock takeover"),
    ],
)
def test_a_failed_lock_request_fails_the_acquire_and_changes_nothing(
    dynamodb, sfn, start_execution, dead, code, status, error, operation, when, named
):
    killed = dead("killed")
    _acquire(killed, dynamodb, sfn)
    failed = fail_call(dynamodb, operation, code, status=status, when=when)

    with pytest.raises(error, match=rf"^{named} failed"):
        _acquire(start_execution("me"), dynamodb, sfn)

    assert len(failed) == 1
    assert _lock(dynamodb).owner == killed


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED])
def test_a_failed_takeover_note_fails_the_acquire(dynamodb, sfn, start_execution, code, status, error):
    first, me = start_execution("first"), start_execution("me")
    _acquire(first, dynamodb, sfn, lease_seconds=60)
    fail_call(dynamodb, "UpdateItem", code, status=status)

    with pytest.raises(error, match=r"^UpdateItem lock failed"):
        _acquire(me, dynamodb, sfn, now=NOW + timedelta(minutes=5))

    assert _lock(dynamodb).owner == me  # the put happened; the retry of the step renews it and notes the takeover


@pytest.mark.parametrize(("code", "status", "error"), [THROTTLED, DENIED])
def test_a_failed_release_raises_and_the_lock_stays(dynamodb, sfn, start_execution, code, status, error):
    holder = start_execution("holder")
    _acquire(holder, dynamodb, sfn)
    fail_call(dynamodb, "DeleteItem", code, status=status)

    with pytest.raises(error, match=r"^DeleteItem lock failed"):
        release_lock(deployment="prod", execution_arn=holder, table=TABLE, dynamodb=dynamodb)

    assert _lock(dynamodb).owner == holder


def test_a_failed_lock_read_is_an_error_not_a_free_lock(dynamodb):
    fail_call(dynamodb, "GetItem", "InternalServerError", status=500)

    with pytest.raises(TransientAwsError, match=r"^GetItem lock failed"):
        read_lock(deployment="prod", table=TABLE, dynamodb=dynamodb)


# --- time boundaries -------------------------------------------------------------------------------------------------


def test_a_lease_holds_up_to_its_last_second(dynamodb, sfn, start_execution, dead):
    # A running owner with a lease of 60 s: at exactly 60 s the lease still holds; one second later it has expired.
    owner = start_execution("owner")
    _acquire(owner, dynamodb, sfn, lease_seconds=60)

    with pytest.raises(DeploymentLockedError):
        _acquire(start_execution("early"), dynamodb, sfn, now=NOW + timedelta(seconds=60))
    late = _acquire(start_execution("late"), dynamodb, sfn, now=NOW + timedelta(seconds=61))

    assert late.took_over_from == owner


def test_a_reservation_is_honoured_until_its_lease_ends(dynamodb, sfn, state_machine_arn, start_execution):
    # The trigger reserved the lock for an execution not started yet, for 60 s: at 60 s it still counts as live.
    planned = state_machine_arn.replace(":stateMachine:", ":execution:") + ":being-started"
    _acquire(planned, dynamodb, sfn, lease_seconds=60)

    with pytest.raises(DeploymentLockedError, match="being-started"):
        _acquire(start_execution("me"), dynamodb, sfn, now=NOW + timedelta(seconds=60))


def test_a_reservation_counts_for_the_start_grace_and_not_a_second_longer(
    dynamodb, sfn, state_machine_arn, start_execution
):
    planned = state_machine_arn.replace(":stateMachine:", ":execution:") + ":never-started"
    _acquire(planned, dynamodb, sfn, lease_seconds=7200)  # a lease longer than the grace

    with pytest.raises(DeploymentLockedError):
        _acquire(start_execution("early"), dynamodb, sfn, now=NOW + timedelta(seconds=START_GRACE_SECONDS))
    late = _acquire(start_execution("late"), dynamodb, sfn, now=NOW + timedelta(seconds=START_GRACE_SECONDS + 1))

    assert late.took_over_from == planned


def test_a_reserved_execution_that_started_and_ended_within_the_grace_is_taken_over(
    dynamodb, sfn, start_execution, dead
):
    # The grace is for an execution that does not exist yet; one that exists and is not running is gone.
    ended = dead("ended")
    _acquire(ended, dynamodb, sfn, lease_seconds=7200)

    result = _acquire(start_execution("me"), dynamodb, sfn, now=NOW + timedelta(seconds=5))

    assert result.took_over_from == ended
    assert _lock(dynamodb).owner.endswith(":me")


# --- the Terraform state lock: what AWS answers -----------------------------------------------------------------------

STATE_BUCKET, ARTIFACTS_BUCKET = "wbd-state", "wbd-artifacts"
TFLOCK = "deployments/prod/terraform.tfstate.tflock"
MARKER = "locks/prod/holder.json"


@pytest.fixture
def buckets(aws):
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=STATE_BUCKET)
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    s3.put_object(Bucket=STATE_BUCKET, Key=TFLOCK, Body=b'{"ID": "x"}')
    codebuild = boto3.client("codebuild", region_name=REGION)
    return s3, codebuild


def release_state_lock(s3, codebuild) -> bool:
    return release_stale_state_lock(
        deployment="prod",
        state_bucket=STATE_BUCKET,
        state_key="deployments/prod/terraform.tfstate",
        artifacts_bucket=ARTIFACTS_BUCKET,
        s3=s3,
        codebuild=codebuild,
    )


@pytest.mark.parametrize(("code", "status"), [("404", 404), ("NoSuchKey", 404), ("NotFound", 404)])
def test_every_not_found_answer_means_no_state_lock(buckets, code, status):
    s3, codebuild = buckets
    fail_call(s3, "HeadObject", code, status=status)
    assert release_state_lock(s3, codebuild) is False


# Since security item 10 a lock without the deployer's holder marker is not the deployer's (a human's break-glass
# lock, another tool's): it is left in place and named, never deleted (issue 14 had these release it).
@pytest.mark.parametrize(("code", "status"), [("404", 404), ("NoSuchKey", 404), ("NotFound", 404)])
def test_every_not_found_answer_means_no_holder_marker(buckets, code, status):
    s3, codebuild = buckets
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=MARKER, Body=b'{"build_id": "b"}')
    fail_call(s3, "GetObject", code, status=status)
    builds = recorded_calls(codebuild)

    with pytest.raises(ForeignStateLockError, match=r"^deployment 'prod': s3://wbd-state/deployments/prod/"):
        release_state_lock(s3, codebuild)

    assert builds == []  # no marker: no build to ask about
    assert s3.list_objects_v2(Bucket=STATE_BUCKET)["Contents"][0]["Key"] == TFLOCK


@pytest.mark.parametrize("marker", [b"not json", b'["build_id", "b"]', b"{}"])
def test_an_unreadable_holder_marker_means_an_unknown_holder(buckets, marker):
    s3, codebuild = buckets
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=MARKER, Body=marker)
    builds = recorded_calls(codebuild)

    with pytest.raises(ForeignStateLockError, match="no build of the deployer holds it"):
        release_state_lock(s3, codebuild)

    assert builds == []
    assert s3.list_objects_v2(Bucket=STATE_BUCKET).get("KeyCount") == 1  # the lock stays
    assert s3.list_objects_v2(Bucket=ARTIFACTS_BUCKET).get("KeyCount") == 1  # and so does the marker


@pytest.mark.parametrize(
    ("operation", "code", "status", "message"),
    [
        ("HeadObject", "403", 403, "HeadObject state lock failed: 403"),
        ("GetObject", "AccessDenied", 403, "GetObject state lock holder failed: AccessDenied"),
        (
            "BatchGetBuilds",
            "ThrottlingException",
            400,
            "BatchGetBuilds failed and may succeed on retry: ThrottlingException",
        ),
        ("DeleteObject", "AccessDenied", 403, "DeleteObject state lock failed: AccessDenied"),
    ],
)
def test_a_state_lock_request_that_fails_says_which(buckets, operation, code, status, message):
    s3, codebuild = buckets
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=MARKER, Body=b'{"build_id": "wbd-terraform:b"}')
    fail_call(codebuild if operation == "BatchGetBuilds" else s3, operation, code, status=status)

    with pytest.raises((TransientAwsError, AwsRequestFailedError)) as raised:
        release_state_lock(s3, codebuild)

    assert str(raised.value) == message
    assert s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=TFLOCK).get("KeyCount") == 1


@pytest.mark.parametrize("answer", [{"builds": []}, {"builds": [{"id": "wbd-terraform:b"}]}, {}])
def test_a_build_codebuild_does_not_report_running_does_not_hold_the_state(buckets, answer):
    s3, codebuild = buckets
    s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=MARKER, Body=b'{"build_id": "wbd-terraform:b"}')
    asked = answer_call(codebuild, "BatchGetBuilds", answer)

    assert release_state_lock(s3, codebuild) is True
    assert asked == [{"ids": ["wbd-terraform:b"]}]
