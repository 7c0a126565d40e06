"""`wbd rollback`: shows what it writes and asks; exit 0 written, 1 refused by the guards or declined, 2 nothing to
roll back to. Nothing is written unless it says so."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.unit.handlers.conftest import PREFIX, push
from tests.unit.rollback.conftest import TABLE, Runs, put, ssm_value
from wbd.cli.main import app

pytestmark = pytest.mark.unit

OPERATOR = REPO / "examples" / "operator.yaml"


@pytest.fixture
def cli(deployer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The stack's directory parameter, as the deployed stack writes it, so that wbd finds the table."""
    directory = {
        "artifacts_bucket": "artifacts",
        "state_bucket": "state",
        "deployments_table": TABLE,
        "deploy_state_machine_arn": deployer["state_machine_arn"],
        "drift_state_machine_arn": deployer["state_machine_arn"],
        "event_bus_name": "default",
        "parameter_prefix": PREFIX,
    }
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}-stack", Value=json.dumps(directory), Type="String")
    monkeypatch.setenv("NO_COLOR", "1")
    return CliRunner()


def test_rollback_shows_asks_and_writes(cli: CliRunner, runs: Runs) -> None:
    push(OPERATOR)
    runs.run("succeeded")
    put("demo/infra/size", "large")
    runs.run("failed")

    declined = cli.invoke(app, ["rollback", "demo"], input="n\n")
    assert declined.exit_code == 1 and "aborted: nothing written" in declined.output
    assert ssm_value("demo/infra/size")["Value"] == "large"

    done = cli.invoke(app, ["rollback", "demo", "--yes"])
    assert done.exit_code == 0, done.output
    assert "rolling demo back to the config of run demo-push-run1" in done.output and "infra/size" in done.output
    assert "wrote 1 parameter(s), deleted 0" in done.output
    assert ssm_value("demo/infra/size")["Value"] == "small"

    again = cli.invoke(app, ["rollback", "demo", "--yes"])
    assert again.exit_code == 0 and "SSM already holds the config of run demo-push-run1" in again.output


def test_a_refused_rollback_says_why_and_writes_nothing(cli: CliRunner, runs: Runs) -> None:
    push(OPERATOR)
    runs.run("succeeded")
    put("demo/infra/eks_cluster_version", "1.34")
    runs.run("failed")

    refused = cli.invoke(app, ["rollback", "demo", "--yes"])

    assert refused.exit_code == 1, refused.output
    assert "refused: " in refused.output and "eks_cluster_version" in refused.output
    assert "nothing written" in refused.output
    assert ssm_value("demo/infra/eks_cluster_version")["Value"] == "1.34"


def test_nothing_to_roll_back_to_is_exit_2(cli: CliRunner, runs: Runs) -> None:
    push(OPERATOR)
    runs.run("failed")
    result = cli.invoke(app, ["rollback", "demo", "--to", "run1"])
    assert result.exit_code == 2 and "ended failed: only a succeeded run" in result.output
