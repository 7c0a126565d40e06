"""The runner's plan and drift phases against a fake terraform and a moto artifacts bucket."""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from types import ModuleType
from typing import Any

import boto3
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


def plan_result(s3: Any) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(object_body(s3, RUN_PREFIX + "plan-result.json"))
    return result


@pytest.mark.parametrize(("exit_code", "has_changes"), [(0, False), (2, True)])
def test_plan_records_the_saved_plan_and_whether_it_changes_anything(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, exit_code: int, has_changes: bool
) -> None:
    # Given terraform plan exits 0 (no changes) or 2 (changes)
    fake_terraform.configure(plan=exit_code)

    # When the build runs the plan phase
    assert tfrunner.main(["plan"]) == 0

    # Then the plan, its JSON and its sha256 are in the run prefix, and the result says whether anything changes
    result = plan_result(s3)
    saved = object_body(s3, RUN_PREFIX + "plan.tfplan")
    dependencies = object_body(s3, RUN_PREFIX + "plan-dependencies.zip")
    assert result == {
        "action": "plan",
        "exit_code": exit_code,
        "has_changes": has_changes,
        "plan_sha256": hashlib.sha256(saved).hexdigest(),
        "dependencies_sha256": hashlib.sha256(dependencies).hexdigest(),
        "terraform_version": "1.9.8",
        "error": None,
    }
    assert object_body(s3, RUN_PREFIX + "plan.sha256").decode().split()[0] == result["plan_sha256"]
    assert json.loads(object_body(s3, RUN_PREFIX + "plan.json"))["format_version"] == "1.2"
    assert fake_terraform.commands() == ["version", "init", "plan", "show"]


