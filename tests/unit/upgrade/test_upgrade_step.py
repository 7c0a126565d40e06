"""The upgrade step: the deployment's current config is read from SSM under the configured prefix, an accepted
upgrade is written there and answered, a rejected one is answered and changes nothing (and is not raised: EventBridge
must not retry it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import REPO
from tests.unit.faults import recorded_calls
from tests.unit.handlers.conftest import LICENSE
from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import config_to_parameters, diff_parameters, write_parameters
from wandb_deployer.deploy.upgrade_step import handle_upgrade_request
from wandb_deployer.settings import Settings
from wandb_deployer.upgrade.outcome import read_upgrade_outcome
from wbd.config_file import load_config_file

pytestmark = pytest.mark.unit

PREFIX = "/wbd-unit"  # not the default prefix: the step must use the configured one


@pytest.fixture
def settings() -> Iterator[Settings]:
    with mock_aws():
        topic = boto3.client("sns").create_topic(Name="wbd-notifications")["TopicArn"]
        boto3.client("dynamodb").create_table(
            TableName="deployments",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        config = load_config_file(REPO / "examples" / "operator.yaml", license=LICENSE)
        desired = config_to_parameters(config, prefix=PREFIX)
        write_parameters(diff_parameters(desired, {}), desired, ssm=boto3.client("ssm"))
        yield Settings(
            artifacts_bucket="artifacts",
            state_bucket="state",
            deployments_table="deployments",
            parameter_prefix=PREFIX,
            notifications_topic_arn=topic,
            event_bus_name="default",
        )


def parameter(name: str) -> str:
    return str(boto3.client("ssm").get_parameter(Name=f"{PREFIX}/demo/{name}")["Parameter"]["Value"])


def notices(calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [json.loads(params["Message"]) for name, params in calls if name == "Publish"]


def test_an_accepted_upgrade_is_written_under_the_prefix_and_answered(settings: Settings) -> None:
    published = recorded_calls(client("sns"))
    put = recorded_calls(client("events"))

    result = handle_upgrade_request({"deployment": "demo", "eks_cluster_version": "1.34"}, settings)

    assert result == {"accepted": True, "deployment": "demo", "parameters": ["infra/eks_cluster_version"]}
    assert parameter("infra/eks_cluster_version") == "1.34"
    [notice] = notices(published)
    assert (notice["event"], notice["deployment"]) == ("Upgrade Accepted", "demo")
    assert notice["detail"]["parameters"] == [f"{PREFIX}/demo/infra/eks_cluster_version"]
    assert [entry["DetailType"] for _, params in put for entry in params["Entries"]] == ["Upgrade Accepted"]
    # the answer is kept for `wbd upgrade --wait` / `wbd status`, with the request's id
    answered = handle_upgrade_request(
        {"deployment": "demo", "terraform_version": "1.10.6", "request_id": "wbd-request-0001"}, settings
    )
    assert answered["accepted"] is True
    outcome = read_upgrade_outcome(deployment="demo", table="deployments", dynamodb=client("dynamodb"))
    assert outcome is not None and (outcome.request_id, outcome.accepted) == ("wbd-request-0001", True)
    assert outcome.changes == [{"name": "deployer/terraform_version", "value": "1.10.6", "previous": "1.10.5"}]


def test_a_rejected_upgrade_is_answered_not_raised_and_writes_nothing(settings: Settings) -> None:
    published = recorded_calls(client("sns"))

    result = handle_upgrade_request({"deployment": "demo", "module_version": "7.0.0"}, settings)

    assert result == {
        "accepted": False,
        "deployment": "demo",
        "reasons": [
            "module_version: 7.0.0 is a major downgrade from 8.0.0; a module cannot read state written by a newer "
            "major (applying a module older than 7.x to 7.x state may delete the bucket)"
        ],
    }
    assert parameter("deployer/module_version") == "8.0.0"
    [notice] = notices(published)
    assert notice["event"] == "Upgrade Rejected" and notice["detail"]["reasons"] == result["reasons"]
    outcome = read_upgrade_outcome(deployment="demo", table="deployments", dynamodb=client("dynamodb"))
    assert outcome is not None and (outcome.accepted, outcome.reasons) == (False, result["reasons"])


def test_an_upgrade_of_a_deployment_missing_under_the_prefix_is_rejected(settings: Settings) -> None:
    result = handle_upgrade_request({"deployment": "elsewhere", "module_version": "8.1.0"}, settings)

    assert result == {
        "accepted": False,
        "deployment": "elsewhere",
        "reasons": ["deployment 'elsewhere' does not exist"],
    }
