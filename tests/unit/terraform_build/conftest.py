"""Fixtures for the CodeBuild runner: the runner imported from its file, a fake `terraform`, a moto artifacts bucket."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import REPO

RUNNER_DIR = REPO / "layers" / "core" / "wandb_deployer" / "terraform_build"
LICENSE = "eyJhbGciOiJSUzI1NiJ9.TEST-LICENSE-payload-4f1c.signature-9a7e"  # a fake JWS-shaped license
BUCKET = "wbd-artifacts-test"
RUN_PREFIX = "runs/prod/exec-1/"

# A stand-in for terraform: behaviour from the JSON file in FAKE_TF_CONFIG, every call appended to FAKE_TF_CALLS.
# Like the real one, it puts input variable values into the saved plan and `show -json`, and a careless module may
# print them: the runner has to mask them.
FAKE_TERRAFORM = r"""
import json, os, sys

cfg = json.load(open(os.environ["FAKE_TF_CONFIG"]))
args = sys.argv[1:]
with open(os.environ["FAKE_TF_CALLS"], "a") as calls:
    calls.write(json.dumps({
        "args": args,
        "cwd": os.getcwd(),
        "tf_in_automation": os.environ.get("TF_IN_AUTOMATION"),
        "plugin_cache": os.environ.get("TF_PLUGIN_CACHE_DIR"),
        "tf_vars": sorted(name for name in os.environ if name.startswith("TF_VAR_")),
        "auto_tfvars": {
            name: sorted(json.load(open(name)))
            for name in sorted(os.listdir("."))
            if name.endswith(".auto.tfvars.json")
        },
    }) + "\n")
license = os.environ.get("TF_VAR_license", "")
command = args[0] if args else ""


def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)


if command == "version":
    print(json.dumps({"terraform_version": cfg.get("version", "1.9.8"), "platform": "linux_amd64"}))
elif command == "init":
    if cfg.get("init") == "locked":
        fail("Error: Error acquiring the state lock\n\nLock Info:\n  ID: 1234")
    # Like terraform init: a lock file with the selected providers, the registry modules under .terraform/modules.
    if "-lockfile=readonly" in args and not os.path.exists(".terraform.lock.hcl"):
        fail("Error: Provider dependency changes detected")
    if "-get=false" in args and not os.path.exists(".terraform/modules/modules.json"):
        fail("Error: Module not installed")
    if "-lockfile=readonly" not in args:
        with open(".terraform.lock.hcl", "w") as lock:
            lock.write(cfg.get("lock", 'provider "registry.terraform.io/hashicorp/aws" {\n  version = "6.0.0"\n}\n'))
    if "-get=false" not in args:
        os.makedirs(".terraform/modules/wandb_infra", exist_ok=True)
        with open(".terraform/modules/modules.json", "w") as manifest:
            manifest.write(json.dumps({"Modules": [{"Key": "wandb_infra", "Version": "8.0.0"}]}))
        with open(".terraform/modules/wandb_infra/main.tf", "w") as module:
            module.write(cfg.get("module", "# module code as planned\n"))
    print("Terraform has been successfully initialized!")
elif command == "plan":
    mode = cfg.get("plan", 2)
    print("  # helm_release.operator will be updated in-place")
    print("      ~ license = " + license)
    for name in sorted(os.listdir(".")):
        if name.endswith(".auto.tfvars.json"):
            for variable, value in sorted(json.load(open(name)).items()):
                print("      ~ " + variable + " = " + json.dumps(value))  # a careless module printing a secret
    if mode == "locked":
        fail("Error: Error acquiring the state lock\n\nLock Info:\n  ID: 1234")
    if mode == 1:
        fail("Error: Unsupported argument")
    with open("plan.tfplan", "wb") as plan:
        plan.write(b"PK\x03\x04fake-saved-plan " + json.dumps(args).encode() + b" variables:" + license.encode())
    sys.exit(mode)
