"""functions/trigger on a paused deployment: the change stays pending, the pause is noted, no run starts."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import FakeContext, event, load_handler, push
from wandb_deployer.runs.desired import read_desired

pytestmark = pytest.mark.unit


def test_change_to_a_paused_deployment_is_kept_pending_and_the_pause_noted(deployer: dict[str, Any]) -> None:
    # Given a paused deployment,
    push(REPO / "examples" / "operator.yaml")
    boto3.client("ssm").put_parameter(
        Name="/wandb-deployer/demo/deployer/paused", Value="true", Type="String", Overwrite=True
    )

    # when a parameter change arrives,
    result = load_handler("trigger").lambda_handler(event("ssm_parameter_change.json"), FakeContext())

    # then no run starts, and the desired state says a change is pending since the pause.
    assert result["execution_arn"] is None
    desired = read_desired(deployment="demo", table="deployments", dynamodb=boto3.client("dynamodb"))
    assert desired.pending and desired.generation == 1 and desired.paused_at is not None
    assert (
        boto3.client("stepfunctions").list_executions(stateMachineArn=deployer["state_machine_arn"])["executions"] == []
    )
