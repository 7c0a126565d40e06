"""The runner's apply phase: only the approved plan, stale plans fail cleanly, sensitive outputs never leave."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
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
PLANNED_LOCK = b'provider "registry.terraform.io/hashicorp/aws" {\n  version = "5.99.1"\n}\n'
PLANNED_MODULE = b"# the module code the plan build downloaded\n"


def dependencies_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


PLANNED_DEPENDENCIES = dependencies_zip(
    {
        ".terraform.lock.hcl": PLANNED_LOCK,
        ".terraform/modules/modules.json": b'{"Modules": [{"Key": "wandb_infra", "Version": "8.0.0"}]}',
        ".terraform/modules/wandb_infra/main.tf": PLANNED_MODULE,
    }
)


def record_plan(s3: Any, dependencies: bytes, recorded: bytes | None = None) -> None:
    result = {"action": "plan", "plan_sha256": SAVED_PLAN_SHA256, "has_changes": True, "error": None}
    result["dependencies_sha256"] = hashlib.sha256(recorded if recorded is not None else dependencies).hexdigest()
    s3.put_object(Bucket=BUCKET, Key=RUN_PREFIX + "plan-result.json", Body=json.dumps(result).encode())
    s3.put_object(Bucket=BUCKET, Key=RUN_PREFIX + "plan-dependencies.zip", Body=dependencies)


@pytest.fixture
def planned(s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A run whose plan build uploaded its saved plan and dependencies, approved by sha256."""
    s3.put_object(Bucket=BUCKET, Key=RUN_PREFIX + "plan.tfplan", Body=SAVED_PLAN)
    record_plan(s3, PLANNED_DEPENDENCIES)
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


def test_apply_installs_exactly_the_planned_providers_and_modules_and_downloads_nothing(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any
) -> None:
    # Given a workspace bundle whose modules would now resolve to other code (a floating `~> 20.37`)
    (fake_terraform.workspace / ".terraform/modules/wandb_infra").mkdir(parents=True)
    (fake_terraform.workspace / ".terraform/modules/wandb_infra/main.tf").write_bytes(b"# newer code\n")

    # When the apply runs
    assert tfrunner.main(["apply"]) == 0

    # Then it initialised from the plan's lock file and modules only (security review, item 3)
    init_call = next(call for call in fake_terraform.calls() if call["args"][0] == "init")
    assert init_call["args"] == [
        "init",
        "-input=false",
        "-no-color",
        "-lockfile=readonly",
        "-get=false",
        "-lock-timeout=300s",
    ]
    assert (fake_terraform.workspace / ".terraform.lock.hcl").read_bytes() == PLANNED_LOCK
    assert (fake_terraform.workspace / ".terraform/modules/wandb_infra/main.tf").read_bytes() == PLANNED_MODULE


def test_the_apply_reads_no_secret_input(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A saved plan holds every input value: the apply build neither gets the license nor reads secret inputs.
    monkeypatch.delenv("TF_VAR_license")
    manifest = {"secret_variables": {"oidc_secret": {"parameter": "/wandb-deployer/prod/infra/oidc_secret"}}}
    (fake_terraform.workspace / "workspace.json").write_text(json.dumps(manifest), encoding="utf-8")

    assert tfrunner.main(["apply"]) == 0

    apply_call = next(call for call in fake_terraform.calls() if call["args"][0] == "apply")
    assert apply_call["tf_vars"] == [] and apply_call["auto_tfvars"] == {}  # (that parameter does not even exist)


@pytest.mark.parametrize(
    "tampered",
    [
        "swapped",  # another archive than the one the plan build recorded
        "missing",
        "escaping",  # recorded, but holds a file outside the lock file and modules
    ],
)
def test_apply_refuses_dependencies_that_are_not_the_plans(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, planned: Any, tampered: str
) -> None:
    if tampered == "swapped":
        other = dependencies_zip({".terraform.lock.hcl": b'provider "x" { version = "9.9.9" }'})
        record_plan(planned, other, recorded=PLANNED_DEPENDENCIES)
    elif tampered == "missing":
        planned.delete_object(Bucket=BUCKET, Key=RUN_PREFIX + "plan-dependencies.zip")
    else:
        record_plan(planned, dependencies_zip({"../buildspec.yml": b"phases: {}", "tfrunner.py": b"evil"}))

    assert tfrunner.main(["apply"]) == 1

    assert apply_result(planned)["error"]["code"] == "DependenciesMismatch"
    assert "init" not in fake_terraform.commands() and "apply" not in fake_terraform.commands()
    assert not (fake_terraform.workspace / "tfrunner.py").exists()
