"""Real Terraform against the real registry: `terraform init -backend=false && terraform validate` of the workspaces
rendered from the examples. Needs a terraform binary and network access to registry.terraform.io (`make
terraform-validate`); skipped otherwise, with the reason. The offline cross-checks (stub modules from the contract) run
in the unit suite: tests/unit/contract/test_release_matrix.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests import real_terraform
from tests.conftest import REPO
from wandb_deployer.workspace import render_workspace
from wbd.config_file import load_config_file

pytestmark = pytest.mark.network

LICENSE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJyZWdpc3RyeSJ9.c2lnbmF0dXJl"


def _skip_reason() -> str | None:
    if os.environ.get("WBD_NETWORK_TESTS") != "1":
        return "needs network access to registry.terraform.io: run `make terraform-validate` on a machine that has it"
    if real_terraform.TERRAFORM is None:
        return real_terraform.SKIP_REASON
    return None


@pytest.mark.parametrize("example", ["operator.yaml", "legacy.yaml"])
def test_the_rendered_example_inits_and_validates_against_the_registry(example: str, tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    config = load_config_file(REPO / "examples" / example, license=LICENSE)
    files = render_workspace(config, state_bucket="wbd-state-validate").files
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    for name, content in files.items():
        (workspace / name).write_bytes(content)
    terraform = json.loads(files["terraform.tf.json"])
    terraform["terraform"]["required_version"] = "= " + real_terraform.local_version()  # CodeBuild pins its own
    (workspace / "terraform.tf.json").write_text(json.dumps(terraform))
    (tmp_path / "cli.tfrc").write_text("")

    init = real_terraform.run(
        workspace, "init", "-backend=false", "-input=false", "-no-color", config_file=tmp_path / "cli.tfrc"
    )
    assert init.code == 0, init.text[-4000:]
    validate = real_terraform.run(workspace, "validate", "-no-color", config_file=tmp_path / "cli.tfrc")
    assert validate.code == 0, validate.text[-4000:]
