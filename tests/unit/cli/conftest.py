"""Fixtures of the CLI tests: the deployer's directory, table and buckets in moto, and the demo deployment in SSM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.unit.runs.conftest import create_deployments_table
from tests.unit.runs.secrets import FAKE_LICENSE
from wandb_deployer.config.parameters import config_to_parameters, diff_parameters, write_parameters
from wbd.config_file import load_config_file

OPERATOR = REPO / "examples" / "operator.yaml"
PREFIX = "/wandb-deployer"
TABLE = "wbd-deployments"


@dataclass
class Deployer:
    """The deployer's resources in moto, as the stack's directory parameter names them."""

    table: str
    artifacts_bucket: str
    dynamodb: Any
    ssm: Any


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    return CliRunner()


@pytest.fixture
def license_file(tmp_path: Path) -> Path:
    path = tmp_path / "license.jws"
    path.write_text(FAKE_LICENSE + "\n")
    return path


def push_example(ssm: Any, path: Path = OPERATOR, **infra: object) -> str:
    config = load_config_file(path, license=FAKE_LICENSE)
    if infra:
        config = config.model_copy(update={"infra": {**config.infra, **infra}})
    desired = config_to_parameters(config, prefix=PREFIX)
    write_parameters(diff_parameters(desired, {}), desired, ssm=ssm)
    return config.deployment


@pytest.fixture
def deployer() -> Iterator[Deployer]:
    """moto with the deployer's directory (`/wandb-deployer-stack`), its table and buckets, and `demo` pushed."""
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_deployments_table(dynamodb)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="artifacts")
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
        role = "arn:aws:iam::123456789012:role/sfn"
        deploy = sfn.create_state_machine(name="deploy", definition=json.dumps(definition), roleArn=role)
        drift = sfn.create_state_machine(name="drift", definition=json.dumps(definition), roleArn=role)
        ssm = boto3.client("ssm", region_name="us-east-1")
        directory = {
            "artifacts_bucket": "artifacts",
            "state_bucket": "state",
            "deployments_table": TABLE,
            "deploy_state_machine_arn": deploy["stateMachineArn"],
            "drift_state_machine_arn": drift["stateMachineArn"],
            "event_bus_name": "default",
            "parameter_prefix": PREFIX,
        }
        ssm.put_parameter(Name=f"{PREFIX}-stack", Value=json.dumps(directory), Type="String")
        push_example(ssm)
        yield Deployer(table=TABLE, artifacts_bucket="artifacts", dynamodb=dynamodb, ssm=ssm)
