"""The sandbox's time compression of Task timeouts: emulated waits (callbacks, heartbeats) shrink by the time scale;
tasks that run real code keep enough real time; the deploy workflow's approval timeout becomes seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from wbd.sandbox.time_compression import (
    REAL_WORK_FLOOR_SECONDS,
    ScaledTimeout,
    callback_seconds,
    compress_state_timeouts,
    install_time_compression,
    real_work_seconds,
    waits_for_callback,
)

pytestmark = pytest.mark.unit

DEPLOY_ASL = Path(__file__).parents[3] / "statemachines" / "deploy.asl.json"


def test_callback_waits_shrink_by_the_scale_to_whole_seconds() -> None:
    scaled = callback_seconds(100)
    assert [scaled(s) for s in (3600, 300, 150, 30, 1)] == [36, 3, 2, 1, 1]


def test_real_work_keeps_its_declared_time_up_to_the_floor() -> None:
    scaled = real_work_seconds(100)
    assert [scaled(s) for s in (30, 60, 300, 7200, 99999)] == [30, 60, REAL_WORK_FLOOR_SECONDS, 72, 1000]


def _states(definition: str) -> dict[str, Any]:
    program, _ = AmazonStateLanguageParser.parse(definition)
    return dict(program.states.states)  # type: ignore[attr-defined]


def test_the_deploy_workflow_compresses_only_the_approval_wait_fully() -> None:
    states = _states(DEPLOY_ASL.read_text(encoding="utf-8").replace("${", "{"))
    approval, plan, acquire = states["Wait for approval"], states["Plan"], states["Acquire lock"]
    assert waits_for_callback(approval) and not waits_for_callback(plan) and not waits_for_callback(acquire)

    for state in (approval, plan, acquire):
        compress_state_timeouts(state, 100)
        compress_state_timeouts(state, 100)  # once only: a second pass does not compress again
        assert isinstance(state.timeout, ScaledTimeout) and not isinstance(state.timeout.declared, ScaledTimeout)
    assert approval.timeout.scaled(300) == 3
    assert plan.timeout.scaled(7200) == 72
    assert acquire.timeout.scaled(60) == 60


def test_undeclared_timeouts_are_left_alone() -> None:
    definition = """{"StartAt": "Do", "States": {"Do": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f"}, "End": true}}}"""
    do = _states(definition)["Do"]
    compress_state_timeouts(do, 100)
    assert not isinstance(do.timeout, ScaledTimeout)  # moto's default (99999999 s) stays as it is
    assert do.heartbeat is None


CALLBACK_DEFINITION = """{"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "%s", "MessageBody": {"token.$": "$$.Task.Token"}}, %s, "End": true}}}"""


@pytest.fixture
def interpreter() -> Iterator[Any]:
    """moto's ASL interpreter, compressed 100x as the sandbox runs it."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}), ExitStack() as patches:
        install_time_compression(patches, 100)
        yield boto3.client("stepfunctions", region_name="us-east-1")


def _run(sfn: Any, timeouts: str) -> dict[str, Any]:
    """Run a task that hands its token to a queue nobody reads: only its (compressed) timeouts can end it."""
    queue = boto3.client("sqs", region_name="us-east-1").create_queue(QueueName="approvals")["QueueUrl"]
    machine = sfn.create_state_machine(
        name="ask", definition=CALLBACK_DEFINITION % (queue, timeouts), roleArn="arn:aws:iam::123456789012:role/x"
    )["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError("the compressed timeout never fired")


def test_an_unanswered_callback_times_out_after_its_compressed_timeout(interpreter: Any) -> None:
    described = _run(interpreter, '"TimeoutSeconds": 300')  # 3 s at scale 100
    assert described["status"] == "FAILED" and described["error"] == "States.Timeout"


def test_a_silent_worker_misses_its_compressed_heartbeat(interpreter: Any) -> None:
    # heartbeat 100 s -> 1 s; the task timeout (99999 s -> 1000 s) is far beyond _run's 30 s: the heartbeat ended it
    described = _run(interpreter, '"TimeoutSeconds": 99999, "HeartbeatSeconds": 100')
    assert described["status"] == "FAILED"
    assert described["error"] in {"States.HeartbeatTimeout", "States.Timeout"}  # moto names it States.Timeout
