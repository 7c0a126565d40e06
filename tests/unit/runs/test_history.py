"""Run history: one record per run, newest first, scrubbed; and the status view of a deployment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.unit.runs.conftest import TABLE
from tests.unit.runs.secrets import FAKE_API_KEY, FAKE_LICENSE
from wandb_deployer.runs import MASK, scrub_secrets
from wandb_deployer.runs.approval import store_pending_approval
from wandb_deployer.runs.desired import mark_applied, record_desired_change
from wandb_deployer.runs.history import RunOutcome, RunRecord, deployment_status, list_runs, record_run_event
from wandb_deployer.runs.lock import acquire_lock
from wandb_deployer.states import ChangeCounts, S3Pointer

pytestmark = pytest.mark.unit

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:deploy:"


def _record(dynamodb: Any, name: str, outcome: RunOutcome, **kwargs: Any) -> RunRecord:
    return record_run_event(
        deployment="prod", execution_arn=ARN + name, outcome=outcome, table=TABLE, dynamodb=dynamodb, **kwargs
    )


def test_run_record_follows_the_run_and_keeps_its_timings(dynamodb):
    _record(dynamodb, "run-1", "started", trigger="parameter-change", started_at=T0, now=T0)
    _record(
        dynamodb,
        "run-1",
        "approval-needed",
        started_at=T0,
        now=T0 + timedelta(minutes=3),
        details={"plan": {"create": 1, "delete": 2}},
    )
    record = _record(
        dynamodb,
        "run-1",
        "succeeded",
        fingerprint="abc",
        started_at=T0,
        now=T0 + timedelta(minutes=10),
        details={"module_version": "8.0.0"},
    )

    assert record.outcome == "succeeded"
    assert record.trigger == "parameter-change"
    assert record.duration_seconds == 600
    assert record.details == {"plan": {"create": 1, "delete": 2}, "module_version": "8.0.0"}
    assert [event["outcome"] for event in record.timeline] == ["started", "approval-needed", "succeeded"]
    assert len(list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb)) == 1


def test_run_record_is_found_without_started_at(dynamodb):
    _record(dynamodb, "run-1", "started", now=T0)

    record = _record(
        dynamodb, "run-1", "failed", error="States.Timeout", cause="build timed out", now=T0 + timedelta(minutes=1)
    )

    assert record.started_at.startswith("2026-05-01T12:00:00")
    assert record.error == "States.Timeout" and record.duration_seconds == 60
    assert len(list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb)) == 1


def test_runs_are_listed_newest_first(dynamodb):
    for index in range(5):
        _record(
            dynamodb, f"run-{index}", "started", started_at=T0 + timedelta(hours=index), now=T0 + timedelta(hours=index)
        )

    runs = list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb, limit=3)

    assert [run.execution_name for run in runs] == ["run-4", "run-3", "run-2"]
    assert list_runs(deployment="staging", table=TABLE, dynamodb=dynamodb) == []


def test_secrets_never_reach_the_history(dynamodb):
    record = _record(
        dynamodb,
        "run-1",
        "failed",
        error="InvalidConfigError",
        cause=f"license {FAKE_LICENSE} rejected; api key {FAKE_API_KEY}" + "x" * 5000,
        details={"license": "anything", "note": f"Bearer {FAKE_LICENSE}", "api_key": FAKE_API_KEY},
        started_at=T0,
    )

    stored = str(dynamodb.scan(TableName=TABLE)["Items"])
    assert FAKE_LICENSE not in stored and FAKE_API_KEY not in stored
    assert FAKE_LICENSE.split(".")[2] not in stored
    assert record.cause is not None and len(record.cause) <= 1000 and MASK in record.cause
    assert record.details == {"license": MASK, "note": f"Bearer {MASK}", "api_key": MASK}


def test_scrub_keeps_ordinary_values():
    values = {
        "addresses": ["module.wandb.module.file_storage.aws_s3_bucket_notification.file_storage"],
        "version": "8.0.0",
        "plan_sha256": "a" * 64,
        "url": "https://wandb.example.com/console/api/healthz",
        "count": 3,
        "empty_license": None,
    }
    assert scrub_secrets(values) == values


def test_status_gathers_every_record_of_a_deployment(dynamodb, sfn, start_execution):
    running = start_execution("run-2")
    acquire_lock(deployment="prod", execution_arn=running, table=TABLE, dynamodb=dynamodb, sfn=sfn)
    record_desired_change(
        deployment="prod", parameter_name="/wandb-deployer/prod/infra/size", table=TABLE, dynamodb=dynamodb
    )
    mark_applied(
        deployment="prod", fingerprint="f1", execution_arn=ARN + "run-1", generation=0, table=TABLE, dynamodb=dynamodb
    )
    _record(dynamodb, "run-1", "succeeded", started_at=T0, now=T0)
    _record(dynamodb, "run-2", "approval-needed", started_at=T0 + timedelta(hours=1), now=T0 + timedelta(hours=1))
    store_pending_approval(
        deployment="prod",
        execution_arn=running,
        task_token="TOKEN-SECRET",
        plan_sha256="b" * 64,
        counts=ChangeCounts(delete=1),
        destructive=["module.wandb.aws_s3_bucket.file_storage"],
        summary=S3Pointer(bucket="artifacts", key="runs/prod/run-2/summary.json"),
        timeout_seconds=3600,
        table=TABLE,
        dynamodb=dynamodb,
    )

    status = deployment_status(deployment="prod", table=TABLE, dynamodb=dynamodb)

    assert status.lock is not None and status.lock.owner == running
    assert status.desired is not None and status.desired.generation == 1 and status.desired.pending
    assert status.applied is not None and status.applied.fingerprint == "f1"
    assert status.last_run is not None and status.last_run.execution_name == "run-2"
    assert status.pending_approval is not None and status.pending_approval.plan_sha256 == "b" * 64
    assert status.drift is None
    shown = status.model_dump_json() + repr(status)
    assert "TOKEN-SECRET" not in shown


def test_status_of_an_unknown_deployment_is_empty(dynamodb):
    status = deployment_status(deployment="nothing", table=TABLE, dynamodb=dynamodb)

    assert status.lock is None and status.desired is None and status.last_run is None
