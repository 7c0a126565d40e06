"""Helpers for the Terraform emulation tests: the workspace the deployer renders, results, plan JSON lookups."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STATE_BUCKET = "wbd-state-test"
STATE_KEY = "deployments/prod/terraform.tfstate"
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
    """What the deployer renders: backend + module call in main.tf.json, user values only in tfvars."""
    modules: dict[str, Any] = {
        "wandb_infra": {"source": "wandb/wandb/aws", "version": module_version, "namespace": "${var.namespace}"},
    }
    if legacy:
        modules["wandb_app"] = {"source": "wandb/wandb/kubernetes", "version": "1.14.0"}
    main_tf = {
        "terraform": {
            "required_version": ">= 1.9",
            "backend": {"s3": {"bucket": STATE_BUCKET, "key": STATE_KEY, "region": "us-east-1", "use_lockfile": True}},
        },
        "provider": {"aws": {"region": "us-east-1"}},
        "variable": {"namespace": {"type": "string"}, "license": {"type": "string", "sensitive": True}},
        "module": modules,
    }
    tfvars: dict[str, Any] = {"namespace": namespace, "domain_name": "example.com", "subdomain": "wandb"}
    if use_internal_queue is not None:
        tfvars["use_internal_queue"] = use_internal_queue
    if bucket_name is not None:
        tfvars["bucket_name"] = bucket_name
    (directory / "main.tf.json").write_text(json.dumps(main_tf), encoding="utf-8")
    (directory / "terraform.tfvars.json").write_text(json.dumps(tfvars), encoding="utf-8")


def show_plan(terraform: Any, path: str = "tfplan") -> dict[str, Any]:
    result = terraform("show", "-json", path)
    assert result.code == 0, result.text
    document: dict[str, Any] = json.loads(result.out)
    return document


def actions_by_address(plan: dict[str, Any]) -> dict[str, list[str]]:
    return {change["address"]: change["change"]["actions"] for change in plan["resource_changes"]}
