"""The SSM layout of a deployment's desired state: `<prefix>/<deployment>/<section>/<key>`, one parameter per key.

Values are strings: booleans `true`/`false`, numbers in decimal, lists as StringList (or a JSON list when an element
holds a comma, or the list is empty), maps and objects as JSON. Secrets are SecureStrings: `infra/license` (operator
generation), `app/license` (legacy generation), `deployer/api_key` and every secret input (`secret_inputs.py`). A
run never decrypts the license or the API key; secret inputs are decrypted only to be validated. Everywhere else
they are shown masked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.config.model import DEPLOYMENT_NAME_PATTERN, DeployerSettings, DeploymentConfig
from wandb_deployer.config.secret_inputs import secret_inputs_of, secret_inputs_of_raw
from wandb_deployer.config.validation import SECTIONS, validate_config
from wandb_deployer.errors import (
    AwsRequestFailedError,
    DeployerError,
    InvalidDeploymentNameError,
    TransientAwsError,
    UnknownDeploymentError,
)

logger = Logger(child=True)

ParameterType = Literal["String", "StringList", "SecureString"]
SECRET_KEYS = frozenset({("infra", "license"), ("app", "license"), ("deployer", "api_key")})
MASK = "********"
ALLOW_DOWNGRADE_KEY = "allow_downgrade"  # deployer/allow_downgrade: see DeploymentConfig.allow_downgrade

_KEY = re.compile(r"^[a-z_][a-z0-9_]*$")
_DEPLOYMENT = re.compile(DEPLOYMENT_NAME_PATTERN)
_TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "Throttling", "TooManyUpdates", "InternalServerError", "ServiceUnavailable"}
)
_MISPLACED_MARKER = "(SecureString)"


class ParameterName(BaseModel):
    """A parameter name split into the layout's parts."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    section: str
    key: str


class DesiredParameter(BaseModel):
    """One parameter as written to (or read from) SSM. `value` is never shown: use `shown`."""

    model_config = ConfigDict(frozen=True)

    type: ParameterType
    value: str = Field(repr=False)
    version: int | None = None  # as read from SSM (None for a parameter about to be written)

    @property
    def shown(self) -> str:
        return MASK if self.type == "SecureString" else self.value


class ParameterChange(BaseModel):
    """One line of a diff; `before`/`after` are display values (SecureStrings masked)."""

    model_config = ConfigDict(frozen=True)

    name: str
    before_type: ParameterType | None = None
    after_type: ParameterType | None = None
    before: str | None = None
    after: str | None = None


class ParameterDiff(BaseModel):
    model_config = ConfigDict(frozen=True)

    added: list[ParameterChange] = Field(default_factory=list)
    changed: list[ParameterChange] = Field(default_factory=list)
    removed: list[ParameterChange] = Field(default_factory=list)
    unchanged: int = 0

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def _prefix(prefix: str) -> str:
    return prefix.rstrip("/")


