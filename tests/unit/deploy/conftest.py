"""Fixtures of the workflow step tests: the deployer's own resources in moto, and the settings that name them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.runs.conftest import ROLE, TABLE, create_deployments_table
from wandb_deployer.settings import Settings

REGION = "us-east-1"
ARTIFACTS = "wbd-artifacts-unit"
STATE = "wbd-state-unit"
PROJECT = "wbd-terraform"


@dataclass
class Deployer:
    settings: Settings
    s3: Any
    dynamodb: Any
    sfn: Any
    codebuild: Any

    def start(self, name: str) -> str:
        """An execution of the deploy state machine that stays RUNNING (moto does not run it) until stopped."""
        response = self.sfn.start_execution(
            stateMachineArn=self.settings.deploy_state_machine_arn, name=name, input="{}"
        )
        return str(response["executionArn"])

    def executions(self) -> list[dict[str, Any]]:
        arn = self.settings.deploy_state_machine_arn
        return list(self.sfn.list_executions(stateMachineArn=arn)["executions"])


@pytest.fixture
def deployer() -> Iterator[Deployer]:
    """Buckets, table, deploy state machine, build project, topic: each as template.yaml declares it (in moto)."""
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=ARTIFACTS)
        s3.create_bucket(Bucket=STATE)
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        create_deployments_table(dynamodb)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        definition = {"StartAt": "Wait", "States": {"Wait": {"Type": "Pass", "End": True}}}
        machine = sfn.create_state_machine(name="deploy", definition=json.dumps(definition), roleArn=ROLE)
        codebuild = boto3.client("codebuild", region_name=REGION)
        codebuild.create_project(
            name=PROJECT,
            source={"type": "S3", "location": f"{ARTIFACTS}/workspaces/prod.zip"},
            artifacts={"type": "NO_ARTIFACTS"},
            environment={
                "type": "LINUX_CONTAINER",
                "image": "aws/codebuild/standard:7.0",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
            serviceRole="arn:aws:iam::123456789012:role/codebuild",
        )
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="wbd-notifications")["TopicArn"]
        settings = Settings(
            artifacts_bucket=ARTIFACTS,
            state_bucket=STATE,
            deployments_table=TABLE,
            deploy_state_machine_arn=machine["stateMachineArn"],
            codebuild_project_name=PROJECT,
            notifications_topic_arn=topic,
            event_bus_name="default",
            approval_timeout_seconds=3600,
        )
        yield Deployer(settings=settings, s3=s3, dynamodb=dynamodb, sfn=sfn, codebuild=codebuild)
