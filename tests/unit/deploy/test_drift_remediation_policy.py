"""The drift check's remediation decision: policy, drift, and a paused deployment."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from wandb_deployer.deploy.drift_step import record
from wandb_deployer.settings import Settings
from wandb_deployer.states import DriftInput

pytestmark = pytest.mark.unit

PLAN_WITH_DRIFT = (
    b'{"resource_drift": [{"address": "module.w.aws_s3_bucket_notification.n", "change": {"actions": ["delete"]}}]}'
)


@pytest.fixture
def settings() -> Any:
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="artifacts")
        boto3.client("dynamodb").create_table(
            TableName="deployments",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield Settings(artifacts_bucket="artifacts", state_bucket="state", deployments_table="deployments")


@pytest.mark.parametrize(
    ("drift_action", "paused", "remediate"),
    [("notify", False, False), ("remediate-safe", False, True), ("remediate", False, True), ("remediate", True, False)],
)
def test_drift_is_remediated_only_by_policy_and_never_while_paused(
    settings: Settings, drift_action: str, paused: bool, remediate: bool
) -> None:
    boto3.client("s3").put_object(Bucket="artifacts", Key="runs/demo/x/plan.json", Body=PLAN_WITH_DRIFT)
    result = record(
        DriftInput.model_validate(
            {
                "deployment": "demo",
                "execution_arn": "arn:aws:states:us-east-1:123456789012:execution:drift:x",
                "run_prefix": "runs/demo/x/",
                "drift_action": drift_action,
                "paused": paused,
            }
        ),
        settings,
    )
    assert result.drifted is True
    assert result.transition == "new"
    assert result.remediate is remediate