def _aws_error(exc: ClientError, action: str) -> DeployerError:
    """The domain error for a failed SSM call: only the error code, never AWS's message (it may quote a value)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientAwsError(f"{action} failed: {code}")
    return AwsRequestFailedError(f"{action} failed: {code}")


def parse_parameter_name(name: str, prefix: str) -> ParameterName:
    """`<prefix>/<deployment>/<section>/<key>` split; raises InvalidDeploymentNameError for any other name."""
    base = _prefix(prefix) + "/"
    if not name.startswith(base):
        raise InvalidDeploymentNameError(f"parameter {name!r} is not under {base}")
    parts = name[len(base) :].split("/")
    if len(parts) != 3:
        raise InvalidDeploymentNameError(f"parameter {name!r} does not fit {base}<deployment>/<section>/<key>")
    deployment, section, key = parts
    if not _DEPLOYMENT.fullmatch(deployment):
        raise InvalidDeploymentNameError(
            f"parameter {name!r}: deployment name must be 2-32 lowercase letters, digits or hyphens"
        )
    if section not in SECTIONS:
        raise InvalidDeploymentNameError(f"parameter {name!r}: section must be one of {', '.join(SECTIONS)}")
    if not _KEY.fullmatch(key):
        raise InvalidDeploymentNameError(f"parameter {name!r}: key must be lowercase letters, digits, underscores")
    return ParameterName(deployment=deployment, section=section, key=key)


def _parameters_by_path(path: str, *, ssm: Any, decrypt: bool) -> Iterator[dict[str, Any]]:
    try:
        for page in ssm.get_paginator("get_parameters_by_path").paginate(
            Path=path, Recursive=True, WithDecryption=decrypt
        ):
            yield from page.get("Parameters", [])
    except ClientError as exc:
        raise _aws_error(exc, f"GetParametersByPath {path}") from exc


def read_parameters(deployment: str, *, prefix: str, ssm: Any, decrypt: bool) -> dict[str, DesiredParameter]:
    """Every parameter under the deployment's prefix, name -> type + value (SecureStrings decrypted only if asked)."""
    if not _DEPLOYMENT.fullmatch(deployment):
        raise InvalidDeploymentNameError(f"deployment name {deployment!r} must be 2-32 lowercase letters, digits or -")
    path = f"{_prefix(prefix)}/{deployment}"  # a hierarchy: /p/demo does not include /p/demo2
    return {
        raw["Name"]: DesiredParameter(type=raw["Type"], value=raw["Value"], version=raw.get("Version"))
        for raw in _parameters_by_path(path, ssm=ssm, decrypt=decrypt)
    }


def _decrypted(names: list[str], *, ssm: Any) -> dict[str, str]:
    """The values of the named SecureStrings (never the license or the API key: callers pass secret inputs only)."""
    values: dict[str, str] = {}
    for start in range(0, len(names), 10):
        try:
            found = ssm.get_parameters(Names=names[start : start + 10], WithDecryption=True)
        except ClientError as exc:
            raise _aws_error(exc, "GetParameters (secret inputs)") from exc
        values.update({item["Name"]: str(item["Value"]) for item in found.get("Parameters", [])})
    return values


def load_deployment_config(deployment: str, *, prefix: str, ssm: Any, with_secrets: bool = True) -> DeploymentConfig:
    """The validated config of `deployment` from SSM.

    The license and the API key are not decrypted: a run needs only their presence (CodeBuild resolves the license
    from Parameter Store, the health check reads the API key itself); their parameter versions stand for them in the
    fingerprint. Secret inputs (`secret_inputs.py`) are decrypted to be validated like every input, and must be
    SecureStrings. `with_secrets=False` decrypts nothing: the config comes without its secret inputs and a missing
    license is not a problem (what `wbd` shows and pulls, and what the upgrade guards compare: versions only).
    Raises UnknownDeploymentError (no parameters), InvalidConfigError (every problem, one line each; a secret stored
    as a plain String is one of them), TransientAwsError / AwsRequestFailedError for failed calls.
    """
    parameters = read_parameters(deployment, prefix=prefix, ssm=ssm, decrypt=False)
    return config_from_parameters(deployment, parameters, prefix=prefix, ssm=ssm, with_secrets=with_secrets)


