"""functions/trigger: a real `Parameter Store Change` event starts one run; a burst coalesces; paused holds."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import FakeContext, event, load_handler, push
from wandb_deployer.runs.change_source import note_writes
from wandb_deployer.runs.lock import release_lock

pytestmark = pytest.mark.unit


def _executions(deployer: dict[str, Any]) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=deployer["state_machine_arn"])["executions"]


def test_parameter_change_starts_a_run(deployer: dict[str, Any]) -> None:
    push(REPO / "examples" / "operator.yaml")
    result = load_handler("trigger").lambda_handler(event("ssm_parameter_change.json"), FakeContext())
    assert result["execution_arn"]
    assert [e["executionArn"] for e in _executions(deployer)] == [result["execution_arn"]]


def test_burst_of_changes_starts_one_run(deployer: dict[str, Any]) -> None:
    push(REPO / "examples" / "operator.yaml")
    handler = load_handler("trigger")
    results = [handler.lambda_handler(event("ssm_parameter_change.json"), FakeContext()) for _ in range(10)]
    assert len([r for r in results if r["execution_arn"]]) == 1
    assert len(_executions(deployer)) == 1


def test_paused_deployment_starts_nothing(deployer: dict[str, Any]) -> None:
    push(REPO / "examples" / "operator.yaml")
    boto3.client("ssm").put_parameter(
        Name="/wandb-deployer/demo/deployer/paused", Value="true", Type="String", Overwrite=True
    )
    result = load_handler("trigger").lambda_handler(event("ssm_parameter_change.json"), FakeContext())
    assert result["execution_arn"] is None
    assert _executions(deployer) == []


def test_name_outside_the_layout_is_ignored(deployer: dict[str, Any]) -> None:
    outside = copy.deepcopy(event("ssm_parameter_change.json"))
    outside["detail"]["name"] = "/wandb-deployer/NOT A DEPLOYMENT/infra/size"
    result = load_handler("trigger").lambda_handler(outside, FakeContext())
    assert result["execution_arn"] is None
    assert _executions(deployer) == []


def test_the_run_says_which_writer_made_the_change(deployer: dict[str, Any]) -> None:
    # Given `wbd config push` noted the version its write of infra/size creates, then wrote it,
    push(REPO / "examples" / "operator.yaml")
    ssm, dynamodb = boto3.client("ssm"), boto3.client("dynamodb")
    name = "/wandb-deployer/demo/infra/size"
    version = ssm.get_parameter(Name=name)["Parameter"]["Version"]
    note_writes(
        deployment="demo",
        source="push",
        by="alice",
        versions={name: version + 1},
        table="deployments",
        dynamodb=dynamodb,
    )
    ssm.put_parameter(Name=name, Value="medium", Type="String", Overwrite=True)
    handler = load_handler("trigger")

    # when its change event arrives, the run it starts is a `push` run;
    pushed = handler.lambda_handler(event("ssm_parameter_change.json"), FakeContext())
    assert ":demo-push-" in pushed["execution_arn"]
    boto3.client("stepfunctions").stop_execution(executionArn=pushed["execution_arn"])
    release_lock(deployment="demo", execution_arn=pushed["execution_arn"], table="deployments", dynamodb=dynamodb)

    # and a hand edit of the same parameter afterwards (its description still names the push) is a parameter change.
    ssm.put_parameter(Name=name, Value="large", Type="String", Overwrite=True)
    edited = handler.lambda_handler(event("ssm_parameter_change.json"), FakeContext())
    assert ":demo-parameter-change-" in edited["execution_arn"]