elif command == "show":
    print(json.dumps({
        "format_version": "1.2",
        "variables": {"license": {"value": license}, "namespace": {"value": "wandb"}},
        "resource_changes": [
            {"address": "module.wandb.aws_s3_bucket.file_storage", "type": "aws_s3_bucket",
             "change": {"actions": ["update"], "before": {"tags": {}}, "after": {"tags": {"license": license}}}},
            {"address": "module.wandb.module.database.aws_rds_cluster.this", "type": "aws_rds_cluster",
             "mode": "managed", "name": "this", "provider_name": "registry.terraform.io/hashicorp/aws",
             "change": {"actions": ["update"], "before": {"master_password": "db-password-HUSH-123", "port": 5432},
                        "after": {"master_password": "db-password-HUSH-456", "port": 5432},
                        "before_sensitive": {"master_password": True}, "after_sensitive": {"master_password": True}}},
        ],
        "prior_state": {"values": {"root_module": {"resources": [{"values": {"password": "db-password-HUSH-123"}}]}}},
        "output_changes": {"database_password": {"actions": ["update"], "before": "db-password-HUSH-123",
                                                 "after": "db-password-HUSH-456"}},
    }))
elif command == "apply":
    mode = cfg.get("apply", "ok")
    print("module.wandb.helm_release.operator: Modifying... license=" + license)
    if mode == "stale":
        fail("Error: Saved plan is stale\n\nThe given plan file can no longer be applied")
    if mode == "locked":
        fail("Error: Error acquiring the state lock")
    if mode == "error":
        fail("Error: creating EKS Node Group: InvalidParameterException")
    print("Apply complete! Resources: 0 added, 1 changed, 0 destroyed.")
elif command == "output":
    print(json.dumps({
        "url": {"sensitive": False, "type": "string", "value": "https://wandb.example.com"},
        "bucket_name": {"sensitive": False, "type": "string", "value": "wandb-file-storage-pet"},
        "database_password": {"sensitive": True, "type": "string", "value": "db-password-HUSH-123"},
        "wandb_spec": {"sensitive": True, "type": ["object", {}], "value": {"license": license}},
    }))
else:
    fail("fake terraform: unknown command " + command)
"""


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_runner() -> ModuleType:
    """Import tfrunner.py from its file, as CodeBuild runs it (it is not imported through the layer package); its
    sibling planfiles.py is what `python3 tfrunner.py` would find first on sys.path."""
    _load("planfiles", RUNNER_DIR / "planfiles.py")
    return _load("wbd_tfrunner_under_test", RUNNER_DIR / "tfrunner.py")


@pytest.fixture(scope="session")
def tfrunner() -> ModuleType:
    return load_runner()


def write_fake_terraform(bin_dir: Path) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "terraform"
    script.write_text(f"#!{sys.executable}\n{FAKE_TERRAFORM}", encoding="utf-8")
    script.chmod(0o755)
    return script


@dataclass
class FakeTerraform:
    config_path: Path
    calls_path: Path
    workspace: Path

    def configure(self, **settings: Any) -> None:
        self.config_path.write_text(json.dumps(settings), encoding="utf-8")

    def calls(self) -> list[dict[str, Any]]:
        if not self.calls_path.exists():
            return []
        return [json.loads(line) for line in self.calls_path.read_text(encoding="utf-8").splitlines()]

    def commands(self) -> list[str]:
        return [call["args"][0] for call in self.calls()]


@pytest.fixture
def fake_terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeTerraform:
    """A workspace (the cwd, as in CodeBuild) with a fake terraform first on PATH and the runner's environment."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    (workspace / "main.tf.json").write_text("{}", encoding="utf-8")
    bin_dir = write_fake_terraform(tmp_path / "bin").parent
    fake = FakeTerraform(tmp_path / "fake-tf.json", tmp_path / "fake-tf-calls.jsonl", workspace)
    fake.configure()
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    for name, value in {
        "FAKE_TF_CONFIG": str(fake.config_path),
        "FAKE_TF_CALLS": str(fake.calls_path),
        "WBD_ARTIFACTS_BUCKET": BUCKET,
        "WBD_RUN_PREFIX": RUN_PREFIX,
        "WBD_DEPLOYMENT": "prod",
        "WBD_TERRAFORM_VERSION": "1.9.8",
        "CODEBUILD_BUILD_ID": "wbd-terraform:build-1",
        "TF_VAR_license": LICENSE,
        "TF_PLUGIN_CACHE_DIR": ".terraform-plugin-cache",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("WBD_KMS_KEY_ARN", "WBD_LOCK_TIMEOUT", "WBD_APPROVED_PLAN_SHA256", "WBD_ACTION", "WBD_SECRET_ENV"):
        monkeypatch.delenv(name, raising=False)
    return fake


@pytest.fixture
def s3() -> Iterator[Any]:
    """The artifacts bucket in moto; the runner's own boto3 client is created inside the same mock."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def object_body(s3: Any, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return body


def object_keys(s3: Any) -> list[str]:
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))