def config_from_parameters(
    deployment: str, parameters: Mapping[str, DesiredParameter], *, prefix: str, ssm: Any, with_secrets: bool = True
) -> DeploymentConfig:
    """The validated config that `parameters` (full name -> parameter, as `read_parameters(decrypt=False)` returns)
    describe; `ssm` decrypts the secret inputs (never the license or the API key) when `with_secrets`."""
    if not parameters:
        raise UnknownDeploymentError(f"no parameters under {_prefix(prefix)}/{deployment}/")
    sections: dict[str, dict[str, object]] = {}
    secrets: dict[tuple[str, str], int] = {}
    encrypted: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    base = f"{_prefix(prefix)}/{deployment}/"
    for name, parameter in sorted(parameters.items()):
        try:
            parsed = parse_parameter_name(name, prefix)
        except InvalidDeploymentNameError:
            problems.append(
                f"{name[len(base) :]}: not a parameter of the layout <section>/<key> (sections: infra, app, deployer)"
            )
            continue
        where = (parsed.section, parsed.key)
        if where in SECRET_KEYS or parameter.type == "SecureString":
            if where in SECRET_KEYS and parameter.type != "SecureString":
                problems.append(
                    f"{parsed.section}/{parsed.key}: must be a SecureString parameter, not {parameter.type}"
                )
            if where in SECRET_KEYS:
                secrets[where] = parameter.version or 0
            else:
                encrypted[where] = name
            continue
        sections.setdefault(parsed.section, {})[parsed.key] = parameter.value
    allow_downgrade = sections.get("deployer", {}).pop(ALLOW_DOWNGRADE_KEY, None)
    secret_names = secret_inputs_of_raw(sections.get("deployer", {}))
    for section, key in _plain_secret_inputs(sections, secret_names):
        problems.append(f"{section}/{key}: holds a secret: must be a SecureString parameter, not String")
    decrypted = _decrypted(sorted(encrypted.values()), ssm=ssm) if with_secrets else {}
    for secret_name, value in decrypted.items():
        parsed = parse_parameter_name(secret_name, prefix)
        sections.setdefault(parsed.section, {})[parsed.key] = value
    legacy = str(sections.get("deployer", {}).get("generation", "")).strip() == "legacy"
    license_section = "app" if legacy else "infra"
    license_version = secrets.pop((license_section, "license"), None)
    if license_version is None and with_secrets:
        problems.append(f"{license_section}/license: missing: store the W&B license as a SecureString parameter")
    misplaced = "infra" if legacy else "app"
    # At legacy, infra/license beside app/license is the license staged for the operator migration (`wbd upgrade`
    # copies it: the deployer never reads it); the legacy aws module is not given it.
    staged = legacy and license_version is not None
    if (misplaced, "license") in secrets and not staged:
        sections.setdefault(misplaced, {})["license"] = _MISPLACED_MARKER  # reported by the validator, value unseen
    config = validate_config(
        deployment,
        sections,
        license=None,
        values_are_strings=True,
        require_license=False,
        extra_problems=problems,
        secret_values=[str(sections[w[0]][w[1]]) for w in encrypted if w[1] in sections.get(w[0], {})],
    )
    if allow_downgrade not in (None, "", "false"):
        config = config.model_copy(update={"allow_downgrade": str(allow_downgrade)})
    versions = {f"{section}/{key}": version for (section, key), version in secrets.items()}
    if license_version is not None:
        versions[f"{license_section}/license"] = license_version
    logger.info("deployment config loaded", deployment=deployment, parameters=len(parameters))
    return config.model_copy(update={"secret_versions": versions})


def _plain_secret_inputs(
    sections: Mapping[str, Mapping[str, object]], secret_names: Mapping[str, frozenset[str]]
) -> list[tuple[str, str]]:
    """Secret inputs found among the plain (String / StringList) parameters."""
    return [
        (section, key)
        for section in ("infra", "app")
        for key in sorted(sections.get(section, {}))
        if key in secret_names.get(section, frozenset())
    ]


def _encode(value: object) -> tuple[ParameterType, str]:
    if isinstance(value, bool):
        return "String", "true" if value else "false"
    if isinstance(value, int | float):
        return "String", json.dumps(value)
    if isinstance(value, str):
        return "String", value
    if isinstance(value, list) and value and all(_fits_string_list(item) for item in value):
        return "StringList", ",".join(value)
    return "String", json.dumps(value, sort_keys=True, separators=(",", ":"))


def _fits_string_list(item: object) -> bool:
    return isinstance(item, str) and item != "" and "," not in item and item == item.strip()


def config_to_parameters(config: DeploymentConfig, *, prefix: str) -> dict[str, DesiredParameter]:
    """The parameters that hold `config` (name -> type + value), secrets (license, API key, secret inputs) as
    SecureStrings (a list or map secret is stored as its JSON)."""
    base = f"{_prefix(prefix)}/{config.deployment}"
    desired: dict[str, DesiredParameter] = {}
    secret = secret_inputs_of(config)
    for field in DeployerSettings.model_fields:
        kind, text = _encode(getattr(config.deployer, field))
        desired[f"{base}/deployer/{field}"] = DesiredParameter(type=kind, value=text)
    for section, values in (("infra", config.infra), ("app", config.app)):
        for key, value in values.items():
            kind, text = _encode(value)
            if key in secret[section]:
                kind, text = "SecureString", value if isinstance(value, str) else json.dumps(value, sort_keys=True)
            desired[f"{base}/{section}/{key}"] = DesiredParameter(type=kind, value=text)
    if config.license is not None:
        desired[f"{base}/{config.license_section}/license"] = DesiredParameter(
            type="SecureString", value=config.license.get_secret_value()
        )
    if config.api_key is not None:
        desired[f"{base}/deployer/api_key"] = DesiredParameter(
            type="SecureString", value=config.api_key.get_secret_value()
        )
    if config.allow_downgrade:
        desired[f"{base}/deployer/{ALLOW_DOWNGRADE_KEY}"] = DesiredParameter(
            type="String", value=config.allow_downgrade
        )
    return dict(sorted(desired.items()))


