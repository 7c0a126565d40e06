"""Helpers for the Terraform emulation tests: the workspace the deployer renders, results, plan JSON lookups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.workspace import render_workspace as deployer_render

STATE_BUCKET = "wbd-state-test"
TERRAFORM_VERSION = "1.10.5"
STATE_KEY = "deployments/prod/terraform.tfstate"
WORKSPACE_ZONE_ID = "Z0123456789"  # example.com, provided by the `aws` fixture
LICENSE_SECRET = "LICENSE-SECRET-7c1f0e-do-not-print"


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def render_workspace(
    directory: Path,
    *,
    module_version: str = "8.0.0",
    namespace: str = "wandb",
    use_internal_queue: bool | None = None,
    bucket_name: str | None = None,
    legacy: bool = False,
) -> None:
    """The workspace the deployer's own renderer makes for a minimal valid config of that module release."""
    infra: dict[str, Any] = {
        "namespace": namespace,
        "domain_name": "example.com",
        "subdomain": "wandb",
        "zone_id": WORKSPACE_ZONE_ID,
        "allowed_inbound_cidr": ["0.0.0.0/0"],
        "allowed_inbound_ipv6_cidr": ["::/0"],
        "eks_cluster_version": "1.31",
    }
    if module_version == "8.0.0":
        infra["kubernetes_legacy_cluster_creator_admin"] = False
    if use_internal_queue is not None:
        infra["use_internal_queue"] = use_internal_queue
    if bucket_name is not None:
        infra["bucket_name"] = bucket_name
    settings: dict[str, Any] = {
        "generation": "legacy" if legacy else "operator",
        "module_version": module_version,
        "terraform_version": TERRAFORM_VERSION,
    }
    if legacy:
        settings["app_module_version"] = "1.14.0"
    config = DeploymentConfig(deployment="prod", deployer=DeployerSettings(**settings), infra=infra)
    deployer_render(config, state_bucket=STATE_BUCKET).write_to(directory)


def show_plan(terraform: Any, path: str = "tfplan") -> dict[str, Any]:
    result = terraform("show", "-json", path)
    assert result.code == 0, result.text
    document: dict[str, Any] = json.loads(result.out)
    return document


def actions_by_address(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {change["address"]: change["change"]["actions"] for change in plan["resource_changes"]}
