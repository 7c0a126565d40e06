"""After an apply whose health check failed until its deadline: the failure's record and notification offer the exact
rollback command, and deployer/on_unhealthy `rollback` makes the end of the run start it, never twice in a row."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import push
from tests.unit.rollback.conftest import SECOND_LICENSE, TABLE, Runs, put, ssm_value
from wandb_deployer.deploy import record_step
from wandb_deployer.deploy.finish_step import finish
from wandb_deployer.runs.history import RunRecord, find_runs
from wandb_deployer.settings import get_settings
from wandb_deployer.states import (
    FinishRunInput,
    LoadConfigResult,
    RecordRunInput,
    RunContext,
    RunError,
    Trigger,
    Wrapped,
)

pytestmark = pytest.mark.unit

OPERATOR = REPO / "examples" / "operator.yaml"


def _context(loaded: LoadConfigResult, error: str) -> RunContext:
    return RunContext(config=Wrapped(value=loaded.model_dump(mode="json")), error=RunError(Error=error, Cause="[]"))


def _finish(
    arn: str, loaded: LoadConfigResult, *, error: str = "HealthCheckFailedError", trigger: Trigger = "push"
) -> None:
    finish(
        FinishRunInput(
            deployment="demo", execution_arn=arn, outcome="failed", trigger=trigger, context=_context(loaded, error)
        ),
        get_settings(),
    )


def _record(arn: str) -> RunRecord:
    return find_runs(deployment="demo", name=arn, table=TABLE, dynamodb=boto3.client("dynamodb"))[0]


@pytest.fixture
def failed_upgrade(runs: Runs) -> tuple[str, LoadConfigResult]:
    """A succeeded run with deployer/on_unhealthy rollback, then a size change whose run failed."""
    push(OPERATOR)
    put("demo/deployer/on_unhealthy", "rollback")
    runs.run("succeeded")
    put("demo/infra/size", "medium")
    return runs.run("failed")


def test_an_unhealthy_run_rolls_back_by_itself_when_asked(failed_upgrade: tuple[str, LoadConfigResult]) -> None:
    arn, loaded = failed_upgrade
    assert loaded.on_unhealthy == "rollback"

    _finish(arn, loaded)

    assert ssm_value("demo/infra/size")["Value"] == "small"
    rollback = _record(arn).details["rollback"]
    assert rollback["started"] is True and rollback["automatic"] is True
    assert rollback["to"] == "demo-push-run1" and rollback["command"] == "wbd rollback demo --to demo-push-run1"


@pytest.mark.parametrize("trigger", ["rollback", "rerun"])
def test_never_twice_in_a_row(runs: Runs, failed_upgrade: tuple[str, LoadConfigResult], trigger: Trigger) -> None:
    # Given the automatic rollback of a failed run
    arn, loaded = failed_upgrade
    _finish(arn, loaded)
    # When the run after it (the rollback's own, whatever its trigger) stays unhealthy too
    put("demo/infra/size", "large")  # whatever it applied: it must not be rolled back again
    next_arn, next_loaded = runs.run("failed", trigger=trigger)
    _finish(next_arn, next_loaded, trigger=trigger)

    # Then nothing is written and the record says why
    assert ssm_value("demo/infra/size")["Value"] == "large"
    rollback = _record(next_arn).details["rollback"]
    assert rollback["started"] is False and "not twice" in rollback["why"]


def test_on_unhealthy_notify_writes_nothing(runs: Runs) -> None:
    push(OPERATOR)
    runs.run("succeeded")
    put("demo/infra/size", "medium")
    arn, loaded = runs.run("failed")

    _finish(arn, loaded)

    assert loaded.on_unhealthy == "notify"
    assert ssm_value("demo/infra/size")["Value"] == "medium" and "rollback" not in _record(arn).details


def test_a_failure_other_than_health_rolls_nothing_back(failed_upgrade: tuple[str, LoadConfigResult]) -> None:
    arn, loaded = failed_upgrade
    _finish(arn, loaded, error="States.TaskFailed")
    assert ssm_value("demo/infra/size")["Value"] == "medium" and "rollback" not in _record(arn).details


def test_a_refused_automatic_rollback_is_recorded_and_writes_nothing(runs: Runs) -> None:
    push(OPERATOR)
    put("demo/deployer/on_unhealthy", "rollback")
    runs.run("succeeded")
    put("demo/infra/eks_cluster_version", "1.34")
    arn, loaded = runs.run("failed")

    _finish(arn, loaded)

    assert ssm_value("demo/infra/eks_cluster_version")["Value"] == "1.34"
    rollback = _record(arn).details["rollback"]
    assert rollback["started"] is False and "eks_cluster_version" in rollback["why"]


def test_the_failure_notification_offers_the_exact_command(runs: Runs, monkeypatch: pytest.MonkeyPatch) -> None:
    push(OPERATOR)
    runs.run("succeeded")
    put("demo/infra/size", "medium")
    arn, loaded = runs.run("failed")
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(record_step, "notify", lambda **kwargs: sent.append(kwargs))

    record_step.record_and_notify(
        RecordRunInput(
            deployment="demo",
            execution_arn=arn,
            outcome="failed",
            trigger="push",
            error="HealthCheckFailedError",
            cause="[]",
            context=_context(loaded, "HealthCheckFailedError"),
        ),
        get_settings(),
    )

    assert sent[0]["event"] == "Run Failed"
    assert sent[0]["detail"]["rollback_command"] == "wbd rollback demo --to demo-push-run1"
    assert sent[0]["detail"]["on_unhealthy"] == "notify"
    assert _record(arn).details["rollback"]["command"] == "wbd rollback demo --to demo-push-run1"


def test_an_automatic_rollback_never_reads_a_secret_and_leaves_a_changed_one_to_the_operator(runs: Runs) -> None:
    """The finish function may not read the license (issue 10): when the failed change moved a secret, the rollback
    does not start; the record and notification name the `wbd rollback` command, which runs with the operator's own
    credentials. Nothing is written."""
    push(OPERATOR)
    put("demo/deployer/on_unhealthy", "rollback")
    runs.run("succeeded")
    put("demo/infra/size", "medium")
    put("demo/infra/license", SECOND_LICENSE, "SecureString")  # version 2
    arn, loaded = runs.run("failed")

    _finish(arn, loaded)

    rollback = _record(arn).details["rollback"]
    assert rollback["started"] is False and rollback["automatic"] is True
    assert rollback["why"] == (
        "infra/license changed since run demo-push-run1 (it applied version 1, SSM holds version 2): an automatic "
        "rollback never reads a secret; run `wbd rollback demo --to demo-push-run1`"
    )
    assert ssm_value("demo/infra/size")["Value"] == "medium"
    assert ssm_value("demo/infra/license")["Version"] == 2
    assert SECOND_LICENSE not in repr(rollback)
