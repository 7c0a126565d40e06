"""Fixtures of the runs tests: the deployments table, a trivial deploy state machine, buckets, a build project."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

TABLE = "wbd-deployments"
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/deploy-state-machine"


def create_deployments_table(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=TABLE,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    create_deployments_table(client)
    return client


@pytest.fixture
def sfn(aws: None) -> Any:
    return boto3.client("stepfunctions", region_name=REGION)


@pytest.fixture
def state_machine_arn(sfn: Any) -> str:
    """A trivial state machine: without execute_state_machine, moto keeps its executions RUNNING until stopped."""
    definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
    return str(
        sfn.create_state_machine(name="deploy", definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    )


@pytest.fixture
def start_execution(sfn: Any, state_machine_arn: str) -> Any:
    def start(name: str) -> str:
        return str(sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input="{}")["executionArn"])

    return start
