"""Rollback in the sandbox (issue 13): a W&B upgrade whose health check fails until the deadline is rolled back to the
previous run's config, by `wbd rollback` and by deployer/on_unhealthy, through the same path as any change.

The stand-in does not know which W&B version the emulation applied: the tests make it unhealthy while the failing
upgrade runs and healthy again when the rollback's run starts, which is what the rollback would do to a real W&B.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from typer.testing import CliRunner

from tests.e2e.conftest import LEGACY_EXAMPLE
from tests.e2e.run_evidence import NotificationCapture, license_leaks, unique_license
from wandb_deployer.aws_clients import client
from wbd.cli.main import app
from wbd.sandbox_driver import PREFIX, SandboxDriver

pytestmark = pytest.mark.e2e


@contextmanager
def healthy_again_when_a_run_starts(deployer: SandboxDriver, after: int) -> Iterator[None]:
    """Make the stand-in healthy as soon as the deploy machine has more than `after` executions."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            if len(deployer.executions()) > after:
                deployer.standin.set_status(200)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


def wandb_version(deployment: str) -> str:
    return str(client("ssm").get_parameter(Name=f"{PREFIX}/{deployment}/app/wandb_version")["Parameter"]["Value"])


def test_a_failed_upgrade_is_rolled_back_by_wbd_rollback_and_healthy_again(deployer: SandboxDriver) -> None:
    notifications = NotificationCapture.subscribe(deployer)
    license_value = unique_license()
    # Given the legacy example (W&B 0.51.2) deployed and healthy, with a short health deadline
    deployment = deployer.push(
        LEGACY_EXAMPLE, license_value=license_value, deployer={"health_timeout_seconds": 30, "approval": "never"}
    )
    deployer.wait_until_idle()
    good = deployer.runs(deployment)[0]
    assert good.outcome == "succeeded"

    # When an upgrade leaves W&B unhealthy until the deadline
    deployer.standin.set_status(503)
    deployer.put(deployment, "app/wandb_version", "0.52.0")
    deployer.wait_until_idle()
    failed = deployer.runs(deployment)[0]
    assert (failed.outcome, failed.error) == ("failed", "HealthCheckFailedError")

    # Then the failure's notification offers the exact command, and nothing rolls back by itself (on_unhealthy: notify)
    command = f"wbd rollback {deployment} --to {good.execution_name}"
    (run_failed, _) = notifications.events("Run Failed", deployment)
    assert run_failed[0]["detail"]["rollback_command"] == command
    assert failed.details["rollback"] == {"command": command, "on_unhealthy": "notify"}
    assert wandb_version(deployment) == "0.52.0"

    # When the operator runs that command
    with healthy_again_when_a_run_starts(deployer, after=len(deployer.executions())):
        result = CliRunner().invoke(app, [*command.split()[1:], "--yes"])
        assert result.exit_code == 0, result.output
        deployer.wait_until_idle()

    # Then the run it started (trigger `rollback`) applied the good run's config and W&B is healthy again
    rolled_back = deployer.runs(deployment)[0]
    assert (rolled_back.trigger, rolled_back.outcome) == ("rollback", "succeeded"), rolled_back
    assert rolled_back.fingerprint == good.fingerprint
    assert wandb_version(deployment) == "0.51.2"
    assert deployer.status(deployment).applied.fingerprint == good.fingerprint  # type: ignore[union-attr]
    assert not license_leaks(deployer, license_value, notifications)


def test_on_unhealthy_rollback_rolls_back_once_and_never_twice_in_a_row(deployer: SandboxDriver) -> None:
    # Given a deployment that asks for automatic rollback
    deployment = deployer.push(
        LEGACY_EXAMPLE, deployer={"health_timeout_seconds": 30, "approval": "never", "on_unhealthy": "rollback"}
    )
    deployer.wait_until_idle()
    good = deployer.runs(deployment)[0]

    # When an upgrade stays unhealthy, and so does W&B after the rollback
    deployer.standin.set_status(503)
    deployer.put(deployment, "app/wandb_version", "0.52.0")
    deployer.wait_until_idle()

    # Then the failed upgrade started one rollback, whose own failure starts none
    latest, upgrade, first = deployer.runs(deployment)[:3]
    assert first.execution_arn == good.execution_arn
    assert upgrade.outcome == "failed" and upgrade.details["rollback"]["started"] is True
    assert upgrade.details["rollback"]["to"] == good.execution_name
    assert latest.outcome == "failed" and latest.fingerprint == good.fingerprint
    assert latest.details["rollback"]["started"] is False and "not twice" in latest.details["rollback"]["why"]
    assert len(deployer.runs(deployment)) == 3 and wandb_version(deployment) == "0.51.2"
    assert deployer.status(deployment).lock is None
