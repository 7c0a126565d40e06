"""The runner's apply phase: only the approved plan, stale plans fail cleanly, sensitive outputs never leave."""

from __future__ import annotations

import hashlib
import json
from types import ModuleType
from typing import Any

import pytest

from tests.unit.terraform_build.conftest import (
    BUCKET,
    LICENSE,
    RUN_PREFIX,
    FakeTerraform,
    object_body,
    object_keys,
)

pytestmark = pytest.mark.unit

SAVED_PLAN = b"PK\x03\x04a saved plan from the plan build"
SAVED_PLAN_SHA256 = hashlib.sha256(SAVED_PLAN).hexdigest()


@pytest.fixture
def planned(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A run whose plan build uploaded its saved plan, approved by sha256."""
    s3.put_object(Bucket=BUCKET, Key=RUN_PREFIX + "plan.tfplan", Body=SAVED_PLAN)
    monkeypatch.setenv("WBD_APPROVED_PLAN_SHA256", SAVED_PLAN_SHA256)
    return s3


def apply_result(s3: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(object_body(s3, RUN_PREFIX + "apply-result.json"))
    return result


def test_apply_applies_exactly_the_approved_saved_plan(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any
) -> None:
    assert tfrunner.main(["apply"]) == 0

    apply_call = next(call for call in fake_terraform.calls() if call["args"][0] == "apply")
    assert apply_call["args"] == ["apply", "-input=false", "-no-color", "-lock-timeout=300s", "plan.tfplan"]
    assert (fake_terraform.workspace / "plan.tfplan").read_bytes() == SAVED_PLAN
    assert apply_result(planned) == {
        "action": "apply",
        "exit_code": 0,
        "plan_sha256": SAVED_PLAN_SHA256,
        "terraform_version": "1.9.8",
        "error": None,
    }
    assert "locks/prod/holder.json" not in object_keys(planned)


def test_outputs_keep_names_but_drop_the_values_of_sensitive_outputs(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any
) -> None:
    assert tfrunner.main(["apply"]) == 0

    outputs = json.loads(object_body(planned, RUN_PREFIX + "outputs.json"))
    assert outputs["url"]["value"] == "https://wandb.example.com"
    assert outputs["bucket_name"]["value"] == "wandb-file-storage-pet"
    assert outputs["database_password"] == {"sensitive": True, "type": "string", "value": None}
    assert outputs["wandb_spec"]["value"] is None
    assert outputs["wandb_spec"]["sensitive"] is True
    raw = object_body(planned, RUN_PREFIX + "outputs.json")
    assert b"db-password-HUSH-123" not in raw
    assert LICENSE.encode() not in raw


@pytest.mark.parametrize("approved", ["0" * 64, ""])
def test_apply_refuses_a_plan_that_is_not_the_approved_one(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any, monkeypatch: pytest.MonkeyPatch, approved: str
) -> None:
    monkeypatch.setenv("WBD_APPROVED_PLAN_SHA256", approved)

    assert tfrunner.main(["apply"]) == 1

    result = apply_result(planned)
    assert result["error"]["code"] == "PlanMismatch"
    assert result["plan_sha256"] == SAVED_PLAN_SHA256
    assert "apply" not in fake_terraform.commands()
    assert "init" not in fake_terraform.commands()


def test_apply_without_a_saved_plan_fails_as_plan_not_found(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WBD_APPROVED_PLAN_SHA256", SAVED_PLAN_SHA256)
    assert tfrunner.main(["apply"]) == 1
    assert apply_result(s3)["error"]["code"] == "PlanNotFound"
    assert "apply" not in fake_terraform.commands()


@pytest.mark.parametrize(
    ("mode", "code"), [("stale", "StalePlan"), ("locked", "StateLocked"), ("error", "TerraformFailed")]
)
def test_a_failed_apply_fails_the_build_with_a_code(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any, mode: str, code: str
) -> None:
    fake_terraform.configure(apply=mode)

    assert tfrunner.main(["apply"]) == 1

    result = apply_result(planned)
    assert result["error"]["code"] == code
    assert result["exit_code"] == 1
    assert RUN_PREFIX + "outputs.json" not in object_keys(planned)
    assert "output" not in fake_terraform.commands()


def test_the_license_never_reaches_the_build_log_or_apply_artifacts(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any, capfd: Any
) -> None:
    assert tfrunner.main(["apply"]) == 0
    fake_terraform.configure(apply="stale")
    assert tfrunner.main(["apply"]) == 1

    captured = capfd.readouterr()
    assert LICENSE not in captured.out + captured.err
    assert "license=(redacted)" in captured.out
    for key in object_keys(planned):
        if not key.endswith("plan.tfplan"):
            assert LICENSE.encode() not in object_body(planned, key), key


def test_further_secret_variables_can_be_named_for_masking(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    monkeypatch.setenv("WBD_SECRET_ENV", "TF_VAR_other_secret")
    monkeypatch.setenv("TF_VAR_other_secret", "https://wandb.example.com")

    assert tfrunner.main(["apply"]) == 0

    outputs = json.loads(object_body(planned, RUN_PREFIX + "outputs.json"))
    assert outputs["url"]["value"] == "(redacted)"
