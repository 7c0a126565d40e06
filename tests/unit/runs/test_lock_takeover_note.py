"""A takeover stays on record: the trigger takes the lock over from a dead run for the execution it starts, and that
execution's own Acquire lock (a renewal by the owner) still reports whom the lock was taken over from."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.runs.test_lock import NOW, _acquire, _lock
from wandb_deployer.runs.lock import START_GRACE_SECONDS

pytestmark = pytest.mark.unit


def test_takeover_by_the_trigger_is_reported_by_the_started_execution(dynamodb, sfn, start_execution):
    # Given a run that holds the lock and was killed,
    killed = start_execution("killed")
    _acquire(killed, dynamodb, sfn)
    sfn.stop_execution(executionArn=killed)

    # when a trigger reserves the lock for the execution it starts (a takeover), and that execution acquires it,
    started = start_execution("started")
    reserved = _acquire(started, dynamodb, sfn, lease_seconds=START_GRACE_SECONDS)
    acquired = _acquire(started, dynamodb, sfn, now=NOW + timedelta(seconds=5))

    # then both results and the lock item name the killed run.
    assert reserved.took_over_from == killed
    assert acquired.took_over_from == killed
    lock = _lock(dynamodb)
    assert lock.owner == started and lock.took_over_from == killed
    assert lock.lease_until == int((NOW + timedelta(seconds=5, hours=2)).timestamp())


def test_plain_renewal_reports_no_takeover(dynamodb, sfn, start_execution):
    owner = start_execution("owner")
    _acquire(owner, dynamodb, sfn)

    assert _acquire(owner, dynamodb, sfn, now=NOW + timedelta(minutes=1)).took_over_from is None
    assert _lock(dynamodb).took_over_from is None
