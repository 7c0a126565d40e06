"""`wbd runs`, `wbd runs <run>`, `wbd status`, `wbd approve` / `reject` on run records kept in (moto's) table."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.unit.cli.conftest import OPERATOR, TABLE, Deployer
from tests.unit.runs.secrets import FAKE_LICENSE
from wandb_deployer.drift.record import record_drift
from wandb_deployer.runs.approval import store_pending_approval
from wandb_deployer.runs.config_snapshot import snapshot_values, store_snapshot
from wandb_deployer.runs.desired import mark_applied
from wandb_deployer.runs.history import read_run, record_run_event
from wandb_deployer.states import ChangeCounts, S3Pointer
from wandb_deployer.upgrade.outcome import record_upgrade_outcome
from wbd.cli.main import app
from wbd.config_file import load_config_file

pytestmark = pytest.mark.unit

ARN = "arn:aws:states:us-east-1:123456789012:execution:deploy:"
NOW = datetime.now(UTC).replace(microsecond=0)
SHA = "ab12" * 16
INVALID = (
    "deployment 'demo' has 1 config problem(s): infra/size: 'huge' is not one of small, medium, large, xlarge, xxlarge"
)
SUCCEEDED_DETAILS: dict[str, Any] = {
    "changes": [{"key": "infra/size", "before": "small", "after": "medium", "masked": False}],
    "changes_since": "demo-push-1",
    "plan": {
        "plan_sha256": SHA,
        "has_changes": True,
        "counts": {"create": 0, "update": 1, "delete": 0, "replace": 0},
        "destructive": [],
        "destructive_count": 0,
        "changes": [{"address": "module.wandb_infra.terraform_data.inputs", "action": "update"}],
    },
    "approval": {"decision": "not needed", "by": "policy (destructive)", "plan_sha256": SHA},
    "verification": {
        "wiring": {
            "passed": True,
            "expects_queue": True,
            "bucket": "b",
            "checked": ["bucket notification"],
            "findings": [],
        },
        "health": {
            "healthy": True,
            "attempts": 1,
            "url": "https://w",
            "checked": ["GET https://w/healthz"],
            "findings": [],
        },
    },
    "steps": [{"name": "Plan", "seconds": 61.5, "entries": 1}, {"name": "Apply", "seconds": 120.0, "entries": 1}],
}


def record(deployer: Deployer, name: str, outcome: Any, minutes: int, **fields: Any) -> None:
    started = NOW - timedelta(hours=1) + timedelta(minutes=minutes)
    record_run_event(
        deployment="demo",
        execution_arn=ARN + name,
        outcome="started",
        trigger=fields.pop("trigger", "parameter-change"),
        started_at=started,
        now=started,
        table=TABLE,
        dynamodb=deployer.dynamodb,
    )
    record_run_event(
        deployment="demo",
        execution_arn=ARN + name,
        outcome=outcome,
        started_at=started,
        now=started + timedelta(minutes=4),
        table=TABLE,
        dynamodb=deployer.dynamodb,
        **fields,
    )


@pytest.fixture
def history(deployer: Deployer) -> Deployer:
    record(deployer, "demo-push-1", "succeeded", 0, trigger="push", details={"changes_since": "nothing applied yet"})
    record(deployer, "demo-parameter-change-2", "succeeded", 10, details=SUCCEEDED_DETAILS)
    cause = json.dumps({"errorType": "InvalidConfigError", "errorMessage": INVALID, "stackTrace": ["..."]})
    record(
        deployer,
        "demo-parameter-change-3",
        "failed",
        20,
        error="InvalidConfigError",
        cause=cause,
        reason=INVALID,
        details={
            "steps": [{"name": "Load and render config", "seconds": 0.2, "entries": 1, "error": "InvalidConfigError"}]
        },
    )
    return deployer


def test_runs_shows_why_each_run_ended(runner: CliRunner, history: Deployer) -> None:
    result = runner.invoke(app, ["runs", "demo"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    failed = next(line for line in lines if "demo-parameter-change-3" in line)
    assert "failed" in failed and "infra/size: 'huge' is not one of" in result.stdout
    succeeded = next(line for line in lines if "demo-parameter-change-2" in line)
    assert "succeeded" in succeeded and "1 to update" in succeeded
    assert "demo-parameter-change-3" in next(line for line in lines if "demo-" in line)  # newest first

    listed = json.loads(runner.invoke(app, ["runs", "demo", "--json"]).stdout)
    assert [run["execution_name"] for run in listed["runs"]] == [
        "demo-parameter-change-3",
        "demo-parameter-change-2",
        "demo-push-1",
    ]
    assert listed["runs"][0]["reason"] == INVALID


def test_one_run_shown_whole_and_its_exit_code_is_its_outcome(runner: CliRunner, history: Deployer) -> None:
    latest = runner.invoke(app, ["runs", "demo", "latest"])
    assert latest.exit_code == 1, latest.output
    assert "demo-parameter-change-3" in latest.stdout and INVALID in latest.stdout
    assert "Load and render config" in latest.stdout and "x InvalidConfigError" in latest.stdout

    whole = runner.invoke(app, ["runs", "demo", "change-2"])
    assert whole.exit_code == 0, whole.output
    text = whole.stdout
    for expected in (
        "trigger",
        "parameter-change",
        "changed in SSM since demo-push-1",
        "infra/size",
        "small",
        "medium",
        f"plan {SHA}: 1 to update",
        "update  module.wandb_infra.terraform_data.inputs",
        "not needed by policy (destructive)",
        "S3 -> SQS wiring passed (b)",
        "health healthy after 1 attempt(s) at https://w",
        "61.50",
    ):
        assert expected in text, expected

    ambiguous = runner.invoke(app, ["runs", "demo", "demo-parameter-change"])
    assert ambiguous.exit_code == 2 and "matches 2 runs of demo" in ambiguous.stderr
    missing = runner.invoke(app, ["runs", "demo", "nope"])
    assert missing.exit_code == 2 and "demo has no run 'nope'" in missing.stderr


def _apply(deployer: Deployer, name: str, **infra: object) -> None:
    config = load_config_file(OPERATOR, license=FAKE_LICENSE)
    config = config.model_copy(update={"infra": {**config.infra, **infra}})
    store_snapshot(
        deployment="demo",
        fingerprint="fp-" + name,
        values=snapshot_values(config),
        table=TABLE,
        dynamodb=deployer.dynamodb,
    )
    mark_applied(
        deployment="demo", fingerprint="fp-" + name, execution_arn=ARN + name, table=TABLE, dynamodb=deployer.dynamodb
    )


def test_status_in_sync_then_what_differs_with_secrets_masked(runner: CliRunner, history: Deployer) -> None:
    _apply(history, "demo-parameter-change-2")
    in_sync = runner.invoke(app, ["status", "demo"])
    assert in_sync.exit_code == 0, in_sync.output
    assert "in sync with what demo-parameter-change-2 applied" in in_sync.stdout
    assert "nothing (lock free)" in in_sync.stdout
    last_run = next(line for line in in_sync.stdout.splitlines() if "last run" in line)
    assert "demo-parameter-change-3 (parameter-change) failed: deployment 'demo' has 1 config problem(s)" in last_run

    history.ssm.put_parameter(Name="/wandb-deployer/demo/infra/size", Value="large", Type="String", Overwrite=True)
    history.ssm.put_parameter(
        Name="/wandb-deployer/demo/infra/license", Value=FAKE_LICENSE[::-1], Type="SecureString", Overwrite=True
    )
    differs = runner.invoke(app, ["status", "demo"])
    assert "differs from what was applied (demo-parameter-change-2): size small → large" in differs.stdout
    assert "infra/license" in differs.stdout and "******** (modified since)" in differs.stdout
    report = json.loads(runner.invoke(app, ["status", "demo", "--json"]).stdout)
    assert report["in_sync"] is False
    assert {change["key"] for change in report["differences"]} == {"infra/size", "infra/license"}
    for secret in (FAKE_LICENSE, FAKE_LICENSE[::-1]):
        assert secret not in differs.output and secret not in json.dumps(report)


def test_status_shows_the_approval_the_drift_and_the_last_rejections(runner: CliRunner, history: Deployer) -> None:
    _apply(history, "demo-parameter-change-2", size="medium")
    # a rejected run of size=large, still desired
    history.ssm.put_parameter(Name="/wandb-deployer/demo/infra/size", Value="large", Type="String", Overwrite=True)
    record(
        history,
        "demo-parameter-change-4",
        "rejected",
        30,
        error="ApprovalRejectedError",
        reason="rejected by bob: not during the freeze",
        details={
            "changes": [{"key": "infra/size", "before": "medium", "after": "large", "masked": False}],
            "approval": {"decision": "rejected", "by": "bob", "at": "2026-05-01T12:00:00.000000Z", "reason": "freeze"},
        },
    )
    record_drift(
        deployment="demo",
        fingerprint="f" * 64,
        summary={"resources": ["module.x.aws_s3_bucket_notification.n"], "findings": ["NOTIFICATION_MISSING"]},
        table=TABLE,
        dynamodb=history.dynamodb,
    )
    record_upgrade_outcome(
        deployment="demo",
        accepted=False,
        reasons=["eks_cluster_version: EKS upgrades one minor version at a time: 1.33 -> 1.34 first, not 1.35"],
        requested_by="wbd",
        table=TABLE,
        dynamodb=history.dynamodb,
    )
    result = runner.invoke(app, ["status", "demo"])
    text = result.stdout
    assert result.exit_code == 0, result.output
    assert "DRIFTED since" in text and "aws_s3_bucket_notification" in text and "NOTIFICATION_MISSING" in text
    assert "last rejection" in text and "rejected by bob" in text and "(freeze)" in text
    assert "the rejected change is still desired" in text
    assert "last upgrade request" in text and "REJECTED" in text and "not 1.35" in text


@pytest.fixture
def pending(history: Deployer) -> Deployer:
    record(
        history,
        "demo-parameter-change-5",
        "approval-needed",
        40,
        details={
            "changes": [{"key": "infra/namespace", "before": "wandb-demo", "after": "wandb-blue", "masked": False}]
        },
    )
    store_pending_approval(
        deployment="demo",
        execution_arn=ARN + "demo-parameter-change-5",
        task_token="task-token-never-shown",
        plan_sha256=SHA,
        counts=ChangeCounts(create=2, replace=2),
        destructive=["module.wandb_infra.module.file_storage.aws_s3_bucket.file_storage"],
        summary=S3Pointer(bucket="artifacts", key="runs/demo/x/plan-summary.json"),
        timeout_seconds=3600,
        table=TABLE,
        dynamodb=history.dynamodb,
    )
    return history


def test_status_and_approve_show_what_is_approved(runner: CliRunner, pending: Deployer) -> None:
    status = runner.invoke(app, ["status", "demo"])
    for expected in (
        f"plan {SHA}: 2 to create, 2 to replace, 1 destructive",
        "destructive: module.wandb_infra.module.file_storage.aws_s3_bucket.file_storage",
        "infra/namespace",
        "wandb-blue",
        f"approve with: wbd approve demo --plan {SHA}",
    ):
        assert expected in status.stdout, expected

    refused = runner.invoke(app, ["approve", "demo", "--plan", "0" * 64])
    assert refused.exit_code == 2
    assert f"waits for approval of plan {SHA}, not '{'0' * 64}'" in refused.stderr

    approved = runner.invoke(app, ["approve", "demo", "--plan", SHA])
    assert approved.exit_code == 0, approved.output
    for expected in (
        f"approving plan {SHA} of demo",
        "2 to create, 2 to replace",
        "destructive: module.wandb_infra.module.file_storage.aws_s3_bucket.file_storage",
        "because these parameters changed",
        "wandb-blue",
        f"approved plan {SHA} of demo; the run applies exactly that plan now",
    ):
        assert expected in approved.stdout, expected
    assert "task-token-never-shown" not in approved.output + status.output
    run = read_run(
        deployment="demo", execution_arn=ARN + "demo-parameter-change-5", table=TABLE, dynamodb=pending.dynamodb
    )
    assert run is not None and run.details["approval"]["decision"] == "approved"
    assert run.details["approval"]["plan_sha256"] == SHA

    nothing = runner.invoke(app, ["reject", "demo", "--reason", "late"])
    assert nothing.exit_code == 1 and "has no plan waiting for approval" in nothing.stderr


def test_approve_says_a_database_snapshot_is_taken_before_the_apply(runner: CliRunner, history: Deployer) -> None:
    # Given a W&B upgrade waiting at the gate, whose plan the summary found risky for the database
    record(
        history,
        "demo-parameter-change-6",
        "approval-needed",
        40,
        details={"gate": {"plan_sha256": SHA, "snapshot": ["app/wandb_version changes"]}},
    )
    store_pending_approval(
        deployment="demo",
        execution_arn=ARN + "demo-parameter-change-6",
        task_token="task-token-never-shown",
        plan_sha256=SHA,
        counts=ChangeCounts(update=1),
        destructive=[],
        summary=S3Pointer(bucket="artifacts", key="runs/demo/x/plan-summary.json"),
        timeout_seconds=3600,
        table=TABLE,
        dynamodb=history.dynamodb,
    )

    approved = runner.invoke(app, ["approve", "demo", "--plan", SHA])

    assert approved.exit_code == 0, approved.output
    assert "a database snapshot is taken before the apply: app/wandb_version changes" in approved.stdout


def test_status_shows_the_days_the_license_has_left_or_that_it_has_no_readable_expiry(
    runner: CliRunner, history: Deployer
) -> None:
    from wandb_deployer.verification.license_expiry import record_license_expiry

    assert "license" not in runner.invoke(app, ["status", "demo"]).stdout.lower().replace("infra/license", "")
    expires_on = (datetime.now(UTC) + timedelta(days=9)).date()
    record_license_expiry(deployment="demo", expires_on=expires_on, table=TABLE, dynamodb=history.dynamodb)
    shown = runner.invoke(app, ["status", "demo"])
    assert f"expires {expires_on.isoformat()}: 9 day(s) left" in shown.stdout, shown.output
    report = json.loads(runner.invoke(app, ["status", "demo", "--json"]).stdout)
    assert (report["license_days_left"], report["license_expires_on"]) == (9, expires_on.isoformat())

    record_license_expiry(deployment="demo", expires_on=None, table=TABLE, dynamodb=history.dynamodb)
    assert "no readable expiry" in runner.invoke(app, ["status", "demo"]).stdout


def test_approve_before_a_runbook_steps_wait_is_refused_and_the_plan_stays_pending(
    runner: CliRunner, history: Deployer
) -> None:
    # Given the v8 runbook's retire-aws-auth step waiting at the gate an hour before it may be approved
    earliest = NOW + timedelta(hours=1)
    why = "3600 s (RunbookAwsAuthWaitSeconds) after the module step's run ended: Wait at least one full kubelet ..."
    line = f"may be approved from {earliest:%Y-%m-%dT%H:%M:%S}Z ({why})"
    record(
        history,
        "demo-runbook-7",
        "approval-needed",
        40,
        details={"gate": {"plan_sha256": SHA, "requested_at": NOW.isoformat(), "approval_wait": line}},
    )
    store_pending_approval(
        deployment="demo",
        execution_arn=ARN + "demo-runbook-7",
        task_token="task-token-never-shown",
        plan_sha256=SHA,
        counts=ChangeCounts(delete=1),
        destructive=[],
        summary=S3Pointer(bucket="artifacts", key="runs/demo/x/plan-summary.json"),
        timeout_seconds=86400,
        table=TABLE,
        dynamodb=history.dynamodb,
        approvable_from=earliest.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        approvable_reason=why,
    )

    status = runner.invoke(app, ["status", "demo"])
    refused = runner.invoke(app, ["approve", "demo", "--plan", SHA])

    assert status.exit_code == 0, status.output
    assert line in " ".join(status.stdout.split()), status.stdout
    assert refused.exit_code == 1, refused.output  # the command worked; the answer is "not yet"
    assert line in " ".join(refused.stdout.split())  # the summary of what is approved says so too
    assert refused.stderr.startswith(f"deployment 'demo': plan {SHA} {line}; it is ")
    assert "nothing was sent, the approval stays pending" in refused.stderr and "Traceback" not in refused.output
    assert "may be approved from" in runner.invoke(app, ["runs", "demo", "demo-runbook-7"]).stdout
    still = runner.invoke(app, ["status", "demo"])
    assert f"approve with: wbd approve demo --plan {SHA}" in still.stdout
    rejected = runner.invoke(app, ["reject", "demo", "--reason", "aws-auth still used"])
    assert rejected.exit_code == 0, rejected.output  # a rejection is accepted any time
    assert "nothing is applied" in rejected.stdout
