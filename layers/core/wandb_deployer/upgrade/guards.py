"""The upgrade guards: what an `Upgrade Requested` event may change, decided without touching AWS.

- versions are semantic (`MAJOR.MINOR.PATCH`; EKS `MAJOR.MINOR`);
- no downgrade unless `force`, and never across a module major (state written by a newer major is not readable by an
  older one; applying a module older than 7.x to 7.x state may delete the bucket: README.md v7.0.0, "6.x -> 7.x":
  "After moving to a `v7` applying an earlier version of the module may result in terraform deleting your bucket.")
  nor of EKS;
- EKS moves one minor version at a time;
- the module moves one major at a time; 2.x/3.x -> 4.x+ is the legacy -> operator migration, a procedure of its own;
- 7.x -> 8.x needs `kubernetes_legacy_cluster_creator_admin = true` (written with the upgrade);
- module 6.x and later need Terraform >= 1.9 (README.md v6.0.0, Pre-requisites: "Terrafom version >= 1.9";
  CHANGELOG.md 6.0.0: "Bump helm-wandb vers to v2.0.0, requires TF > 1.9");
- `wandb_version` belongs to the legacy generation only (the operator takes the version from W&B's release channel).
Every violated guard is reported at once in UpgradeRejectedError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wandb_deployer.config.model import DEPLOYMENT_NAME_PATTERN, DeployerSettings, DeploymentConfig
from wandb_deployer.errors import UpgradeRejectedError

_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
_EKS = re.compile(r"^1\.(0|[1-9]\d*)$")
FIRST_OPERATOR_MAJOR = 4
TERRAFORM_19_FROM_MAJOR = 6
CREATOR_ADMIN_INPUT = "kubernetes_legacy_cluster_creator_admin"
MIGRATION_GUIDE = (
    "set deployer/generation=operator together with deployer/module_version 4.x or later and the license in "
    "infra/license, after reading W&B's operator migration guide (the Route53 record is replaced: plan a DNS cutover)"
)

Version = tuple[int, ...]
REQUEST_FORCE_HINT = "send force=true to allow it"
CONFIG_FORCE_HINT = "allow it once with `wbd config push --force` (it sets deployer/allow_downgrade)"


def parse_version(value: str) -> Version:
    return tuple(int(part) for part in value.split("."))


class UpgradeRequest(BaseModel):
    """The detail of an `Upgrade Requested` event (source `wandb-deployer`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    deployment: str = Field(pattern=DEPLOYMENT_NAME_PATTERN)
    wandb_version: str | None = None
    module_version: str | None = None
    eks_cluster_version: str | None = None
    terraform_version: str | None = None
    force: bool = False
    requested_by: str = Field(default="unknown", min_length=1, max_length=128)
    # Chosen by the requester (`wbd upgrade --wait`) to find the answer in the deployments table.
    request_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]{8,64}$")

    @field_validator("wandb_version", "module_version", "terraform_version")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None and not _SEMVER.fullmatch(value):
            raise ValueError("must be a semantic version MAJOR.MINOR.PATCH, for example 8.0.0")
        return value

    @field_validator("eks_cluster_version")
    @classmethod
    def _eks(cls, value: str | None) -> str | None:
        if value is not None and not _EKS.fullmatch(value):
            raise ValueError("must be an EKS version 1.MINOR, for example 1.31")
        return value

    @model_validator(mode="after")
    def _something_to_upgrade(self) -> UpgradeRequest:
        if not any((self.wandb_version, self.module_version, self.eks_cluster_version, self.terraform_version)):
            raise ValueError(
                "names no version: give module_version, eks_cluster_version, terraform_version or wandb_version"
            )
        return self


class ParameterWrite(BaseModel):
    """One SSM parameter an accepted upgrade writes: `name` is relative to the deployment's prefix."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: str
    previous: str | None = None


class UpgradePlan(BaseModel):
    """The outcome of the guards: the writes (in a safe order) and notes for the operator."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    requested_by: str
    forced: bool = False
    writes: list[ParameterWrite] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class _Evaluation:
    """Collects the reasons, notes and writes of one evaluation."""

    def __init__(self, force_hint: str = REQUEST_FORCE_HINT) -> None:
        self.force_hint = force_hint
        self.reasons: list[str] = []
        self.notes: list[str] = []
        self.writes: dict[str, ParameterWrite] = {}

    def write(self, name: str, value: str, previous: str | None) -> None:
        self.writes[name] = ParameterWrite(name=name, value=value, previous=previous)

    def version_step(self, field: str, requested: str, current: str | None, force: bool) -> bool:
        """Common rule: unchanged -> nothing to write; downgrade -> only with force. True when a write is due."""
        if current is None:
            return True
        if parse_version(requested) == parse_version(current):
            self.notes.append(f"{field} is already {current}")
            return False
        if parse_version(requested) < parse_version(current):
            if not force:
                self.reasons.append(f"{field}: {requested} is a downgrade from {current} ({self.force_hint})")
                return False
            self.notes.append(f"{field}: forced downgrade from {current} to {requested}")
        return True


