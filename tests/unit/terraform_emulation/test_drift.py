"""Refresh and drift: changes made outside Terraform are reported (-refresh-only) or restored (normal plan)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.terraform_emulation.workspaces import actions_by_address, show_plan

pytestmark = pytest.mark.unit

STORAGE = "module.wandb_infra.module.file_storage"
POLICY = f"{STORAGE}.aws_sqs_queue_policy.file_storage"
NOTIFICATION = f"{STORAGE}.aws_s3_bucket_notification.file_storage"
BUCKET = f"{STORAGE}.aws_s3_bucket.file_storage"
PLAN = ("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode", "-lock-timeout=5s")
DRIFT = (*PLAN, "-refresh-only")
APPLY = ("apply", "-input=false", "-no-color", "tfplan")


@pytest.fixture
def bucket(terraform: Any, init_plan_apply: Any) -> str:
    init_plan_apply()
    name: str = json.loads(terraform("output", "-json").out)["bucket_name"]["value"]
    return name


def test_no_drift_exits_zero(workspace: Path, terraform: Any, bucket: str) -> None:
    result = terraform(*DRIFT)
    assert result.code == 0, result.text
    plan = show_plan(terraform)
    assert plan["resource_drift"] == [] and plan["resource_changes"] == []
    assert plan["applyable"] is False


def test_deleted_notification_is_drift_then_restored(workspace: Path, terraform: Any, bucket: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})

    drift = terraform(*DRIFT)
    assert drift.code == 2, drift.text
    assert f"# {NOTIFICATION} has been deleted" in drift.out
    plan = show_plan(terraform)
    assert plan["resource_changes"] == []
    assert [(entry["address"], entry["change"]["actions"]) for entry in plan["resource_drift"]] == [
        (NOTIFICATION, ["delete"])
    ]
    assert plan["resource_drift"][0]["change"]["after"] is None

    assert terraform(*PLAN).code == 2
    assert actions_by_address(show_plan(terraform))[NOTIFICATION] == ["create"]
    assert terraform(*APPLY).code == 0
    assert s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert terraform(*PLAN).code == 0


def test_changed_queue_policy_is_drift_and_updated_in_place(workspace: Path, terraform: Any, bucket: str) -> None:
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.get_queue_url(QueueName=bucket)["QueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] = "arn:aws:s3:::someone-else"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    assert terraform(*DRIFT).code == 2
    drift = show_plan(terraform)["resource_drift"]
    assert [(entry["address"], entry["change"]["actions"]) for entry in drift] == [(POLICY, ["update"])]
    assert "someone-else" in drift[0]["change"]["after"]["policy"]

    assert terraform(*PLAN).code == 2
    assert actions_by_address(show_plan(terraform))[POLICY] == ["update"]
    assert terraform(*APPLY).code == 0
    restored = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert json.loads(restored)["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == f"arn:aws:s3:::{bucket}"


def test_applying_a_refresh_only_plan_records_the_drift(workspace: Path, terraform: Any, bucket: str) -> None:
    boto3.client("s3", region_name="us-east-1").delete_bucket_cors(Bucket=bucket)
    assert terraform(*DRIFT).code == 2
    assert terraform(*APPLY).code == 0
    assert terraform(*DRIFT).code == 0
    assert terraform(*PLAN).code == 2
    cors = f"{STORAGE}.aws_s3_bucket_cors_configuration.file_storage"
    assert actions_by_address(show_plan(terraform))[cors] == ["create"]


def test_deleted_bucket_is_recreated_with_its_configuration(workspace: Path, terraform: Any, bucket: str) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.delete_bucket(Bucket=bucket)
    assert terraform(*PLAN).code == 2
    actions = actions_by_address(show_plan(terraform))
    assert actions[BUCKET] == ["create"]
    assert actions[NOTIFICATION] == ["create"]
    assert terraform(*APPLY).code == 0
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    assert terraform(*PLAN).code == 0
