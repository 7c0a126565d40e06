"""Contract with the deployer's renderer: the emulation plans and applies the workspace `render_workspace` writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.terraform_emulation.workspaces import LICENSE_SECRET
from tests.unit.workspace.conftest import STATE_BUCKET, TERRAFORM_VERSION, legacy_config, operator_config
from wandb_deployer.workspace import render_workspace
from wbd.sandbox.hosted_zones import provide_hosted_zone

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("config", [operator_config, legacy_config], ids=["operator", "legacy"])
def test_rendered_workspace_plans_and_applies(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch, config: Any
) -> None:
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", TERRAFORM_VERSION)  # the version the workspace pins
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=STATE_BUCKET)
    for path in workspace.iterdir():
        path.unlink()
    deployment = config(region="us-east-1")
    render_workspace(deployment, state_bucket=STATE_BUCKET).write_to(workspace)
    # the module puts W&B's record in an existing zone (a missing one fails the legacy module's apply)
    provide_hosted_zone(deployment.infra["zone_id"], deployment.infra["domain_name"], route53=boto3.client("route53"))
    assert terraform("init", "-input=false", "-no-color", "-lock-timeout=300s").code == 0
    plan = terraform("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode", "-lock-timeout=300s")
    assert plan.code == 2, plan.text
    assert terraform("apply", "-input=false", "-no-color", "-lock-timeout=300s", "tfplan").code == 0
    outputs = json.loads(terraform("output", "-json").out)
    assert outputs["bucket_name"]["value"].startswith("wandb-file-storage-")
    assert outputs["bucket_queue_name"]["value"] == outputs["bucket_name"]["value"]
    assert LICENSE_SECRET not in plan.text
