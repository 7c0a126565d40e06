"""The sandbox's fix of moto's `states:startExecution` integration: a state machine starts another with the ASL's
PascalCase parameters and reads `$.ExecutionArn` from the result, as on AWS (the drift check starts remediation so)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.config import default_user_config

from wbd.sandbox.events import install_start_execution_integration

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/state-machine"


@pytest.fixture
def sfn() -> Iterator[Any]:
    saved = dict(default_user_config.get("stepfunctions", {}))
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    try:
        with mock_aws(), ExitStack() as patches:
            install_start_execution_integration(patches)
            yield boto3.client("stepfunctions", region_name="us-east-1")
    finally:
        default_user_config["stepfunctions"] = saved


def _machine(sfn: Any, name: str, states: dict[str, Any], start: str) -> str:
    definition = json.dumps({"StartAt": start, "States": states})
    return str(sfn.create_state_machine(name=name, roleArn=ROLE, definition=definition)["stateMachineArn"])


def _finished(sfn: Any, arn: str) -> dict[str, Any]:
    for _ in range(200):
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.02)
    raise AssertionError(f"{arn} still running")


def test_a_state_machine_starts_another_with_pascal_case_parameters(sfn: Any) -> None:
    # Given a child machine and a parent that starts it the way drift.asl.json starts a remediation run,
    child = _machine(sfn, "child", {"Done": {"Type": "Pass", "End": True}}, "Done")
    start = {
        "Type": "Task",
        "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": child, "Input": {"deployment.$": "$.deployment", "trigger": "drift"}},
        "ResultSelector": {"execution_arn.$": "$.ExecutionArn"},
        "ResultPath": "$.remediation",
        "End": True,
    }
    parent = _machine(sfn, "parent", {"Start": start}, "Start")

    # when the parent runs,
    execution = sfn.start_execution(stateMachineArn=parent, name="check", input='{"deployment": "prod"}')
    described = _finished(sfn, execution["executionArn"])

    # then it succeeded, kept the started execution's ARN, and the child got the input.
    assert described["status"] == "SUCCEEDED", described.get("cause")
    started = json.loads(described["output"])["remediation"]["execution_arn"]
    assert started.startswith(child.replace(":stateMachine:", ":execution:"))
    assert json.loads(sfn.describe_execution(executionArn=started)["input"]) == {
        "deployment": "prod",
        "trigger": "drift",
    }
