"""Handlers under test: loaded from functions/<name>/app.py by path (every handler module is called `app`)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import EVENTS, REPO
from wandb_deployer.config.parameters import config_to_parameters, diff_parameters, write_parameters
from wbd.config_file import load_config_file

LICENSE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1bml0LXRlc3QifQ.c2lnbmF0dXJlLXVuaXQtdGVzdA"
PREFIX = "/wandb-deployer"


@dataclass
class FakeContext:
    function_name: str = "under-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:under-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


def load_handler(name: str) -> ModuleType:
    path = REPO / "functions" / name / "app.py"
    spec = importlib.util.spec_from_file_location(f"handler_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


@pytest.fixture
def deployer(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """The deployer's own resources in moto (as template.yaml declares them) and its environment."""
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="artifacts")
        s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
        s3.create_bucket(Bucket="state")
        boto3.client("dynamodb").create_table(
            TableName="deployments",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        sfn = boto3.client("stepfunctions")
        machine = sfn.create_state_machine(
            name="wandb-deployer-deploy",
            definition=json.dumps(
                {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
            ),
            roleArn="arn:aws:iam::123456789012:role/sfn",
        )["stateMachineArn"]
        environment = {
            "ARTIFACTS_BUCKET": "artifacts",
            "STATE_BUCKET": "state",
            "DEPLOYMENTS_TABLE": "deployments",
            "PARAMETER_PREFIX": PREFIX,
            "DEPLOY_STATE_MACHINE_ARN": machine,
            "EVENT_BUS_NAME": "default",
        }
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        yield {"state_machine_arn": machine, **environment}


def push(path: Path, *, license_value: str = LICENSE, **overrides: object) -> str:
    """Write an example file's parameters to (mocked) SSM, as `wbd config push` does."""
    config = load_config_file(path, license=license_value)
    if overrides:
        config = config.model_copy(update={"infra": {**config.infra, **overrides}})
    ssm = boto3.client("ssm")
    desired = config_to_parameters(config, prefix=PREFIX)
    write_parameters(diff_parameters(desired, {}), desired, ssm=ssm)
    return config.deployment
