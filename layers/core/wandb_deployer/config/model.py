"""The desired state of one W&B deployment, as pydantic models.

Three sections, as in DESIGN.md: `infra` (inputs of wandb/wandb/aws), `app` (inputs of wandb/wandb/kubernetes, legacy
generation only) and `deployer` (our own policy). `infra` and `app` are kept as plain dicts of already-typed values
(bool, number, str, list, dict): their keys and types come from the module's contract (its variables at the exact
release), so they are validated against that release (see `validation.py`), not by fixed pydantic fields.

The license is a SecretStr held beside the sections: it is validated for shape, never rendered, never printed.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

Generation = Literal["operator", "legacy"]
ApprovalPolicy = Literal["always", "destructive", "never"]
DriftAction = Literal["notify", "remediate-safe", "remediate"]
OnUnhealthy = Literal["notify", "rollback"]  # after an apply whose health check fails until its deadline

DEFAULT_MODULE_VERSION: dict[str, str] = {"operator": "8.0.0", "legacy": "2.8.0"}
DEFAULT_APP_MODULE_VERSION = "1.14.1"
DEFAULT_TERRAFORM_VERSION = "1.10.5"  # >= 1.10: the S3 backend's native locking (use_lockfile)

DEPLOYMENT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$"
_SEMVER = re.compile(r"^\d+\.\d+\.\d+$")


class DeployerSettings(BaseModel):
    """`deployer/<setting>`: the deployer's own policy for one deployment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    generation: Generation = "operator"
    module_version: str = ""  # empty: the generation's default (filled by the validator below)
    app_module_version: str = DEFAULT_APP_MODULE_VERSION
    terraform_version: str = DEFAULT_TERRAFORM_VERSION
    region: str = Field(default="us-east-1", pattern=r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
    approval: ApprovalPolicy = "destructive"
    drift_action: DriftAction = "notify"
    health_timeout_seconds: int = Field(default=900, ge=30, le=7200)
    paused: bool = False
    probe: bool = False  # live S3 -> SQS probe after apply
    on_unhealthy: OnUnhealthy = "notify"  # `rollback`: roll back to the last succeeded run (never twice in a row)
    snapshot_retention_days: int = Field(default=14, ge=1, le=3650)  # the deployer's database snapshots kept this long

    @field_validator("module_version", "app_module_version", "terraform_version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if value and not _SEMVER.fullmatch(value):
            raise ValueError("must be a semantic version MAJOR.MINOR.PATCH, for example 8.0.0")
        return value

    @model_validator(mode="after")
    def _default_module_version(self) -> DeployerSettings:
        if not self.module_version:
            object.__setattr__(self, "module_version", DEFAULT_MODULE_VERSION[self.generation])
        return self


class DeploymentConfig(BaseModel):
    """One deployment's whole desired state, from SSM or from a YAML file (same model either way)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    deployment: str = Field(pattern=DEPLOYMENT_NAME_PATTERN)
    deployer: DeployerSettings = DeployerSettings()
    infra: dict[str, Any] = Field(default_factory=dict)
    app: dict[str, Any] = Field(default_factory=dict)
    # The license never lives in `infra`/`app`: it is a SecureString (`infra/license` for the operator generation,
    # `app/license` for legacy) and reaches Terraform only as TF_VAR_license in CodeBuild.
    license: SecretStr | None = Field(default=None, repr=False, exclude=True)
    api_key: SecretStr | None = Field(default=None, repr=False, exclude=True)  # deployer/api_key, health checks only
    # deployer/allow_downgrade: a one-shot permission for the next applied run to move a version backwards (the
    # upgrade guards' `force`); any new value grants it once. Operational, not desired state: never in a file, not
    # part of the fingerprint.
    allow_downgrade: str | None = Field(default=None, exclude=True)
    # From SSM the license and the API key are not read, only their presence: `<section>/<key>` -> parameter version
    # (the fingerprint changes when a new version is stored).
    secret_versions: dict[str, int] = Field(default_factory=dict, repr=False, exclude=True)

    @property
    def license_section(self) -> Literal["infra", "app"]:
        return "app" if self.deployer.generation == "legacy" else "infra"
