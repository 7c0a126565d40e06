"""Desired state and coalescing: a counter per deployment, and one run at a time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from tests.unit.runs.conftest import TABLE
from wandb_deployer.errors import DeployerError
from wandb_deployer.runs.desired import (
    current_desired_generation,
    desired_moved,
    execution_name,
    mark_applied,
    read_applied,
    read_desired,
    record_desired_change,
    start_run_unless_running,
)
from wandb_deployer.runs.lock import acquire_lock, release_lock

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 1, 12, 0, 5, tzinfo=UTC)


def _change(dynamodb, name: str = "/wandb-deployer/prod/infra/size") -> None:
    record_desired_change(deployment="prod", parameter_name=name, table=TABLE, dynamodb=dynamodb, parameter_version=3)


def test_every_change_moves_the_generation(dynamodb):
    assert current_desired_generation(deployment="prod", table=TABLE, dynamodb=dynamodb) == 0

    _change(dynamodb)
    _change(dynamodb, "/wandb-deployer/prod/deployer/approval")

    desired = read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert desired.generation == 2
    assert desired.pending is True
    assert desired.parameter_name == "/wandb-deployer/prod/deployer/approval"
    assert desired.parameter_version == 3


def test_run_end_sees_a_change_made_during_the_run(dynamodb):
    _change(dynamodb)
    snapshot = current_desired_generation(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert desired_moved(deployment="prod", applied_generation=snapshot, table=TABLE, dynamodb=dynamodb) is False

    _change(dynamodb)  # during the run

    assert desired_moved(deployment="prod", applied_generation=snapshot, table=TABLE, dynamodb=dynamodb) is True


def test_mark_applied_clears_pending_only_when_nothing_moved(dynamodb):
    _change(dynamodb)
    mark_applied(
        deployment="prod", fingerprint="f1", execution_arn="arn:x:1", generation=1, table=TABLE, dynamodb=dynamodb
    )
    assert read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb).pending is False
    applied = read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert applied is not None and applied.fingerprint == "f1" and applied.generation == 1

    _change(dynamodb)
    mark_applied(
        deployment="prod", fingerprint="f2", execution_arn="arn:x:2", generation=1, table=TABLE, dynamodb=dynamodb
    )
    assert read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb).pending is True


def _start(dynamodb, sfn, state_machine_arn, *, paused: bool = False, trigger="parameter-change"):
    return start_run_unless_running(
        deployment="prod",
        trigger=trigger,
        state_machine_arn=state_machine_arn,
        sfn=sfn,
        dynamodb=dynamodb,
        table=TABLE,
        paused=paused,
    )


def test_change_starts_a_run_when_none_is_running(dynamodb, sfn, state_machine_arn):
    arn = _start(dynamodb, sfn, state_machine_arn)

    assert arn is not None
    execution = sfn.describe_execution(executionArn=arn)
    assert json.loads(execution["input"]) == {"deployment": "prod", "trigger": "parameter-change"}
    assert re.fullmatch(r"prod-parameter-change-\d{14}-[0-9a-f]{8}", execution["name"])


def test_change_coalesces_into_the_running_run(dynamodb, sfn, state_machine_arn):
    running = _start(dynamodb, sfn, state_machine_arn)
    acquire_lock(deployment="prod", execution_arn=running, table=TABLE, dynamodb=dynamodb, sfn=sfn)

    assert _start(dynamodb, sfn, state_machine_arn) is None
    assert len(sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]) == 1


def test_lock_of_a_dead_run_does_not_block_a_new_run(dynamodb, sfn, state_machine_arn):
    dead = _start(dynamodb, sfn, state_machine_arn)
    acquire_lock(deployment="prod", execution_arn=dead, table=TABLE, dynamodb=dynamodb, sfn=sfn)
    sfn.stop_execution(executionArn=dead)

    assert _start(dynamodb, sfn, state_machine_arn) is not None


def test_end_of_run_sequence_starts_the_next_run(dynamodb, sfn, state_machine_arn):
    """release -> desired_moved -> start: the change made during the run is not lost."""
    run = _start(dynamodb, sfn, state_machine_arn)
    acquire_lock(deployment="prod", execution_arn=run, table=TABLE, dynamodb=dynamodb, sfn=sfn)
    snapshot = current_desired_generation(deployment="prod", table=TABLE, dynamodb=dynamodb)
    _change(dynamodb)
    assert _start(dynamodb, sfn, state_machine_arn) is None  # the trigger coalesces

    release_lock(deployment="prod", execution_arn=run, table=TABLE, dynamodb=dynamodb)
    assert desired_moved(deployment="prod", applied_generation=snapshot, table=TABLE, dynamodb=dynamodb)
    follow_up = _start(dynamodb, sfn, state_machine_arn, trigger="rerun")

    assert follow_up is not None and follow_up != run


def test_paused_deployment_records_and_starts_nothing(dynamodb, sfn, state_machine_arn):
    _change(dynamodb)

    assert _start(dynamodb, sfn, state_machine_arn, paused=True) is None

    desired = read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert desired.pending is True and desired.paused_at is not None
    assert sfn.list_executions(stateMachineArn=state_machine_arn)["executions"] == []


def test_execution_name_fits_step_functions_rules():
    name = execution_name("a" * 32, "parameter-change", NOW)

    assert len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)
    assert "-20260501120005-" in name
    assert execution_name("prod", "manual", NOW) != execution_name("prod", "manual", NOW)


def test_a_burst_of_triggers_starts_exactly_one_run(dynamodb, sfn, state_machine_arn):
    # Given no run, when 20 triggers race (none has seen an execution take the lock yet),
    started = [_start(dynamodb, sfn, state_machine_arn) for _ in range(20)]

    # then exactly one started a run: the first reserved the lock for its execution and the rest coalesced.
    assert len([arn for arn in started if arn is not None]) == 1
    assert len(sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]) == 1


def test_a_failed_start_releases_the_reservation(dynamodb, sfn, state_machine_arn):
    # Given StartExecution fails (an unknown state machine),
    missing = state_machine_arn.replace(":stateMachine:deploy", ":stateMachine:missing")
    with pytest.raises(DeployerError):
        _start(dynamodb, sfn, missing)

    # then the reservation is gone and the next trigger starts a run.
    assert _start(dynamodb, sfn, state_machine_arn) is not None