def test_plan_runs_terraform_with_argument_lists_flags_and_the_plugin_cache(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WBD_LOCK_TIMEOUT", "45s")

    assert tfrunner.main(["plan"]) == 0

    calls = {call["args"][0]: call for call in fake_terraform.calls()}
    assert calls["init"]["args"] == ["init", "-input=false", "-no-color", "-lock-timeout=45s"]
    assert calls["plan"]["args"] == [
        "plan",
        "-input=false",
        "-no-color",
        "-out=plan.tfplan",
        "-detailed-exitcode",
        "-lock-timeout=45s",
    ]
    assert calls["show"]["args"] == ["show", "-json", "plan.tfplan"]
    assert calls["plan"]["tf_in_automation"] == "1"
    assert calls["plan"]["plugin_cache"] == str(fake_terraform.workspace / ".terraform-plugin-cache")
    assert (fake_terraform.workspace / ".terraform-plugin-cache").is_dir()


def test_drift_is_a_refresh_only_plan(tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any) -> None:
    fake_terraform.configure(plan=2)
    assert tfrunner.main(["drift"]) == 0

    plan_args = next(call["args"] for call in fake_terraform.calls() if call["args"][0] == "plan")
    assert "-refresh-only" in plan_args
    assert plan_result(s3)["action"] == "drift"
    assert plan_result(s3)["has_changes"] is True


def test_drift_records_the_current_outputs_without_sensitive_values(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any
) -> None:
    # Given a drift check (the wiring and health checks that follow need the deployment's outputs)
    fake_terraform.configure(plan=0)
    assert tfrunner.main(["drift"]) == 0

    # Then outputs.json is in the run prefix, with sensitive values dropped and the license nowhere
    raw = object_body(s3, RUN_PREFIX + "outputs.json")
    outputs = json.loads(raw)
    assert outputs["url"]["value"] == "https://wandb.example.com"
    assert outputs["database_password"]["sensitive"] is True
    assert outputs["database_password"]["value"] is None
    assert LICENSE.encode() not in raw and b"db-password-HUSH-123" not in raw


def test_a_plan_does_not_record_outputs(tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any) -> None:
    fake_terraform.configure(plan=2)
    assert tfrunner.main(["plan"]) == 0
    assert RUN_PREFIX + "outputs.json" not in object_keys(s3)


def test_run_takes_the_action_from_wbd_action(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WBD_ACTION", "drift")
    assert tfrunner.main(["run"]) == 0
    assert plan_result(s3)["action"] == "drift"

    monkeypatch.setenv("WBD_ACTION", "destroy")
    assert tfrunner.main(["run"]) == 2


def test_a_failed_plan_fails_the_build_and_says_why(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any
) -> None:
    fake_terraform.configure(plan=1)

    assert tfrunner.main(["plan"]) == 1

    result = plan_result(s3)
    assert result["exit_code"] == 1
    assert result["error"] == {"code": "TerraformFailed", "message": "terraform plan exited with 1"}
    assert result["plan_sha256"] is None
    assert RUN_PREFIX + "plan.tfplan" not in object_keys(s3)


@pytest.mark.parametrize("where", ["init", "plan"])
def test_a_state_lock_timeout_is_reported_as_state_locked(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, where: str
) -> None:
    fake_terraform.configure(**{where: "locked"})

    assert tfrunner.main(["plan"]) == 1

    assert plan_result(s3)["error"]["code"] == "StateLocked"


def test_the_holder_marker_names_the_build_while_terraform_runs_and_is_removed_at_a_clean_end(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    original = tfrunner.Terraform.stream

    def spy(self: Any, *args: str) -> tuple[int, set[str]]:
        seen.append(json.loads(object_body(s3, "locks/prod/holder.json")))
        return original(self, *args)  # type: ignore[no-any-return]

    monkeypatch.setattr(tfrunner.Terraform, "stream", spy)

    assert tfrunner.main(["plan"]) == 0

    assert {marker["build_id"] for marker in seen} == {"wbd-terraform:build-1"}
    assert seen[0]["action"] == "plan"
    assert seen[0]["started_at"]
    assert "locks/prod/holder.json" not in object_keys(s3)


def test_a_state_locked_plan_puts_back_the_marker_of_the_build_holding_the_lock(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any
) -> None:
    # Given a killed build left its marker (and its state lock)
    stale = {"build_id": "wbd-terraform:killed-build", "action": "apply", "started_at": "2026-01-01T00:00:00+00:00"}
    s3.put_object(Bucket=BUCKET, Key="locks/prod/holder.json", Body=json.dumps(stale).encode())
    fake_terraform.configure(plan="locked")

    assert tfrunner.main(["plan"]) == 1

    # Then the marker still names the killed build, so the next run can release its lock
    assert json.loads(object_body(s3, "locks/prod/holder.json")) == stale


def test_artifacts_are_written_with_sse_kms_and_the_configured_key(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_arn = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    monkeypatch.setenv("WBD_KMS_KEY_ARN", key_arn)

    assert tfrunner.main(["plan"]) == 0

    for name in ("plan.tfplan", "plan.json", "plan.sha256", "plan-result.json"):
        head = s3.head_object(Bucket=BUCKET, Key=RUN_PREFIX + name)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn


def test_missing_settings_fail_clearly(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    monkeypatch.delenv("WBD_RUN_PREFIX")
    assert tfrunner.main(["plan"]) == 1
    assert "WBD_RUN_PREFIX" in capfd.readouterr().err
    assert fake_terraform.commands() == []


def test_the_license_is_masked_in_the_build_log_and_the_plan_json(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, capfd: Any
) -> None:
    assert tfrunner.main(["plan"]) == 0

    captured = capfd.readouterr()
    assert LICENSE not in captured.out + captured.err
    assert "~ license = (redacted)" in captured.out  # terraform's own output still reaches the build log
    assert "variables" not in json.loads(object_body(s3, RUN_PREFIX + "plan.json"))
    for key in object_keys(s3):
        if not key.endswith("plan.tfplan"):
            assert LICENSE.encode() not in object_body(s3, key), key


def test_the_saved_plan_is_the_one_artifact_that_holds_input_values_and_it_is_kms_encrypted(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any
) -> None:
    # Terraform stores input variable values in a saved plan; apply needs it byte for byte, so it cannot be masked.
    assert tfrunner.main(["plan"]) == 0
    head = s3.head_object(Bucket=BUCKET, Key=RUN_PREFIX + "plan.tfplan")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_an_in_process_caller_can_pass_the_environment_and_workspace(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # Given a caller (the sandbox) that runs the build in-process, elsewhere than the workspace
    env = dict(os.environ, WBD_RUN_PREFIX="runs/prod/in-process/")
    monkeypatch.chdir(tmp_path)

    assert tfrunner.main(["plan"], env=env, workdir=fake_terraform.workspace) == 0

    ran_in = {call["cwd"] for call in fake_terraform.calls() if call["args"][0] != "version"}
    assert ran_in == {str(fake_terraform.workspace)}
    assert (fake_terraform.workspace / "plan.tfplan").is_file()
    assert "runs/prod/in-process/plan-result.json" in object_keys(s3)


def test_the_stored_plan_json_keeps_addresses_actions_and_changed_attribute_names_but_no_value(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any
) -> None:
    # Given a plan whose JSON holds the database password before and after (sensitive), in prior_state and outputs
    assert tfrunner.main(["plan"]) == 0

    # Then plan.json says what changes, never to what: security review, item 4
    raw = object_body(s3, RUN_PREFIX + "plan.json")
    assert b"db-password-HUSH" not in raw and LICENSE.encode() not in raw
    plan = json.loads(raw)
    assert plan["values_removed"] is True
    assert not {"variables", "prior_state", "planned_values", "configuration"} & set(plan)
    database = plan["resource_changes"][1]
    assert database == {
        "address": "module.wandb.module.database.aws_rds_cluster.this",
        "mode": "managed",
        "type": "aws_rds_cluster",
        "name": "this",
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {"actions": ["update"], "changed_attributes": ["master_password"]},
    }
    assert plan["output_changes"] == {"database_password": {"actions": ["update"]}}


def test_the_plan_keeps_its_lock_file_and_modules_for_the_apply(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any
) -> None:
    assert tfrunner.main(["plan"]) == 0

    archive = zipfile.ZipFile(io.BytesIO(object_body(s3, RUN_PREFIX + "plan-dependencies.zip")))
    assert sorted(archive.namelist()) == [
        ".terraform.lock.hcl",
        ".terraform/modules/modules.json",
        ".terraform/modules/wandb_infra/main.tf",
    ]
    assert archive.read(".terraform.lock.hcl") == (fake_terraform.workspace / ".terraform.lock.hcl").read_bytes()
    head = s3.head_object(Bucket=BUCKET, Key=RUN_PREFIX + "plan-dependencies.zip")
    assert head["ServerSideEncryption"] == "aws:kms"


def test_secret_inputs_come_from_parameter_store_in_a_tfvars_file_that_lives_only_for_the_plan(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, capfd: Any
) -> None:
    # Given a workspace whose manifest names its secret inputs' parameters (never their values)
    secret = "oidc-client-secret-8e2d-NEVER-PRINTED"
    token = 'api-token-${file("/etc/passwd")}-6b1a'  # stays an inert string: a tfvars JSON file, not a TF_VAR_
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/wandb-deployer/prod/infra/oidc_secret", Value=secret, Type="SecureString")
    env_value = json.dumps({"GORILLA_TOKEN": token})
    ssm.put_parameter(Name="/wandb-deployer/prod/infra/other_wandb_env", Value=env_value, Type="SecureString")
    manifest = {
        "secret_variables": {
            "oidc_secret": {"parameter": "/wandb-deployer/prod/infra/oidc_secret", "json": False},
            "other_wandb_env": {"parameter": "/wandb-deployer/prod/infra/other_wandb_env", "json": True},
        }
    }
    (fake_terraform.workspace / "workspace.json").write_text(json.dumps(manifest), encoding="utf-8")

    # When the plan runs
    assert tfrunner.main(["plan"]) == 0

    # Then terraform found both in a tfvars file, gone after the plan; nothing but the saved plan holds them
    plan_call = next(call for call in fake_terraform.calls() if call["args"][0] == "plan")
    assert plan_call["auto_tfvars"] == {"zz-secret-inputs.auto.tfvars.json": ["oidc_secret", "other_wandb_env"]}
    assert plan_call["tf_vars"] == ["TF_VAR_license"]
    assert not (fake_terraform.workspace / "zz-secret-inputs.auto.tfvars.json").exists()
    captured = capfd.readouterr()
    for value in (secret, token):
        assert value not in captured.out + captured.err
        for key in object_keys(s3):
            if not key.endswith("plan.tfplan"):
                assert value.encode() not in object_body(s3, key), key
    assert '~ oidc_secret = "(redacted)"' in captured.out


def test_a_missing_secret_input_fails_the_plan_before_terraform_runs(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, s3: Any, capfd: Any
) -> None:
    manifest = {"secret_variables": {"oidc_secret": {"parameter": "/wandb-deployer/prod/infra/oidc_secret"}}}
    (fake_terraform.workspace / "workspace.json").write_text(json.dumps(manifest), encoding="utf-8")

    assert tfrunner.main(["plan"]) == 1

    assert "SecretInputUnavailable" in capfd.readouterr().err
    assert "plan" not in fake_terraform.commands()
    assert plan_result(s3)["error"]["code"] == "SecretInputUnavailable"