# The order writes are applied in: each intermediate state is as valid as possible, module_version last.
_WRITE_ORDER = (
    "deployer/terraform_version",
    "infra/eks_cluster_version",
    "app/wandb_version",
    f"infra/{CREATOR_ADMIN_INPUT}",
    "deployer/module_version",
)


def evaluate_upgrade(
    request: UpgradeRequest, current: DeploymentConfig, *, force_hint: str = REQUEST_FORCE_HINT
) -> UpgradePlan:
    """The parameter writes of an acceptable upgrade; raises UpgradeRejectedError listing every violated guard.

    `force_hint` tells how to allow a downgrade where one is allowed (the request's `force`, or its equivalent)."""
    check = _Evaluation(force_hint)
    deployer = current.deployer
    if request.deployment != current.deployment:
        check.reasons.append(f"request is for {request.deployment!r} but the config is of {current.deployment!r}")
    if request.terraform_version and check.version_step(
        "terraform_version", request.terraform_version, deployer.terraform_version, request.force
    ):
        check.write("deployer/terraform_version", request.terraform_version, deployer.terraform_version)
    if request.eks_cluster_version:
        _check_eks(check, request.eks_cluster_version, current.infra.get("eks_cluster_version"))
    if request.wandb_version:
        _check_wandb_version(check, request.wandb_version, request.force, current)
    if request.module_version:
        _check_module(check, request.module_version, request.force, current)
    terraform = request.terraform_version or deployer.terraform_version
    module = request.module_version or deployer.module_version
    asks_toolchain = request.module_version is not None or request.terraform_version is not None
    if asks_toolchain and parse_version(module)[0] >= TERRAFORM_19_FROM_MAJOR and parse_version(terraform) < (1, 9, 0):
        check.reasons.append(
            f"module {module} (6.x and later) requires Terraform >= 1.9, but terraform_version is {terraform}: "
            "request terraform_version too"
        )
    if check.reasons:
        raise UpgradeRejectedError(request.deployment, check.reasons)
    writes = [check.writes[name] for name in _WRITE_ORDER if name in check.writes]
    if not writes:
        check.notes.append("nothing to change: every requested version is already current")
    return UpgradePlan(
        deployment=current.deployment,
        requested_by=request.requested_by,
        forced=request.force,
        writes=writes,
        notes=check.notes,
    )


def _check_eks(check: _Evaluation, requested: str, current_value: object) -> None:
    """EKS upgrades one minor at a time and never goes back (force does not change what EKS can do)."""
    current = str(current_value) if current_value not in (None, "") else None
    if current is None or not _EKS.fullmatch(current):
        check.notes.append("infra/eks_cluster_version was not set explicitly; the module's default was in use")
        check.write("infra/eks_cluster_version", requested, current)
        return
    wanted, now = parse_version(requested), parse_version(current)
    if wanted == now:
        check.notes.append(f"eks_cluster_version is already {current}")
    elif wanted < now:
        check.reasons.append(
            f"eks_cluster_version: EKS cannot be downgraded ({current} -> {requested}), not even forced"
        )
    elif wanted[1] - now[1] > 1:
        check.reasons.append(
            f"eks_cluster_version: EKS upgrades one minor version at a time: {current} -> "
            f"{now[0]}.{now[1] + 1} first, not {requested}"
        )
    else:
        check.write("infra/eks_cluster_version", requested, current)


def _check_wandb_version(check: _Evaluation, wanted: str, force: bool, current: DeploymentConfig) -> None:
    if current.deployer.generation == "operator":
        check.reasons.append(
            "wandb_version: the operator generation takes the W&B version from W&B's release channel "
            "(pin it in the W&B System Console); wandb_version applies to the legacy generation only"
        )
        return
    previous = current.app.get("wandb_version")
    previous_text = str(previous) if previous not in (None, "") else None
    if previous_text is not None and not _SEMVER.fullmatch(previous_text):
        check.notes.append(f"current wandb_version {previous_text!r} is not semantic; replaced")
        previous_text = None
    if check.version_step("wandb_version", wanted, previous_text, force):
        check.write("app/wandb_version", wanted, previous_text)