def diff_parameters(desired: Mapping[str, DesiredParameter], current: Mapping[str, DesiredParameter]) -> ParameterDiff:
    """What writing `desired` over `current` adds, changes and (with pruning) removes; secrets masked."""
    added, changed, removed = [], [], []
    unchanged = 0
    for name in sorted(set(desired) | set(current)):
        after, before = desired.get(name), current.get(name)
        if before is None and after is not None:
            added.append(ParameterChange(name=name, after_type=after.type, after=after.shown))
        elif after is None and before is not None:
            removed.append(ParameterChange(name=name, before_type=before.type, before=before.shown))
        elif after is not None and before is not None:
            if (after.type, after.value) == (before.type, before.value):
                unchanged += 1
                continue
            changed.append(
                ParameterChange(
                    name=name, before_type=before.type, after_type=after.type, before=before.shown, after=after.shown
                )
            )
    return ParameterDiff(added=added, changed=changed, removed=removed, unchanged=unchanged)


class WriteResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    written: int = 0
    deleted: int = 0


def write_parameters(
    diff: ParameterDiff,
    desired: Mapping[str, DesiredParameter],
    *,
    ssm: Any,
    prune: bool = False,
    description: str | None = None,
) -> WriteResult:
    """Write only what `diff` adds or changes; delete what it removes when `prune`. A type change re-creates.

    `description` (who wrote it and when, see `runs.change_source`) goes on every parameter written."""
    written = deleted = 0
    described = {"Description": description} if description else {}
    for change in [*diff.added, *diff.changed]:
        parameter = desired[change.name]
        try:
            if change.before_type is not None and change.before_type != parameter.type:
                ssm.delete_parameter(Name=change.name)
            ssm.put_parameter(Name=change.name, Value=parameter.value, Type=parameter.type, Overwrite=True, **described)
        except ClientError as exc:
            raise _aws_error(exc, f"PutParameter {change.name}") from exc
        written += 1
    if prune:
        names = [change.name for change in diff.removed]
        for start in range(0, len(names), 10):
            batch = names[start : start + 10]
            try:
                ssm.delete_parameters(Names=batch)
            except ClientError as exc:
                raise _aws_error(exc, "DeleteParameters") from exc
            deleted += len(batch)
    logger.info("parameters written", written=written, deleted=deleted)
    return WriteResult(written=written, deleted=deleted)


def list_deployments(*, prefix: str, ssm: Any) -> list[str]:
    """The names of every deployment with at least one parameter under `prefix` (values are not decrypted)."""
    found = set()
    for raw in _parameters_by_path(_prefix(prefix), ssm=ssm, decrypt=False):
        try:
            found.add(parse_parameter_name(raw["Name"], prefix).deployment)
        except InvalidDeploymentNameError:
            continue
    return sorted(found)


def deployment_paused(deployment: str, *, prefix: str, ssm: Any) -> bool:
    """`deployer/paused` is `true`: nothing starts a run for the deployment (a missing parameter is not paused)."""
    name = f"{_prefix(prefix)}/{deployment}/deployer/paused"
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return False
        raise _aws_error(exc, "GetParameter deployer/paused") from exc
    return str(value).strip().lower() == "true"


def read_api_key(deployment: str, *, prefix: str, ssm: Any) -> str | None:
    """`deployer/api_key`, decrypted (None when not set): for checking the W&B version, never a run's config."""
    name = f"{_prefix(prefix)}/{deployment}/deployer/api_key"
    try:
        return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise _aws_error(exc, "GetParameter deployer/api_key") from exc
