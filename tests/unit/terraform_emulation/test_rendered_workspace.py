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
    desired = config(region="us-east-1")
    rendered = render_workspace(desired, state_bucket=STATE_BUCKET)
    rendered.write_to(workspace)
    # the module puts W&B's record in an existing zone (a missing one fails the legacy module's apply)
    provide_hosted_zone(desired.infra["zone_id"], desired.infra["domain_name"], route53=boto3.client("route53"))
    assert terraform("init", "-input=false", "-no-color", "-lock-timeout=300s").code == 0
    # Secret inputs are not in the workspace: without the plan build's tfvars file for them, the plan refuses
    secret_inputs = json.loads(rendered.files["workspace.json"])["secret_variables"]
    assert secret_inputs  # other_wandb_env
    refused = terraform("plan", "-input=false", "-no-color", "-out=tfplan", "-lock-timeout=300s")
    assert refused.code == 1 and "No value for required variable" in refused.err
    values = {**desired.infra, **{f"app_{key}": value for key, value in desired.app.items()}}
    (workspace / "zz-secret-inputs.auto.tfvars.json").write_text(
        json.dumps({name: values[name] for name in secret_inputs})
    )
    plan = terraform("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode", "-lock-timeout=300s")
    assert plan.code == 2, plan.text
    assert terraform("apply", "-input=false", "-no-color", "-lock-timeout=300s", "tfplan").code == 0
    outputs = json.loads(terraform("output", "-json").out)
    assert outputs["bucket_name"]["value"].startswith("wandb-file-storage-")
    assert outputs["bucket_queue_name"]["value"] == outputs["bucket_name"]["value"]
    assert LICENSE_SECRET not in plan.text
