"""The module outputs the deployer reads, in Terraform state's output shape ({value, type[, sensitive]})."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wbd.sandbox.terraform_emulation import EMULATION_NOTE
from wbd.sandbox.terraform_emulation import file_storage as fs
from wbd.sandbox.terraform_emulation.environment import EmulationEnvironment
from wbd.sandbox.terraform_emulation.state import ResourceRecord
from wbd.sandbox.terraform_emulation.workspace import Workspace

EMULATED_DATABASE_PASSWORD = "emulated-password"  # noqa: S105 - a fixed, fake value so redaction can be tested


def _url(workspace: Workspace, environment: EmulationEnvironment) -> str:
    if environment.wandb_url:
        return environment.wandb_url
    inputs = workspace.inputs
    host = ".".join(part for part in (inputs.subdomain, inputs.domain_name) if part)
    return f"https://{host}"


def planned_outputs(
    workspace: Workspace, environment: EmulationEnvironment, region: str, desired: Iterable[ResourceRecord]
) -> dict[str, dict[str, Any]]:
    by_type = {record.type: record for record in desired}
    bucket = by_type.get(fs.BUCKET)
    queue = by_type.get(fs.QUEUE)
    namespace = workspace.inputs.namespace
    values: dict[str, Any] = {
        "url": _url(workspace, environment),
        "bucket_name": workspace.inputs.bucket_name or (bucket.attributes["bucket"] if bucket else None),
        "bucket_queue_name": queue.attributes["name"] if queue else None,
        "bucket_region": region,
        "cluster_name": f"{namespace}-cluster",
        "sandbox_emulation": f"{EMULATION_NOTE}; no EKS cluster, database or W&B application was created",
    }
    outputs = {name: {"value": value, "type": "string"} for name, value in values.items()}
    outputs["database_password"] = {"value": EMULATED_DATABASE_PASSWORD, "type": "string", "sensitive": True}
    return outputs


def output_json(outputs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """`terraform output -json`: {name: {sensitive, type, value}}."""
    return {
        name: {
            "sensitive": bool(output.get("sensitive", False)),
            "type": output.get("type", "string"),
            "value": output.get("value"),
        }
        for name, output in sorted(outputs.items())
    }
