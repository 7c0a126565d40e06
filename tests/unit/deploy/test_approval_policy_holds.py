"""The approval policy holds for every run: drift remediation, a policy relaxed in the same burst as a destructive
change, and a paused deployment's rerun (security review, items 1 and 6)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.plan.plans import resource_change
from tests.unit.runs.conftest import TABLE, create_deployments_table
from wandb_deployer.config.model import ApprovalPolicy
from wandb_deployer.deploy.finish_step import finish
from wandb_deployer.deploy.plan_step import effective_approval, summarise
from wandb_deployer.errors import DestructiveRemediationRefusedError
from wandb_deployer.runs.desired import AppliedState, mark_applied, read_applied, read_desired, record_desired_change
from wandb_deployer.settings import Settings
from wandb_deployer.states import FinishRunInput, PlanSummaryInput, RunContext, Wrapped

pytestmark = pytest.mark.unit

BUCKET = "wbd-artifacts-test"
PREFIX = "runs/prod/exec-1/"
SHA = "ab" * 32
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-deploy:prod-1"
STATE_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:wandb-deployer-deploy"
SETTINGS = Settings(
    artifacts_bucket=BUCKET,
    state_bucket="wbd-state-test",
    deployments_table=TABLE,
    deploy_state_machine_arn=STATE_MACHINE,
)
BUCKET_ADDRESS = "module.wandb.module.file_storage.aws_s3_bucket.file_storage"
SIZE_CHANGE = [resource_change("terraform_data.inputs", "terraform_data", ["update"])]
DESTRUCTIVE = [resource_change(BUCKET_ADDRESS, "aws_s3_bucket", ["delete", "create"])]


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_deployments_table(dynamodb)
        yield s3, dynamodb


def store_plan(s3: Any, changes: list[dict[str, Any]]) -> None:
    result = {"action": "plan", "has_changes": bool(changes), "plan_sha256": SHA, "error": None}
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan-result.json", Body=json.dumps(result).encode())
    s3.put_object(Bucket=BUCKET, Key=PREFIX + "plan.json", Body=json.dumps({"resource_changes": changes}).encode())


def plan_step(approval: ApprovalPolicy, **extra: Any) -> Any:
    request = PlanSummaryInput(deployment="prod", run_prefix=PREFIX, approval=approval, generation="operator", **extra)
    return summarise(request, SETTINGS)


def applied_under(dynamodb: Any, approval: ApprovalPolicy | None) -> None:
    mark_applied(
        deployment="prod",
        fingerprint="f1",
        execution_arn=EXECUTION,
        generation=1,
        wandb_generation="operator",
        approval=approval,
        table=TABLE,
        dynamodb=dynamodb,
    )


# -- item 1: drift remediation -------------------------------------------------------------------------------------
def test_a_safe_drift_remediation_still_waits_for_approval_under_policy_always(aws: tuple[Any, Any]) -> None:
    # Given approval: always and drift_action: remediate-safe, and a remediation plan without destructive changes
    s3, _ = aws
    store_plan(s3, SIZE_CHANGE)

    # When the drift-triggered run summarises its plan
    summary = plan_step("always", trigger="drift", drift_action="remediate-safe")

    # Then the approval policy holds: remediate-safe adds a refusal, it never removes the gate.
    assert summary.destructive_count == 0
    assert summary.requires_approval is True


@pytest.mark.parametrize("drift_action", ["remediate-safe", "remediate"])
def test_drift_remediation_follows_the_approval_policy(aws: tuple[Any, Any], drift_action: str) -> None:
    s3, _ = aws
    store_plan(s3, SIZE_CHANGE)
    for approval, gated in (("always", True), ("destructive", False), ("never", False)):
        summary = plan_step(approval, trigger="drift", drift_action=drift_action)  # type: ignore[arg-type]
        assert summary.requires_approval is gated, approval


def test_a_destructive_remediation_is_refused_under_remediate_safe_and_gated_under_remediate(
    aws: tuple[Any, Any],
) -> None:
    s3, _ = aws
    store_plan(s3, DESTRUCTIVE)
    with pytest.raises(DestructiveRemediationRefusedError):
        plan_step("never", trigger="drift", drift_action="remediate-safe")
    assert plan_step("destructive", trigger="drift", drift_action="remediate").requires_approval is True


# -- item 6: the policy cannot switch itself off ---------------------------------------------------------------------
def test_approval_never_written_with_a_destructive_change_still_stops_at_the_gate(aws: tuple[Any, Any]) -> None:
    # Given the last run applied under approval: destructive
    s3, dynamodb = aws
    applied_under(dynamodb, "destructive")
    store_plan(s3, DESTRUCTIVE)

    # When one settle window brings approval: never together with a destructive change
    summary = plan_step("never")

    # Then the stricter, applied policy decides for this run.
    assert summary.requires_approval is True
    stored = json.loads(s3.get_object(Bucket=BUCKET, Key=PREFIX + "plan-summary.json")["Body"].read())
    assert stored["approval"] == "destructive"


def test_a_relaxed_policy_holds_from_the_run_after_the_one_that_applied_it(aws: tuple[Any, Any]) -> None:
    s3, dynamodb = aws
    applied_under(dynamodb, "never")
    store_plan(s3, DESTRUCTIVE)
    assert plan_step("never").requires_approval is False
    # and a stricter desired policy applies at once
    assert plan_step("always").requires_approval is True


def test_effective_approval_is_the_stricter_of_desired_and_applied() -> None:
    def applied(approval: ApprovalPolicy | None) -> AppliedState:
        return AppliedState(fingerprint="f", execution_arn=EXECUTION, applied_at="t", approval=approval)

    assert effective_approval("never", applied("always")) == "always"
    assert effective_approval("never", applied("destructive")) == "destructive"
    assert effective_approval("always", applied("never")) == "always"
    assert effective_approval("destructive", applied("destructive")) == "destructive"
    assert effective_approval("never", None) == "never"  # first install
    assert effective_approval("never", applied(None)) == "never"  # recorded before policies were


def loaded_config(approval: ApprovalPolicy = "destructive", desired_generation: int = 1) -> dict[str, Any]:
    return {
        "deployment": "prod",
        "fingerprint": "f2",
        "workspace": {"bucket": BUCKET, "key": "workspaces/prod/f2.zip"},
        "run_prefix": PREFIX,
        "generation": "operator",
        "module_version": "8.0.0",
        "terraform_version": "1.10.5",
        "approval": approval,
        "drift_action": "notify",
        "health_timeout_seconds": 900,
        "license_parameter": "/wandb-deployer/prod/infra/license",
        "expects_queue": True,
        "desired_generation": desired_generation,
    }


def test_the_end_of_a_successful_run_records_the_policy_it_applied_under(aws: tuple[Any, Any]) -> None:
    _, dynamodb = aws
    request = FinishRunInput(
        deployment="prod",
        execution_arn=EXECUTION,
        outcome="succeeded",
        context=RunContext(config=Wrapped(value=loaded_config("always", desired_generation=0))),
    )
    finish(request, SETTINGS)
    record = read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert record is not None and record.approval == "always"


# -- item 6: a pause holds for the rerun finish_run would start ------------------------------------------------------
@pytest.mark.parametrize("paused", [True, False])
def test_the_rerun_at_the_end_of_a_run_honours_the_pause(aws: tuple[Any, Any], paused: bool) -> None:
    # Given a run that snapshotted desired generation 1 while the desired state moved on to 2
    _, dynamodb = aws
    for version in (1, 2):
        record_desired_change(
            deployment="prod",
            parameter_name="/wandb-deployer/prod/infra/size",
            parameter_version=version,
            table=TABLE,
            dynamodb=dynamodb,
        )
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/wandb-deployer/prod/deployer/paused", Value=str(paused).lower(), Type="String")
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    sfn.create_state_machine(
        name="wandb-deployer-deploy",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/deploy",
    )

    # When the run finishes
    result = finish(
        FinishRunInput(
            deployment="prod",
            execution_arn=EXECUTION,
            outcome="succeeded",
            context=RunContext(config=Wrapped(value=loaded_config())),
        ),
        SETTINGS,
    )

    # Then a paused deployment starts nothing (the change stays pending); otherwise the rerun starts.
    started = sfn.list_executions(stateMachineArn=STATE_MACHINE)["executions"]
    if paused:
        assert result.next_execution_arn is None and started == []
        assert read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb).pending is True
    else:
        assert result.next_execution_arn is not None and len(started) == 1
