"""Where a deployment's things live: S3 keys of workspaces, run artifacts, Terraform state and its lock holder."""

from __future__ import annotations


def run_prefix(deployment: str, execution_name: str) -> str:
    """One run's artifacts (plan, plan JSON, sha256, outputs, findings) in the artifacts bucket."""
    return f"runs/{deployment}/{execution_name}/"


def state_key(deployment: str) -> str:
    """The Terraform state object of a deployment in the state bucket (S3 backend `key`)."""
    return f"deployments/{deployment}/terraform.tfstate"


def workspace_key(deployment: str, fingerprint: str) -> str:
    return f"workspaces/{deployment}/{fingerprint}.zip"


def parameter_name(prefix: str, deployment: str, section: str, key: str) -> str:
    return f"{prefix}/{deployment}/{section}/{key}"
