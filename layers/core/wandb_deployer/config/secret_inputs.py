"""Which module inputs hold secrets: every variable the module contract marks `sensitive` at the release in use, and
the ones W&B's modules leave unmarked although they carry credentials (`oidc_secret`, `other_wandb_secrets`,
`other_wandb_env` - arbitrary environment such as API tokens - and `external_redis_params`, which may hold the Redis
password).

A secret input is stored as a SecureString (`wbd config push`), shown masked everywhere, never rendered into
terraform.tfvars.json: the workspace declares it `sensitive` and names its parameter, and the plan build reads it from
Parameter Store into TF_VAR_<name>. The license and the API key are secrets of their own (`parameters.SECRET_KEYS`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from wandb_deployer.config.model import DEFAULT_APP_MODULE_VERSION, DEFAULT_MODULE_VERSION, DeploymentConfig
from wandb_deployer.contract import APP_MODULE, AWS_MODULE, UnknownReleaseError, release_interface

NAMED_SECRET_INPUTS = frozenset({"oidc_secret", "other_wandb_secrets", "other_wandb_env", "external_redis_params"})
_DIGEST_DOMAIN = b"wandb-deployer/secret-input/v1\x00"


def _sensitive(module: str, version: str) -> frozenset[str]:
    try:
        return frozenset(variable.name for variable in release_interface(module, version).sensitive())
    except UnknownReleaseError:
        return frozenset()  # the validator reports the version; the named secrets still count


def secret_input_names(generation: str, module_version: str, app_module_version: str) -> dict[str, frozenset[str]]:
    """Section (`infra`, `app`) -> the names of its secret inputs for these releases."""
    names = {"infra": NAMED_SECRET_INPUTS | _sensitive(AWS_MODULE, module_version)}
    names["app"] = (
        NAMED_SECRET_INPUTS | _sensitive(APP_MODULE, app_module_version) if generation == "legacy" else frozenset()
    )
    return names


def secret_inputs_of_raw(deployer: Mapping[str, object]) -> dict[str, frozenset[str]]:
    """The same from a not-yet-validated `deployer` section (as read from SSM: strings, defaults where unset)."""
    generation = "legacy" if str(deployer.get("generation", "")).strip() == "legacy" else "operator"
    module_version = str(deployer.get("module_version") or DEFAULT_MODULE_VERSION[generation]).strip()
    app_module_version = str(deployer.get("app_module_version") or DEFAULT_APP_MODULE_VERSION).strip()
    return secret_input_names(generation, module_version, app_module_version)


def secret_inputs_of(config: DeploymentConfig) -> dict[str, frozenset[str]]:
    deployer = config.deployer
    return secret_input_names(deployer.generation, deployer.module_version, deployer.app_module_version)


def is_secret_input(config: DeploymentConfig, section: str, key: str) -> bool:
    return key in secret_inputs_of(config).get(section, frozenset())


def secret_digest(value: Any) -> str:
    """A domain-separated sha256 of a secret input's value: it changes when the value does, and says nothing else."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return "sha256:" + hashlib.sha256(_DIGEST_DOMAIN + canonical.encode("utf-8")).hexdigest()


def secret_values(config: DeploymentConfig) -> list[str]:
    """Every secret input value as text (and each string inside a map or object), for scrubbing messages."""
    found: list[str] = []

    def collect(value: Any) -> None:
        if isinstance(value, str) and len(value) >= 4:
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for section, names in secret_inputs_of(config).items():
        values = config.infra if section == "infra" else config.app
        for name in names & set(values):
            collect(values[name])
            collect(json.dumps(values[name]))
    return sorted(set(found), key=len, reverse=True)
