"""summarise_plan: reads the run's plan artifacts from S3, stores the full digest, returns the payload summary."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.plan.conftest import BUCKET
from tests.unit.plan.plans import LICENSE, MIXED, SECRET, plan_bytes, resource_change
from wandb_deployer.errors import PlanNotFoundError
from wandb_deployer.plan.summary import summarise_plan
from wandb_deployer.states import PlanSummary

pytestmark = pytest.mark.unit

PREFIX = "runs/prod/exec-7/"
SHA = "ab" * 32
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def store_plan(s3: Any, changes: list[dict[str, Any]], *, has_changes: bool = True, error: Any = None) -> None:
    result = {
        "action": "plan",
        "exit_code": 2 if has_changes else 0,
        "has_changes": has_changes,
        "plan_sha256": None if error else SHA,
        "terraform_version": "1.9.8",
        "error": error,
    }
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan-result.json", Body=json.dumps(result).encode())
    if not error:
        s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan.json", Body=plan_bytes(changes))


def summarise(s3: Any, approval: Any = "destructive") -> PlanSummary:
    return summarise_plan(bucket=BUCKET, run_prefix=PREFIX, approval=approval, s3=s3, kms_key_arn=KEY_ARN)


def test_the_summary_counts_changes_and_names_destructive_ones(s3: Any) -> None:
    store_plan(s3, MIXED)

    summary = summarise(s3)

    assert summary.plan_sha256 == SHA
    assert summary.has_changes
    assert summary.counts.model_dump() == {"create": 1, "update": 2, "delete": 2, "replace": 2}
    assert summary.destructive == [
        "module.wandb.aws_iam_role.node",
        "module.wandb.aws_security_group.old",
        "module.wandb.module.database.aws_rds_cluster.this",
        "module.wandb.module.app_eks.aws_eks_node_group.default",
        "module.wandb.module.redis.aws_elasticache_replication_group.default",
    ]
    assert summary.destructive_count == 5
    assert summary.requires_approval
    assert summary.summary.uri == f"s3://{BUCKET}/{PREFIX}plan-summary.json"


def test_the_full_digest_is_stored_encrypted_with_every_address_and_no_value(s3: Any) -> None:
    changes = [resource_change(f"module.wandb.aws_db_instance.db{i}", "aws_db_instance", ["delete"]) for i in range(60)]
    changes += [resource_change(f"aws_iam_policy.p{i}", "aws_iam_policy", ["create"]) for i in range(80)]
    store_plan(s3, changes)

    summary = summarise(s3)

    assert len(summary.destructive) == 20  # payloads stay small
    assert summary.destructive_count == 60
    stored = s3.get_object(Bucket=BUCKET, Key=PREFIX + "plan-summary.json")
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert stored["SSEKMSKeyId"] == KEY_ARN
    raw = stored["Body"].read()
    document = json.loads(raw)
    assert len(document["destructive"]) == 60
    assert len(document["changes"]) == 140
    assert document["changes_truncated"] is False
    assert document["plan_sha256"] == SHA
    assert SECRET.encode() not in raw
    assert LICENSE.encode() not in raw
    assert SECRET not in summary.model_dump_json()


@pytest.mark.parametrize(
    ("approval", "changes", "has_changes", "expected"),
    [
        ("always", [MIXED[2]], True, True),
        ("always", [], False, False),
        ("destructive", [MIXED[2], MIXED[8]], True, False),
        ("destructive", [MIXED[2], MIXED[3]], True, True),  # an IAM role's update changes access
        ("destructive", MIXED, True, True),
        ("destructive", MIXED, False, False),  # exit code 0: nothing to apply, whatever the JSON lists
        ("never", MIXED, True, False),
    ],
)
def test_approval_follows_the_policy_and_is_never_asked_without_changes(
    s3: Any, approval: str, changes: list[dict[str, Any]], has_changes: bool, expected: bool
) -> None:
    store_plan(s3, changes, has_changes=has_changes)
    assert summarise(s3, approval).requires_approval is expected


def test_output_only_changes_have_changes_but_no_counts(s3: Any) -> None:
    store_plan(s3, [], has_changes=True)
    summary = summarise(s3, "always")
    assert summary.has_changes
    assert summary.counts.model_dump() == {"create": 0, "update": 0, "delete": 0, "replace": 0}
    assert summary.requires_approval


def test_missing_plan_files_raise_plan_not_found(s3: Any) -> None:
    with pytest.raises(PlanNotFoundError):
        summarise(s3)
    s3.put_object(
        Bucket=BUCKET,
        Key=PREFIX + "plan-result.json",
        Body=json.dumps({"plan_sha256": SHA, "has_changes": True}).encode(),
    )
    with pytest.raises(PlanNotFoundError):
        summarise(s3)


def test_a_failed_plan_build_has_no_plan_to_summarise(s3: Any) -> None:
    store_plan(s3, [], error={"code": "StateLocked", "message": "terraform plan could not acquire the state lock"})
    with pytest.raises(PlanNotFoundError, match="StateLocked"):
        summarise(s3)


def test_a_missing_bucket_raises_plan_not_found() -> None:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        with pytest.raises(PlanNotFoundError):
            summarise_plan(bucket="no-such-bucket", run_prefix=PREFIX, approval="always", s3=client)
