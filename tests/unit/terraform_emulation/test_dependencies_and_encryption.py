"""What `init` writes and what apply of a saved plan checks (the lock file, the installed modules), and how state is
encrypted: the emulation against Terraform's own behaviour (a real terraform binary where installed, offline)."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.real_terraform import SKIP_REASON, TERRAFORM, run
from tests.unit.terraform_emulation.workspaces import STATE_BUCKET, STATE_KEY
from wbd.sandbox.terraform_emulation.dependencies import read_locks

pytestmark = pytest.mark.unit


def set_backend(workspace: Path, **settings: Any) -> None:
    document = json.loads((workspace / "terraform.tf.json").read_text(encoding="utf-8"))
    document["terraform"]["backend"]["s3"].update(settings)
    (workspace / "terraform.tf.json").write_text(json.dumps(document), encoding="utf-8")


# -- init ------------------------------------------------------------------------------------------------------------
def test_init_writes_the_lock_file_and_the_modules_like_terraform(workspace: Path, terraform: Any) -> None:
    assert terraform("init", "-input=false", "-no-color").code == 0

    lock_text = (workspace / ".terraform.lock.hcl").read_text(encoding="utf-8")
    assert lock_text.startswith('# This file is maintained automatically by "terraform init".')
    locks = read_locks(lock_text)
    assert set(locks) >= {"registry.terraform.io/hashicorp/aws", "registry.terraform.io/hashicorp/helm"}
    assert all(version and hashes and hashes[0].startswith("h1:") for version, hashes in locks.values())
    modules = json.loads((workspace / ".terraform/modules/modules.json").read_text(encoding="utf-8"))["Modules"]
    by_key = {entry["Key"]: entry for entry in modules}
    assert by_key[""] == {"Key": "", "Source": "", "Dir": "."}
    assert by_key["wandb_infra"]["Source"] == "registry.terraform.io/wandb/wandb/aws"
    assert by_key["wandb_infra"]["Version"] == "8.0.0"
    # the registry modules the release calls, from the contract (they float: eks `~> 20.37`)
    eks = next(entry for entry in modules if entry["Source"].endswith("terraform-aws-modules/eks/aws"))
    assert eks["Version"] == "20.37.0" and (workspace / eks["Dir"]).is_dir()


def test_readonly_init_keeps_the_carried_lock_and_get_false_needs_the_carried_modules(
    workspace: Path, terraform: Any, tmp_path: Path
) -> None:
    assert terraform("init", "-input=false", "-no-color").code == 0
    carried_lock = (workspace / ".terraform.lock.hcl").read_bytes()

    # A fresh copy of the bundle without the plan's dependencies cannot init read-only
    fresh = tmp_path / "fresh"
    shutil.copytree(workspace, fresh, ignore=shutil.ignore_patterns(".terraform*"))
    result = terraform("-chdir=" + str(fresh), "init", "-input=false", "-lockfile=readonly", "-get=false")
    assert result.code == 1 and "Module not installed" in result.err
    (fresh / ".terraform").mkdir(exist_ok=True)
    shutil.copytree(workspace / ".terraform/modules", fresh / ".terraform/modules")
    result = terraform("-chdir=" + str(fresh), "init", "-input=false", "-lockfile=readonly", "-get=false")
    assert result.code == 1 and "Provider dependency changes detected" in result.err

    # With the carried lock file and modules, it installs exactly those and changes nothing
    (fresh / ".terraform.lock.hcl").write_bytes(carried_lock)
    result = terraform("-chdir=" + str(fresh), "init", "-input=false", "-lockfile=readonly", "-get=false")
    assert result.code == 0, result.text
    assert (fresh / ".terraform.lock.hcl").read_bytes() == carried_lock
    assert "Reusing previous version of registry.terraform.io/hashicorp/aws" in result.out


def test_a_saved_plan_carries_its_lock_file_and_apply_refuses_different_locks(
    workspace: Path, terraform: Any, tmp_path: Path
) -> None:
    assert terraform("init", "-input=false", "-no-color").code == 0
    assert terraform("plan", "-input=false", "-out=tfplan").code == 0
    with zipfile.ZipFile(workspace / "tfplan") as archive:
        assert archive.read(".terraform.lock.hcl") == (workspace / ".terraform.lock.hcl").read_bytes()

    # another selection in the working directory (a provider release between plan and apply)
    lock = workspace / ".terraform.lock.hcl"
    lock.write_text(lock.read_text(encoding="utf-8").replace('version     = "', 'version     = "9', 1))
    result = terraform("apply", "-input=false", "tfplan")

    assert result.code == 1
    assert "Error: Inconsistent dependency lock file" in result.err
    assert "A saved plan can be applied only to the same configuration it was created from." in result.err


# -- state encryption (security review, item 2) ----------------------------------------------------------------------
@pytest.mark.parametrize("with_key", [True, False])
def test_state_is_written_with_the_backends_encryption(
    workspace: Path, terraform: Any, init_plan_apply: Any, with_key: bool
) -> None:
    # Given the backend as the deployer renders it now (encrypt + kms_key_id), or as before (encrypt alone)
    expected = {"ServerSideEncryption": "AES256"}
    if with_key:
        key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        set_backend(workspace, encrypt=True, kms_key_id=key)
        expected = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}

    init_plan_apply()

    # Then the state object is encrypted as Terraform's S3 backend asks: SSE-S3 without the key, overriding the
    # bucket's KMS default (the security review's finding), SSE-KMS with the deployer's key with it.
    head = boto3.client("s3", region_name="us-east-1").head_object(Bucket=STATE_BUCKET, Key=STATE_KEY)
    assert {name: head.get(name) for name in expected} == expected


# -- the oracle: what real terraform init writes (offline: a local module, no provider) -----------------------------
@pytest.mark.skipif(TERRAFORM is None, reason=SKIP_REASON)
def test_real_terraform_init_writes_the_same_shapes_and_apply_uses_the_plans_snapshot(tmp_path: Path) -> None:
    planned, applied = tmp_path / "planned", tmp_path / "applied"
    for directory, code in ((planned, "v1"), (applied, "v2")):
        (directory / "mod").mkdir(parents=True)
        (directory / "mod/main.tf").write_text(
            'variable "x" {}\nresource "terraform_data" "d" { input = "' + code + '-${var.x}" }\n'
            'output "o" { value = terraform_data.d.output }\n'
        )
        (directory / "main.tf").write_text(
            'module "m" {\n  source = "./mod"\n  x = "hello"\n}\noutput "o" { value = module.m.o }\n'
        )
    assert run(planned, "init", "-input=false", "-no-color").code == 0
    manifest = json.loads((planned / ".terraform/modules/modules.json").read_text())
    assert manifest == {
        "Modules": [{"Key": "", "Source": "", "Dir": "."}, {"Key": "m", "Source": "./mod", "Dir": "mod"}]
    }
    assert run(planned, "plan", "-input=false", "-no-color", "-out=tfplan").code == 0
    with zipfile.ZipFile(planned / "tfplan") as archive:
        names = set(archive.namelist())
    assert {"tfplan", "tfconfig/modules.json", "tfconfig/m-m/main.tf"} <= names

    # Applying the saved plan where the module's code changed applies the code that was planned
    shutil.copy(planned / "tfplan", applied / "tfplan")
    assert run(applied, "init", "-input=false", "-no-color").code == 0
    outcome = run(applied, "apply", "-input=false", "-no-color", "tfplan")
    assert outcome.code == 0, outcome.text
    assert 'o = "v1-hello"' in outcome.out
