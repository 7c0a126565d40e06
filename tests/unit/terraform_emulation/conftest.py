"""Fixtures for the sandbox's Terraform emulation: a rendered workspace in a tmp dir, moto in-process, and a runner
that calls `main([...])` in that workspace and captures what it prints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.terraform_emulation.workspaces import (
    LICENSE_SECRET,
    STATE_BUCKET,
    TERRAFORM_VERSION,
    WORKSPACE_ZONE_ID,
    Result,
    render_workspace,
)
from wbd.sandbox.hosted_zones import provide_hosted_zone
from wbd.sandbox.terraform_emulation.cli import main


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=STATE_BUCKET)
        # the Route53 zone the workspace names (the module puts W&B's record in an existing zone)
        provide_hosted_zone(WORKSPACE_ZONE_ID, "example.com", route53=boto3.client("route53"))
        yield


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, aws: None) -> Path:
    directory = tmp_path / "workspace"
    directory.mkdir()
    render_workspace(directory)
    monkeypatch.chdir(directory)
    monkeypatch.setenv("TF_VAR_license", LICENSE_SECRET)
    monkeypatch.setenv("WBD_SANDBOX_TIME_SCALE", "100")
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", TERRAFORM_VERSION)
    for name in ("WBD_SANDBOX_FAULT_TERRAFORM", "WBD_SANDBOX_WANDB_URL"):
        monkeypatch.delenv(name, raising=False)
    return directory


@pytest.fixture
def terraform(capsys: pytest.CaptureFixture[str]) -> Any:
    """Run one emulated terraform command in-process, return its exit code and output."""

    def run(*args: str) -> Result:
        code: int = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def init_plan_apply(terraform: Any) -> Any:
    def cycle() -> Result:
        assert terraform("init", "-input=false", "-no-color").code == 0
        assert terraform("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode").code in {0, 2}
        result: Result = terraform("apply", "-input=false", "-no-color", "tfplan")
        assert result.code == 0, result.text
        return result

    return cycle
