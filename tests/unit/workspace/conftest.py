"""Configs for the workspace tests, built directly (no validator), and a fake terraform_build directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from wandb_deployer.config.model import DeployerSettings, DeploymentConfig

# A license-shaped value (compact JWS: header.payload.signature); every part is searched for in the outputs.
LICENSE = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJsaWNlbnNlSWQiOiJ3YmQtdGVzdC1saWNlbnNlLTQyIiwiZXhwIjo0MTAyNDQ0ODAwfQ"
    ".c2lnbmF0dXJlLW9mLXRoZS13YmQtdGVzdC1saWNlbnNlLTQy"
)
LICENSE_PARTS = LICENSE.split(".")
STATE_BUCKET = "wbd-state-123456789012"
TERRAFORM_VERSION = "1.11.4"

OPERATOR_INFRA: dict[str, Any] = {
    "namespace": "wandb",
    "domain_name": "example.com",
    "subdomain": "wandb",
    "zone_id": "Z0123456789",
    "allowed_inbound_cidr": ["0.0.0.0/0"],
    "allowed_inbound_ipv6_cidr": ["::/0"],
    "eks_cluster_version": "1.31",
    "kubernetes_legacy_cluster_creator_admin": False,
    "size": "small",
    "use_internal_queue": False,
    "other_wandb_env": {"GORILLA_CUSTOMER_SECRET_STORE_SOURCE": "aws-secretmanager://wandb"},
}
LEGACY_INFRA: dict[str, Any] = {
    "namespace": "wandb",
    "domain_name": "example.com",
    "subdomain": "wandb",
    "zone_id": "Z0123456789",
    "allowed_inbound_cidr": ["0.0.0.0/0"],
    "allowed_inbound_ipv6_cidr": ["::/0"],
    "eks_cluster_version": "1.29",
    "use_internal_queue": False,
}
LEGACY_APP: dict[str, Any] = {"wandb_version": "0.51.2", "other_wandb_env": {"A": "b"}}


def operator_config(
    *,
    deployment: str = "prod",
    infra: dict[str, Any] | None = None,
    license_value: str | None = LICENSE,
    **deployer: Any,
) -> DeploymentConfig:
    settings = {"generation": "operator", "module_version": "8.0.0", "terraform_version": TERRAFORM_VERSION, **deployer}
    return DeploymentConfig(
        deployment=deployment,
        deployer=DeployerSettings(**settings),
        infra=dict(OPERATOR_INFRA if infra is None else infra),
        license=SecretStr(license_value) if license_value is not None else None,
    )


def legacy_config(
    *,
    deployment: str = "legacy",
    infra: dict[str, Any] | None = None,
    app: dict[str, Any] | None = None,
    **deployer: Any,
) -> DeploymentConfig:
    settings = {
        "generation": "legacy",
        "module_version": "2.8.0",
        "app_module_version": "1.14.1",
        "terraform_version": TERRAFORM_VERSION,
        **deployer,
    }
    return DeploymentConfig(
        deployment=deployment,
        deployer=DeployerSettings(**settings),
        infra=dict(LEGACY_INFRA if infra is None else infra),
        app=dict(LEGACY_APP if app is None else app),
        license=SecretStr(LICENSE),
    )


@pytest.fixture
def build_files_dir(tmp_path: Path) -> Path:
    """A stand-in for wandb_deployer/terraform_build/: the files the bundle must carry, and the ones it must skip."""
    directory = tmp_path / "terraform_build"
    (directory / "__pycache__").mkdir(parents=True)
    (directory / "tfrunner.py").write_text("print('runner')\n", encoding="utf-8")
    (directory / "terraform-checksums.json").write_text("{}\n", encoding="utf-8")
    (directory / "__init__.py").write_text('"""package marker"""\n', encoding="utf-8")
    (directory / "__pycache__" / "tfrunner.cpython-312.pyc").write_bytes(b"\x00cache")
    (directory / "stale.pyc").write_bytes(b"\x00cache")
    return directory
