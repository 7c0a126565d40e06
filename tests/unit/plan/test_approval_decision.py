"""Whether a plan waits for a human, at the boundaries (exactly one destructive change), and what the summary step
does when the run's artifacts are missing, malformed or unreadable (AWS failures injected into one call)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.unit.faults import fail_call
from tests.unit.plan.conftest import BUCKET
from tests.unit.plan.plans import plan_bytes, resource_change
from tests.unit.plan.test_summarise_plan import PREFIX, SHA, store_plan, summarise
from wandb_deployer.errors import AwsRequestFailedError, PlanNotFoundError, TransientAwsError
from wandb_deployer.plan.summary import requires_approval, summarise_plan, summarise_plan_json
from wandb_deployer.states import ChangeCounts, PlanSummary, S3Pointer

pytestmark = pytest.mark.unit

ONE_DATABASE_DELETED = [
    resource_change("module.wandb.module.database.aws_rds_cluster.this", "aws_rds_cluster", ["delete"])
]
# A launch template holds no data and controls no access (an IAM role does since security item 8: see test_destructive).
ONE_TEMPLATE_DELETED = [resource_change("module.wandb.aws_launch_template.workers", "aws_launch_template", ["delete"])]


@pytest.mark.parametrize(
    ("policy", "has_changes", "destructive_count", "expected"),
    [
        ("destructive", True, 1, True),  # exactly one: a single database or bucket is enough
        ("destructive", True, 0, False),
        ("destructive", False, 1, False),
        ("always", True, 0, True),
        ("always", False, 0, False),
        ("never", True, 1, False),
        ("never", True, 5, False),
    ],
)
def test_requires_approval_by_policy(policy: Any, has_changes: bool, destructive_count: int, expected: bool) -> None:
    assert requires_approval(policy, has_changes=has_changes, destructive_count=destructive_count) is expected


def test_a_plan_deleting_exactly_one_database_waits_under_the_destructive_policy(s3: Any) -> None:
    store_plan(s3, ONE_DATABASE_DELETED)

    summary = summarise(s3, "destructive")

    assert summary == PlanSummary(
        plan_sha256=SHA,
        has_changes=True,
        counts=ChangeCounts(delete=1),
        destructive=["module.wandb.module.database.aws_rds_cluster.this"],
        destructive_count=1,
        requires_approval=True,
        summary=S3Pointer(bucket=BUCKET, key=PREFIX + "plan-summary.json"),
    )


def test_deleting_a_resource_that_holds_no_data_does_not_wait(s3: Any) -> None:
    store_plan(s3, ONE_TEMPLATE_DELETED)
    summary = summarise(s3, "destructive")
    assert (summary.requires_approval, summary.destructive_count, summary.counts.delete) == (False, 0, 1)


def test_the_stored_summary_is_the_whole_decision(s3: Any) -> None:
    store_plan(s3, ONE_DATABASE_DELETED + ONE_TEMPLATE_DELETED)

    summarise(s3, "destructive")

    stored = s3.get_object(Bucket=BUCKET, Key=PREFIX + "plan-summary.json")
    assert stored["ContentType"] == "application/json"
    assert json.loads(stored["Body"].read()) == {
        "plan_sha256": SHA,
        "has_changes": True,
        "approval": "destructive",
        "requires_approval": True,
        "destructive_count": 1,
        "counts": {"create": 0, "update": 0, "delete": 2, "replace": 0},
        "resources": 2,
        "changes": [
            {
                "address": "module.wandb.module.database.aws_rds_cluster.this",
                "type": "aws_rds_cluster",
                "action": "delete",
            },
            {
                "address": "module.wandb.aws_launch_template.workers",
                "type": "aws_launch_template",
                "action": "delete",
            },
        ],
        "changes_truncated": False,
        "destructive": [
            {
                "address": "module.wandb.module.database.aws_rds_cluster.this",
                "type": "aws_rds_cluster",
                "action": "delete",
                "holds": "database",
            }
        ],
        "database_clusters": [],  # the plan's before values name no cluster: none to snapshot
    }


def test_without_a_key_the_summary_is_encrypted_with_the_bucket_default_kms_key(s3: Any) -> None:
    store_plan(s3, ONE_TEMPLATE_DELETED)
    written = []
    s3.meta.events.register("before-parameter-build.s3.PutObject", lambda params, **_: written.append(dict(params)))

    summarise_plan(bucket=BUCKET, run_prefix=PREFIX, approval="never", s3=s3)

    assert len(written) == 1
    assert written[0]["ServerSideEncryption"] == "aws:kms" and "SSEKMSKeyId" not in written[0]


# --- artifacts that are missing, malformed or unreadable -----------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (b"not json", "plan-result.json is not a plan result"),
        (b"[]", "plan-result.json is not a plan result"),
        (json.dumps({"has_changes": True}).encode(), "plan-result.json is not a plan result"),
        (json.dumps({"plan_sha256": SHA}).encode(), "plan-result.json is not a plan result"),
        (json.dumps({"plan_sha256": "", "has_changes": True}).encode(), "saved no plan (error unknown)"),
        (json.dumps({"plan_sha256": 7, "has_changes": True}).encode(), "saved no plan (error unknown)"),
        (json.dumps({"plan_sha256": None, "has_changes": True}).encode(), "saved no plan (error unknown)"),
        (
            json.dumps({"plan_sha256": SHA, "has_changes": True, "error": "boom"}).encode(),
            "saved no plan (error unknown)",
        ),
        (
            json.dumps({"plan_sha256": SHA, "has_changes": True, "error": {"code": "Init"}}).encode(),
            "saved no plan (error Init)",
        ),
    ],
)
def test_a_plan_result_without_a_plan_is_refused(s3: Any, result: bytes, message: str) -> None:
    store_plan(s3, ONE_TEMPLATE_DELETED)
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan-result.json", Body=result)

    with pytest.raises(PlanNotFoundError, match=message.replace("(", r"\(").replace(")", r"\)")):
        summarise(s3)

    assert s3.list_objects_v2(Bucket=BUCKET, Prefix=PREFIX + "plan-summary.json").get("KeyCount") == 0


def test_a_missing_plan_names_the_object(s3: Any) -> None:
    store_plan(s3, ONE_TEMPLATE_DELETED)
    s3.delete_object(Bucket=BUCKET, Key=PREFIX + "plan.json")

    with pytest.raises(PlanNotFoundError) as raised:
        summarise(s3)

    assert str(raised.value) == f"s3://{BUCKET}/{PREFIX}plan.json does not exist: the run has no saved plan"


@pytest.mark.parametrize(
    ("operation", "key", "code", "status", "error"),
    [
        ("GetObject", "plan-result.json", "AccessDenied", 403, AwsRequestFailedError),
        ("GetObject", "plan-result.json", "SlowDown", 503, TransientAwsError),
        ("GetObject", "plan.json", "AccessDenied", 403, AwsRequestFailedError),
        ("GetObject", "plan.json", "InternalError", 500, TransientAwsError),
        ("PutObject", "plan-summary.json", "AccessDenied", 403, AwsRequestFailedError),
        ("PutObject", "plan-summary.json", "SlowDown", 503, TransientAwsError),
    ],
)
def test_an_unreadable_or_unwritable_artifact_is_an_aws_failure_not_a_missing_plan(
    s3: Any, operation: str, key: str, code: str, status: int, error: type[Exception]
) -> None:
    # Access denied must not read as "no plan": the run fails with the real reason (and throttling is retried).
    store_plan(s3, ONE_DATABASE_DELETED)
    failed = fail_call(s3, operation, code, status=status, when=lambda params: params["Key"] == PREFIX + key)

    with pytest.raises(error, match=f"s3://{BUCKET}/{PREFIX}{key}"):
        summarise(s3)

    assert len(failed) == 1


def test_summarise_plan_json_lists_the_first_changes_in_plan_order() -> None:
    changes = [resource_change(f"aws_iam_role.r{i}", "aws_iam_role", ["create"]) for i in range(3)]
    digest = summarise_plan_json(io.BytesIO(plan_bytes(changes)), max_listed=2)
    assert [change.address for change in digest.changes] == ["aws_iam_role.r0", "aws_iam_role.r1"]
    assert digest.changes_truncated is True
    exact = summarise_plan_json(io.BytesIO(plan_bytes(changes)), max_listed=3)
    assert exact.changes_truncated is False and len(exact.changes) == 3


def test_elements_that_are_not_changes_are_read_but_not_counted() -> None:
    document = {"resource_changes": [1, "x", {"change": None}, {"change": {"actions": "delete"}}, {"type": "t"}]}
    digest = summarise_plan_json(io.BytesIO(json.dumps(document).encode()))
    assert digest.resources == 5
    assert digest.counts == ChangeCounts()
    assert digest.changes == [] and digest.destructive == []


def test_a_change_without_address_or_type_is_counted_with_empty_names() -> None:
    document = {"resource_changes": [{"change": {"actions": ["delete"]}}]}
    digest = summarise_plan_json(io.BytesIO(json.dumps(document).encode()))
    assert digest.counts == ChangeCounts(delete=1)
    assert [(c.address, c.type, c.action) for c in digest.changes] == [("", "", "delete")]
    assert digest.destructive == []
