"""The plan step decides: the approval policy always holds; `remediate-safe` drift runs also refuse destructive plans.

Security issue 10, item 1: with `approval: always` and `drift_action: remediate-safe`, a drift remediation applied
without the gate (a rejected change came back through remediation). Every trigger, every drift action and every policy
meet here; each case asserts the whole result the step returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.unit.plan.plans import plan_bytes, resource_change
from tests.unit.runs.conftest import TABLE, create_deployments_table
from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import ApprovalPolicy, DriftAction, Generation
from wandb_deployer.deploy.plan_step import summarise
from wandb_deployer.errors import AwsRequestFailedError, DestructiveRemediationRefusedError, TransientAwsError
from wandb_deployer.runs.desired import mark_applied
from wandb_deployer.settings import Settings
from wandb_deployer.states import ChangeCounts, PlanSummary, PlanSummaryInput, S3Pointer, Trigger

pytestmark = pytest.mark.unit

BUCKET = "wbd-artifacts-test"
PREFIX = "runs/prod/exec-3/"
SHA = "5e" * 32
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-deploy:prod-0"
SETTINGS = Settings(artifacts_bucket=BUCKET, state_bucket="wbd-state-test", deployments_table=TABLE)
SUMMARY = S3Pointer(bucket=BUCKET, key=PREFIX + "plan-summary.json")

SIZE_CHANGE = [resource_change("module.wandb.terraform_data.inputs", "terraform_data", ["update"])]
BUCKET_ADDRESS = "module.wandb.module.file_storage.aws_s3_bucket.file_storage"
ONE_BUCKET_REPLACED = [resource_change(BUCKET_ADDRESS, "aws_s3_bucket", ["delete", "create"])]


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
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan.json", Body=plan_bytes(changes))


def applied(dynamodb: Any, wandb_generation: Generation) -> None:
    mark_applied(
        deployment="prod",
        fingerprint="f0",
        execution_arn=EXECUTION,
        generation=1,
        wandb_generation=wandb_generation,
        table=TABLE,
        dynamodb=dynamodb,
    )


def step(
    approval: ApprovalPolicy,
    *,
    trigger: Trigger = "drift",
    drift_action: DriftAction = "remediate-safe",
    generation: Generation = "operator",
) -> PlanSummary:
    request = PlanSummaryInput(
        deployment="prod",
        run_prefix=PREFIX,
        approval=approval,
        generation=generation,
        trigger=trigger,
        drift_action=drift_action,
    )
    return summarise(request, SETTINGS)


def expected(*, requires_approval: bool, update: int = 1, migrating_from: Generation | None = None) -> PlanSummary:
    return PlanSummary(
        plan_sha256=SHA,
        has_changes=True,
        counts=ChangeCounts(update=update),
        requires_approval=requires_approval,
        summary=SUMMARY,
        migration=migrating_from is not None,
        migrating_from=migrating_from,
    )


@pytest.mark.parametrize(
    ("approval", "requires_approval"), [("always", True), ("destructive", False), ("never", False)]
)
@pytest.mark.parametrize("drift_action", ["remediate-safe", "remediate"])
def test_a_drift_remediation_waits_at_the_gate_as_the_policy_says(
    aws: tuple[Any, Any], approval: ApprovalPolicy, requires_approval: bool, drift_action: DriftAction
) -> None:
    # Given a drift run whose plan changes one input in place (no destructive change)
    s3, dynamodb = aws
    applied(dynamodb, "operator")
    store_plan(s3, SIZE_CHANGE)

    # When the plan step decides
    summary = step(approval, drift_action=drift_action)

    # Then the approval policy decides, as for any other run: `always` waits, whatever the drift action.
    assert summary == expected(requires_approval=requires_approval)


@pytest.mark.parametrize("approval", ["always", "destructive", "never"])
def test_a_safe_remediation_refuses_a_single_destructive_change_under_every_policy(
    aws: tuple[Any, Any], approval: ApprovalPolicy
) -> None:
    s3, dynamodb = aws
    applied(dynamodb, "operator")
    store_plan(s3, ONE_BUCKET_REPLACED)

    with pytest.raises(DestructiveRemediationRefusedError) as refused:
        step(approval)

    message = str(refused.value)
    assert "prod" in message and SHA in message and "1 destructive change(s)" in message
    assert "remediate-safe" in message


@pytest.mark.parametrize(
    ("trigger", "drift_action"),
    [("drift", "remediate"), ("drift", "notify"), ("parameter-change", "remediate-safe"), ("rerun", "remediate-safe")],
)
def test_only_a_safe_drift_remediation_refuses_destructive_plans(
    aws: tuple[Any, Any], trigger: Trigger, drift_action: DriftAction
) -> None:
    # A destructive plan of any other run goes to the gate under the destructive policy instead of being refused.
    s3, dynamodb = aws
    applied(dynamodb, "operator")
    store_plan(s3, ONE_BUCKET_REPLACED)

    summary = step("destructive", trigger=trigger, drift_action=drift_action)

    assert summary.requires_approval is True
    assert summary.destructive_count == 1
    assert summary.destructive == [BUCKET_ADDRESS]
    assert summary.counts == ChangeCounts(replace=1)


@pytest.mark.parametrize("drift_action", ["remediate-safe", "remediate", "notify"])
def test_a_remediation_that_migrates_generations_waits_even_under_never(
    aws: tuple[Any, Any], drift_action: DriftAction
) -> None:
    s3, dynamodb = aws
    applied(dynamodb, "legacy")
    store_plan(s3, SIZE_CHANGE)

    summary = step("never", drift_action=drift_action)

    assert summary == expected(requires_approval=True, migrating_from="legacy")


def test_a_plan_without_changes_is_no_migration_and_never_waits(aws: tuple[Any, Any]) -> None:
    s3, dynamodb = aws
    applied(dynamodb, "legacy")
    store_plan(s3, [], has_changes=False)

    summary = step("always")

    assert summary == PlanSummary(
        plan_sha256=SHA, has_changes=False, counts=ChangeCounts(), requires_approval=False, summary=SUMMARY
    )


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ProvisionedThroughputExceededException", 400, TransientAwsError),
        ("AccessDeniedException", 400, AwsRequestFailedError),
    ],
)
def test_a_failed_read_of_the_applied_state_fails_the_step(
    aws: tuple[Any, Any], code: str, status: int, error: type[Exception]
) -> None:
    # The generation last applied decides whether the plan is a migration: without it the step cannot decide.
    s3, _ = aws
    store_plan(s3, SIZE_CHANGE)
    dynamodb = client("dynamodb")
    with Stubber(dynamodb) as stubber:
        stubber.add_client_error("get_item", service_error_code=code, http_status_code=status)
        with pytest.raises(error, match="GetItem applied"):
            step("never")
