"""What a run record says: the reason of a failure in one line, step timings, what changed in SSM (secrets masked),
and which writer made a change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import REPO
from tests.unit.runs.conftest import TABLE
from tests.unit.runs.secrets import FAKE_API_KEY, FAKE_LICENSE
from wandb_deployer.config.parameters import DesiredParameter, config_to_parameters, diff_parameters
from wandb_deployer.runs.change_source import change_source, next_versions, note_writes
from wandb_deployer.runs.config_snapshot import (
    config_changes,
    read_snapshot,
    snapshot_values,
    store_snapshot,
)
from wandb_deployer.runs.details import failure_reason
from wandb_deployer.runs.steps import step_timings
from wbd.config_file import load_config_file

pytestmark = pytest.mark.unit

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def lambda_cause(error_type: str, message: str) -> str:
    """The cause Step Functions gives for a failed Lambda task (the runtime's error document)."""
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": ['  File "app.py", line 1']})


def test_the_reason_of_a_lambda_error_is_its_message_without_the_stack() -> None:
    cause = lambda_cause(
        "InvalidConfigError", "deployment 'demo' has 1 config problem(s): infra/size: 'huge' is not one of small"
    )
    assert failure_reason("InvalidConfigError", cause) == (
        "deployment 'demo' has 1 config problem(s): infra/size: 'huge' is not one of small"
    )


def test_the_reason_of_a_failed_build_names_its_phase_and_what_it_reported() -> None:
    build = {
        "Build": {
            "Id": "terraform:1",
            "BuildStatus": "FAILED",
            "Phases": [
                {"PhaseType": "INSTALL", "PhaseStatus": "SUCCEEDED"},
                {
                    "PhaseType": "BUILD",
                    "PhaseStatus": "FAILED",
                    "Contexts": [{"StatusCode": "COMMAND_EXECUTION_ERROR", "Message": "exit status 1"}],
                },
            ],
        }
    }
    assert (
        failure_reason("States.TaskFailed", json.dumps(build)) == "CodeBuild build FAILED in phase BUILD: exit status 1"
    )


def test_the_reason_of_an_unhealthy_deployment_lists_its_errors() -> None:
    findings = [
        {"code": "PLAIN_HTTP", "severity": "info", "message": "plain http"},
        {"code": "HTTP_5XX", "severity": "error", "message": "/healthz answered 503"},
    ]
    assert failure_reason("HealthCheckFailedError", json.dumps(findings)) == "HTTP_5XX: /healthz answered 503"


def test_other_reasons_are_one_line_and_bounded() -> None:
    assert failure_reason("States.Timeout", None) == "timed out"
    assert failure_reason("X", "first\nsecond") == "first second"
    assert len(failure_reason("X", "y" * 5000) or "") == 300
    assert failure_reason(None, None) is None


def event(kind: str, seconds: float, name: str | None = None, **details: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "timestamp": T0 + timedelta(seconds=seconds)}
    if name is not None:
        key = "stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"
        body[key] = {"name": name}
    if details:
        body["taskFailedEventDetails"] = details
    return body


def test_step_timings_total_each_state_count_its_retries_and_name_the_failure() -> None:
    history = [
        event("TaskStateEntered", 0, "Plan"),
        event("TaskStateExited", 60, "Plan"),
        event("TaskStateEntered", 60, "Check health"),
        event("TaskStateExited", 61, "Check health"),
        event("WaitStateEntered", 61, "Wait"),
        event("WaitStateExited", 81, "Wait"),
        event("TaskStateEntered", 81, "Check health"),
        event("TaskStateExited", 83, "Check health"),
        event("TaskStateEntered", 83, "Apply"),
        event("TaskFailed", 90, error="States.TaskFailed", cause="{}"),
        event("TaskStateExited", 90, "Apply"),
        event("TaskStateEntered", 90, "Record failure"),
    ]
    steps = {step.name: step for step in step_timings(history)}
    assert list(steps) == ["Plan", "Check health", "Wait", "Apply", "Record failure"]
    assert (steps["Plan"].seconds, steps["Plan"].entries) == (60, 1)
    assert (steps["Check health"].seconds, steps["Check health"].entries) == (3, 2)
    assert steps["Apply"].error == "States.TaskFailed"
    assert steps["Record failure"].running and steps["Record failure"].running_since == T0 + timedelta(seconds=90)
    assert not steps["Plan"].running


def test_changes_since_the_applied_snapshot_mask_secrets_and_store_none() -> None:
    config = load_config_file(REPO / "examples" / "operator.yaml", license=FAKE_LICENSE, api_key=FAKE_API_KEY)
    before = snapshot_values(config)
    assert FAKE_LICENSE not in json.dumps(before) and FAKE_API_KEY not in json.dumps(before)
    rotated = load_config_file(REPO / "examples" / "operator.yaml", license=FAKE_LICENSE + "x", api_key=FAKE_API_KEY)
    after = snapshot_values(rotated.model_copy(update={"infra": {**rotated.infra, "size": "medium"}}))

    changes = {change.key: change for change in config_changes(before, after)}

    assert set(changes) == {"infra/size", "infra/license"}
    assert (changes["infra/size"].before, changes["infra/size"].after) == ("small", "medium")
    assert (changes["infra/license"].before, changes["infra/license"].after, changes["infra/license"].masked) == (
        "********",
        "********",
        True,
    )
    first = config_changes(None, before)
    assert len(first) == len(before) and all(change.before is None for change in first)


def test_a_snapshot_is_kept_per_fingerprint(dynamodb: Any) -> None:
    store_snapshot(deployment="prod", fingerprint="f1", values={"infra/size": "small"}, table=TABLE, dynamodb=dynamodb)
    stored = read_snapshot(deployment="prod", fingerprint="f1", table=TABLE, dynamodb=dynamodb)
    assert stored is not None and stored.values == {"infra/size": "small"}
    assert read_snapshot(deployment="prod", fingerprint="f2", table=TABLE, dynamodb=dynamodb) is None


def test_a_change_is_the_writers_only_for_the_version_it_noted(dynamodb: Any) -> None:
    # Given a push noted the versions its writes create (an update of infra/size, a new infra/subdomain)
    config = load_config_file(REPO / "examples" / "operator.yaml", license=FAKE_LICENSE)
    desired = config_to_parameters(config, prefix="/wandb-deployer")
    current = {
        name: DesiredParameter(type=p.type, value=p.value, version=3)
        for name, p in desired.items()
        if not name.endswith("/subdomain")
    }
    size = "/wandb-deployer/demo/infra/size"
    current[size] = DesiredParameter(type="String", value="medium", version=3)
    versions = next_versions(diff_parameters(desired, current), current)
    assert versions == {"/wandb-deployer/demo/infra/subdomain": 1, size: 4}
    note_writes(deployment="demo", source="push", by="alice", versions=versions, table=TABLE, dynamodb=dynamodb)

    def source(name: str, version: int | None) -> str | None:
        return change_source(deployment="demo", parameter_name=name, version=version, table=TABLE, dynamodb=dynamodb)

    # then the change events of exactly those versions are the push's,
    assert source(size, 4) == "push"
    assert source("/wandb-deployer/demo/infra/subdomain", 1) == "push"
    # and a later hand edit of the same parameter (version 5), a deletion or another parameter are not.
    assert source(size, 5) is None
    assert source(size, None) is None
    assert source("/wandb-deployer/demo/infra/namespace", 4) is None