def _check_module(check: _Evaluation, wanted_text: str, force: bool, current: DeploymentConfig) -> None:
    current_text = current.deployer.module_version
    wanted, now = parse_version(wanted_text), parse_version(current_text)
    generation: Literal["operator", "legacy"] = current.deployer.generation
    if generation == "legacy" and wanted[0] >= FIRST_OPERATOR_MAJOR:
        check.reasons.append(
            f"module_version: {current_text} -> {wanted_text} is the legacy -> operator migration, not an upgrade: "
            f"follow the migration procedure ({MIGRATION_GUIDE})"
        )
        return
    if generation == "operator" and wanted[0] < FIRST_OPERATOR_MAJOR:
        check.reasons.append(f"module_version: the operator generation needs module 4.x or later, not {wanted_text}")
        return
    if wanted[0] < now[0]:
        check.reasons.append(
            f"module_version: {wanted_text} is a major downgrade from {current_text}; a module cannot read state "
            "written by a newer major (applying a module older than 7.x to 7.x state may delete the bucket)"
        )
        return
    if wanted[0] - now[0] > 1:
        check.reasons.append(
            f"module_version: one major version at a time: {current_text} -> {now[0] + 1}.x first "
            f"(each major has its own upgrade guide), not {wanted_text}"
        )
        return
    if not check.version_step("module_version", wanted_text, current_text, force):
        return
    check.write("deployer/module_version", wanted_text, current_text)
    if now[0] == 7 and wanted[0] == 8:
        already = current.infra.get(CREATOR_ADMIN_INPUT)
        if already is not True and str(already).lower() != "true":
            check.write(f"infra/{CREATOR_ADMIN_INPUT}", "true", None if already is None else str(already).lower())
        check.notes.append(f"7.x -> 8.x: {CREATOR_ADMIN_INPUT} = true keeps the cluster creator's admin access")


def _version_text(value: object) -> str | None:
    return None if value in (None, "") else str(value)


def guard_config_change(
    applied: Mapping[str, str], desired: DeploymentConfig, *, allow_downgrade: bool = False
) -> list[str]:
    """Why moving a deployment from the config last applied (`applied`: a snapshot, `<section>/<key>` -> SSM value)
    to `desired` breaks the upgrade guards; empty when it does not. The same guards as an `Upgrade Requested` event,
    for every other source of change (a push, a hand edit of a parameter): `allow_downgrade` is the request's `force`.

    A change of generation is the legacy -> operator migration, which always stops at the approval gate: its module
    versions are not compared, the other versions are."""
    generation = applied.get("deployer/generation") or desired.deployer.generation
    module_version = applied.get("deployer/module_version") or desired.deployer.module_version
    terraform_version = applied.get("deployer/terraform_version") or desired.deployer.terraform_version
    if generation not in ("operator", "legacy") or not (
        _SEMVER.match(module_version) and _SEMVER.match(terraform_version)
    ):
        return []  # an applied config this deployer could not read back: nothing to compare with
    current = DeploymentConfig(
        deployment=desired.deployment,
        deployer=DeployerSettings(
            generation=generation,  # checked just above
            module_version=module_version,
            terraform_version=terraform_version,
        ),
        infra={
            key: applied[f"infra/{key}"]
            for key in ("eks_cluster_version", CREATOR_ADMIN_INPUT)
            if f"infra/{key}" in applied
        },
        app={"wandb_version": applied["app/wandb_version"]} if "app/wandb_version" in applied else {},
    )
    wanted: dict[str, str] = {}
    if desired.deployer.terraform_version != terraform_version:
        wanted["terraform_version"] = desired.deployer.terraform_version
    eks = _version_text(desired.infra.get("eks_cluster_version"))
    if eks is not None and eks != _version_text(current.infra.get("eks_cluster_version")) and _EKS.match(eks):
        wanted["eks_cluster_version"] = eks
    same_generation = desired.deployer.generation == generation
    if same_generation and desired.deployer.module_version != module_version:
        wanted["module_version"] = desired.deployer.module_version
    wandb_version = _version_text(desired.app.get("wandb_version"))
    if (
        same_generation
        and generation == "legacy"
        and wandb_version is not None
        and _SEMVER.match(wandb_version)
        and wandb_version != _version_text(current.app.get("wandb_version"))
    ):
        wanted["wandb_version"] = wandb_version
    if not wanted:
        return []
    request = UpgradeRequest.model_validate(
        {"deployment": desired.deployment, "force": allow_downgrade, "requested_by": "desired config", **wanted}
    )
    try:
        evaluate_upgrade(request, current, force_hint=CONFIG_FORCE_HINT)
    except UpgradeRejectedError as exc:
        return list(exc.reasons)
    return []
