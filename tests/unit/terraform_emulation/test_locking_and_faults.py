"""State locking (native S3 lock file), force-unlock, the license variable, secrets, injected faults."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.terraform_emulation.workspaces import (
    LICENSE_SECRET,
    STATE_BUCKET,
    STATE_KEY,
    render_workspace,
    show_plan,
)
from wbd.sandbox.terraform_emulation import plan as planning
from wbd.sandbox.terraform_emulation.errors import UsageError
from wbd.sandbox.terraform_emulation.locking import parse_duration

pytestmark = pytest.mark.unit

PLAN = ("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode")
LOCK_KEY = f"{STATE_KEY}.tflock"
HELD_LOCK = {
    "ID": "4f0c1c55-0000-4000-8000-000000000001",
    "Operation": "OperationTypeApply",
    "Info": "",
    "Who": "root@killed-build",
    "Version": "1.9.8",
    "Created": "2026-01-01T00:00:00.000000Z",
    "Path": f"{STATE_BUCKET}/{STATE_KEY}",
}


def hold_lock() -> None:
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=STATE_BUCKET, Key=LOCK_KEY, Body=json.dumps(HELD_LOCK)
    )


def lock_exists() -> bool:
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(Bucket=STATE_BUCKET, Prefix=LOCK_KEY)
    return bool(listed.get("Contents"))


@pytest.mark.parametrize(
    ("text", "seconds"), [("0", 0.0), ("0s", 0.0), ("300s", 300.0), ("5m", 300.0), ("1m30s", 90.0), ("1h", 3600.0)]
)
def test_durations_like_go(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5", "5 m", "m5", "5x"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_held_lock_fails_after_the_timeout_with_terraforms_message(workspace: Path, terraform: Any) -> None:
    assert terraform("init", "-input=false").code == 0
    hold_lock()
    result = terraform(*PLAN, "-lock-timeout=3s")  # 3 s / WBD_SANDBOX_TIME_SCALE=100
    assert result.code == 1
    assert "Error: Error acquiring the state lock" in result.err
    assert HELD_LOCK["ID"] in result.err and "root@killed-build" in result.err
    assert lock_exists()


def test_force_unlock_needs_the_right_id(workspace: Path, terraform: Any) -> None:
    assert terraform("init", "-input=false").code == 0
    hold_lock()
    assert terraform("force-unlock", "-force", "wrong-id").code == 1
    assert terraform("force-unlock", HELD_LOCK["ID"]).code == 1  # no -force: cannot confirm
    result = terraform("force-unlock", "-force", HELD_LOCK["ID"])
    assert result.code == 0, result.text
    assert "successfully unlocked" in result.out
    assert not lock_exists()
    assert terraform("force-unlock", "-force", HELD_LOCK["ID"]).code == 1
    assert terraform(*PLAN).code == 2


def test_lock_is_taken_during_the_operation_and_released(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    real = planning.refresh_state

    def spy(*args: Any) -> Any:
        body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=STATE_BUCKET, Key=LOCK_KEY)["Body"]
        seen.append(json.loads(body.read()))
        return real(*args)

    monkeypatch.setattr(planning, "refresh_state", spy)
    assert terraform("init", "-input=false").code == 0
    assert terraform(*PLAN).code == 2
    assert seen[0]["Operation"] == "OperationTypePlan"
    assert set(seen[0]) == {"ID", "Operation", "Info", "Who", "Version", "Created", "Path"}
    assert seen[0]["Path"] == f"{STATE_BUCKET}/{STATE_KEY}"
    assert not lock_exists()


def test_missing_license_fails_like_a_required_variable(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TF_VAR_license")
    assert terraform("init", "-input=false").code == 0
    result = terraform(*PLAN)
    assert result.code == 1
    assert "Error: No value for required variable" in result.err
    assert '"license"' in result.err


def test_legacy_generation_needs_the_license_too(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the app module's `license` has no default in any wandb/wandb/kubernetes release (the contract)
    monkeypatch.delenv("TF_VAR_license")
    render_workspace(workspace, module_version="2.8.0", legacy=True)
    assert terraform("init", "-input=false").code == 0
    result = terraform(*PLAN)
    assert result.code == 1
    assert 'The root module input variable "license" is not set' in result.err


def test_license_never_appears_anywhere(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    printed = [init_plan_apply()]
    printed.append(terraform(*PLAN))
    printed.append(terraform("show", "-json", "tfplan"))
    printed.append(terraform("show", "-json"))
    printed.append(terraform("output", "-json"))
    printed.append(terraform("output"))
    printed.append(terraform("version", "-json"))
    for result in printed:
        assert LICENSE_SECRET not in result.text
    with zipfile.ZipFile(workspace / "tfplan") as archive:
        for name in archive.namelist():
            assert LICENSE_SECRET.encode() not in archive.read(name)
    s3 = boto3.client("s3", region_name="us-east-1")
    assert LICENSE_SECRET.encode() not in s3.get_object(Bucket=STATE_BUCKET, Key=STATE_KEY)["Body"].read()
    for path in workspace.rglob("*"):
        if path.is_file():
            assert LICENSE_SECRET.encode() not in path.read_bytes()
    assert "license" not in show_plan(terraform)["variables"]


@pytest.mark.parametrize(("fault", "command"), [("plan-error", "plan"), ("apply-error", "apply")])
def test_injected_errors_fail_and_release_the_lock(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch, fault: str, command: str
) -> None:
    assert terraform("init", "-input=false").code == 0
    if command == "apply":
        assert terraform(*PLAN).code == 2
    monkeypatch.setenv("WBD_SANDBOX_FAULT_TERRAFORM", fault)
    result = terraform(*PLAN) if command == "plan" else terraform("apply", "-input=false", "tfplan")
    assert result.code == 1
    assert "Injected fault" in result.err and fault in result.err
    assert not lock_exists()


def test_invalid_fault_value_is_an_error(workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WBD_SANDBOX_FAULT_TERRAFORM", "explode")
    result = terraform("version")
    assert result.code == 1
    assert "Invalid environment for the Terraform emulation" in result.err and "fault" in result.err


def test_fault_armed_in_the_sandbox_faults_file_fires_once(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({"terraform.plan_error": {"times": 1, "params": {}}}), encoding="utf-8")
    monkeypatch.setenv("WBD_SANDBOX_FAULTS_FILE", str(faults))
    assert terraform("init", "-input=false").code == 0
    assert terraform(*PLAN).code == 1
    assert terraform(*PLAN).code == 2
    assert json.loads(faults.read_text(encoding="utf-8")) == {}
