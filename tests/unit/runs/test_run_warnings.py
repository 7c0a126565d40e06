"""Record success: the run keeps its warnings (config warnings, verification warnings) in its history and notification,
while info findings and errors stay out of the warnings."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.unit.runs.conftest import REGION, TABLE
from wandb_deployer.deploy.record_step import record_and_notify
from wandb_deployer.runs.history import list_runs
from wandb_deployer.settings import Settings
from wandb_deployer.states import ChangeCounts, RecordRunInput
from wandb_deployer.verification.findings import finding

pytestmark = pytest.mark.unit

ARN = "arn:aws:states:us-east-1:123456789012:execution:wbd-deploy:run-1"


def test_a_succeeded_run_records_and_announces_its_warnings(dynamodb: Any) -> None:
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="wbd")["TopicArn"]
    inbox = sqs.create_queue(QueueName="inbox")["QueueUrl"]
    inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"RawMessageDelivery": "true"})
    settings = Settings(
        artifacts_bucket="abc", state_bucket="abc", deployments_table=TABLE, notifications_topic_arn=topic
    )
    request = RecordRunInput(
        deployment="demo",
        execution_arn=ARN,
        outcome="succeeded",
        plan_sha256="a" * 64,
        counts=ChangeCounts(update=1),
        warnings=["infra/allowed_inbound_cidr: admits only 203.0.113.0/24"],
        findings=[
            finding("PLAIN_HTTP", "served over plain HTTP"),
            finding("UNREACHABLE_FROM_DEPLOYER", "timed out, while 2/2 targets are healthy"),
        ],
    )

    record_and_notify(request, settings)

    (run,) = list_runs(deployment="demo", table=TABLE, dynamodb=dynamodb)
    expected = [
        "infra/allowed_inbound_cidr: admits only 203.0.113.0/24",
        "UNREACHABLE_FROM_DEPLOYER: timed out, while 2/2 targets are healthy",
    ]
    assert run.details["warnings"] == expected
    assert run.details["counts"]["update"] == 1
    (message,) = sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10)["Messages"]
    assert json.loads(message["Body"])["detail"]["warnings"] == expected


def test_a_run_without_warnings_records_none(dynamodb: Any) -> None:
    settings = Settings(artifacts_bucket="abc", state_bucket="abc", deployments_table=TABLE)
    record_and_notify(RecordRunInput(deployment="demo", execution_arn=ARN, outcome="no-changes"), settings)
    (run,) = list_runs(deployment="demo", table=TABLE, dynamodb=dynamodb)
    assert "warnings" not in run.details
