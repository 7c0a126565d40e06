"""A migration between W&B generations (legacy -> operator) always stops at the approval gate.

The end of a successful run records the W&B generation it applied next to the fingerprint; the plan step compares it
with the desired generation and asks a human whatever the policy (`never` included).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.plan.plans import resource_change
from tests.unit.runs.conftest import TABLE, create_deployments_table
from wandb_deployer.config.model import ApprovalPolicy, Generation
from wandb_deployer.deploy.finish_step import finish
from wandb_deployer.deploy.plan_step import migrating_from, summarise
from wandb_deployer.errors import DestructiveRemediationRefusedError
from wandb_deployer.runs import item_key
from wandb_deployer.runs.desired import APPLIED_SK, AppliedState, mark_applied, read_applied
from wandb_deployer.settings import Settings
from wandb_deployer.states import FinishRunInput, PlanSummaryInput, RunContext, Wrapped

pytestmark = pytest.mark.unit

BUCKET = "wbd-artifacts-test"
PREFIX = "runs/prod/exec-9/"
SHA = "cd" * 32
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-deploy:prod-1"
SETTINGS = Settings(artifacts_bucket=BUCKET, state_bucket="wbd-state-test", deployments_table=TABLE)

# A migration plan: the app module's release goes (destructive: W&B itself), the operator's comes; the bucket is only
# updated.
MIGRATION_CHANGES = [
    resource_change("module.wandb_app.helm_release.wandb", "helm_release", ["delete"]),
    resource_change("module.wandb.module.wandb.helm_release.operator", "helm_release", ["create"]),
    resource_change("module.wandb.module.file_storage.aws_s3_bucket.file_storage", "aws_s3_bucket", ["update"]),
]


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_deployments_table(dynamodb)
        yield s3, dynamodb


def store_plan(s3: Any, changes: list[dict[str, Any]], *, has_changes: bool = True) -> None:
    result = {"action": "plan", "has_changes": has_changes, "plan_sha256": SHA, "error": None}
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan-result.json", Body=json.dumps(result).encode())
    plan = {"format_version": "1.2", "resource_changes": changes}
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan.json", Body=json.dumps(plan).encode())


def applied(dynamodb: Any, wandb_generation: Generation | None) -> None:
    mark_applied(
        deployment="prod",
        fingerprint="f1",
        execution_arn=EXECUTION,
        generation=1,
        wandb_generation=wandb_generation,
        table=TABLE,
        dynamodb=dynamodb,
    )


def plan_step(generation: Generation, approval: ApprovalPolicy = "never", **extra: Any) -> Any:
    request = PlanSummaryInput(deployment="prod", run_prefix=PREFIX, approval=approval, generation=generation, **extra)
    return summarise(request, SETTINGS)


def test_migrating_from_names_the_applied_generation_only_when_it_differs() -> None:
    def record(wandb_generation: Generation | None) -> AppliedState:
        return AppliedState(fingerprint="f", execution_arn=EXECUTION, applied_at="t", wandb_generation=wandb_generation)

    assert migrating_from(record("legacy"), "operator") == "legacy"
    assert migrating_from(record("operator"), "legacy") == "operator"
    assert migrating_from(record("operator"), "operator") is None
    assert migrating_from(None, "operator") is None  # first install
    assert migrating_from(record(None), "operator") is None  # recorded before generations were: unknown


def test_a_migration_needs_approval_even_when_the_policy_is_never(aws: tuple[Any, Any]) -> None:
    # Given legacy applied and a plan to the operator generation
    s3, dynamodb = aws
    applied(dynamodb, "legacy")
    store_plan(s3, MIGRATION_CHANGES)

    # When the plan is summarised under approval = never
    summary = plan_step("operator", approval="never")

    # Then a human must approve, and the summary says why.
    assert summary.destructive_count == 1  # the app module's Helm release: W&B itself
    assert summary.requires_approval is True
    assert summary.migration is True
    assert summary.migrating_from == "legacy"


@pytest.mark.parametrize(("approval", "gated"), [("never", False), ("destructive", True)])
def test_a_run_within_one_generation_follows_the_policy(
    aws: tuple[Any, Any], approval: ApprovalPolicy, gated: bool
) -> None:
    s3, dynamodb = aws
    applied(dynamodb, "operator")
    store_plan(s3, MIGRATION_CHANGES)

    summary = plan_step("operator", approval=approval)

    assert summary.requires_approval is gated  # deleting a Helm release of W&B is destructive
    assert summary.migration is False and summary.migrating_from is None


def test_a_first_install_and_an_unrecorded_generation_are_not_migrations(aws: tuple[Any, Any]) -> None:
    s3, dynamodb = aws
    store_plan(s3, MIGRATION_CHANGES)
    assert plan_step("operator").migration is False  # nothing applied yet

    # An APPLIED item written before the deployer recorded generations (no wandb_generation attribute at all)
    item = {"fingerprint": {"S": "f0"}, "execution_arn": {"S": EXECUTION}, "applied_at": {"S": "2026-01-01T00:00:00Z"}}
    dynamodb.put_item(TableName=TABLE, Item={**item_key("prod", APPLIED_SK), **item, "generation": {"N": "3"}})
    record = read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert record is not None and record.wandb_generation is None and record.generation == 3
    assert plan_step("operator").requires_approval is False


def test_a_plan_without_changes_never_waits_even_across_generations(aws: tuple[Any, Any]) -> None:
    s3, dynamodb = aws
    applied(dynamodb, "legacy")
    store_plan(s3, [], has_changes=False)

    summary = plan_step("operator", approval="always")

    assert summary.requires_approval is False and summary.migration is False


def test_a_safe_drift_remediation_that_migrates_waits_and_a_destructive_one_is_refused(aws: tuple[Any, Any]) -> None:
    s3, dynamodb = aws
    applied(dynamodb, "legacy")
    store_plan(s3, MIGRATION_CHANGES[1:])  # without the release's deletion: nothing destructive
    remediation: dict[str, Any] = {"trigger": "drift", "drift_action": "remediate-safe"}
    assert plan_step("operator", **remediation).requires_approval is True
    assert plan_step("legacy", **remediation).requires_approval is False

    bucket = "module.wandb.module.file_storage.aws_s3_bucket.file_storage"
    store_plan(s3, [resource_change(bucket, "aws_s3_bucket", ["delete", "create"])])
    with pytest.raises(DestructiveRemediationRefusedError):
        plan_step("operator", **remediation)


def test_the_end_of_a_successful_run_records_the_generation_it_applied(aws: tuple[Any, Any]) -> None:
    _, dynamodb = aws
    loaded = {
        "deployment": "prod",
        "fingerprint": "f-legacy",
        "workspace": {"bucket": BUCKET, "key": PREFIX + "workspace.zip"},
        "run_prefix": PREFIX,
        "generation": "legacy",
        "module_version": "2.8.0",
        "terraform_version": "1.10.5",
        "approval": "destructive",
        "drift_action": "notify",
        "health_timeout_seconds": 900,
        "license_parameter": "/wandb-deployer/prod/app/license",
        "expects_queue": True,
        "desired_generation": 0,
    }
    request = FinishRunInput(
        deployment="prod",
        execution_arn=EXECUTION,
        outcome="succeeded",
        context=RunContext(config=Wrapped(value=loaded)),
    )

    finish(request, SETTINGS)

    record = read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert record is not None
    assert record.fingerprint == "f-legacy" and record.wandb_generation == "legacy"
