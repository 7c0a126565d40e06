"""Validate one deployment's desired state against the W&B modules' contract (the exact release in use) and the
deployer's rules.

Both sources (SSM parameters, a YAML file) end here, so they give the same `DeploymentConfig` and the same problems.
Every problem is one line `<section>/<key>: <what is wrong>`, and all of them are reported at once. The license and the
API key are checked for presence and shape only: no problem line ever contains them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr, ValidationError

from wandb_deployer.config import domain_rules, module_rules
from wandb_deployer.config.model import (
    DEFAULT_APP_MODULE_VERSION,
    DEFAULT_MODULE_VERSION,
    DEPLOYMENT_NAME_PATTERN,
    DeployerSettings,
    DeploymentConfig,
    Generation,
)
from wandb_deployer.config.terraform_types import TypeProblem, coerce_value
from wandb_deployer.contract import APP_MODULE, AWS_MODULE, ReleaseInterface, contract_for
from wandb_deployer.errors import InvalidConfigError

SECTIONS = ("infra", "app", "deployer")

# Without a known pair of releases (a version that is not a release), these are the legacy app inputs the deployer
# wires in every release's example; with one, the example's wiring at that release decides (`module_rules`).
WIRED_APP_INPUTS = frozenset(
    {
        "bucket",
        "bucket_queue",
        "database_connection_string",
        "host",
        "bucket_aws_region",
        "bucket_kms_key_arn",
        "license",
    }
)
WIRED_INFRA_INPUTS = frozenset({"license"})

# A compact JWS: three base64url parts separated by dots (header.payload.signature).
_COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")
_API_KEY = re.compile(r"^[\x21-\x7e]{8,256}$")
_SEMVER = re.compile(r"\d+\.\d+\.\d+")
_MASK = "********"

# Advice for names users bring from elsewhere (W&B's docs snippet, the other module); the lifetimes come from the data.
_ADVICE = {
    "create_elasticache_subnet": "the W&B docs' snippet uses it by mistake; the input is create_elasticache",
    "wandb_version": (
        "in the operator generation the W&B version comes from W&B's release channel unless pinned in the W&B "
        "System Console"
    ),
    "license": (
        "in the legacy generation the license belongs to the kubernetes app module (the SecureString app/license)"
    ),
}

_MISSING_NOTES = {
    "kubernetes_legacy_cluster_creator_admin": (
        "required from wandb/wandb/aws 8.0.0: true when upgrading an existing 7.x install (keeps the cluster "
        "creator's admin access), false for a fresh install"
    ),
}


class _Problems:
    """Collects problem lines; `add` formats `<section>/<key>: <what>`."""

    def __init__(self, initial: Iterable[str]) -> None:
        self.lines: list[str] = list(initial)

    def add(self, section: str, key: str, what: str) -> None:
        what = " ".join(what.split())  # one line per problem, whatever a message contains
        self.lines.append(f"{section}/{key}: {what}" if key else f"{section}: {what}")


def _deployer_settings(raw: Mapping[str, object], problems: _Problems) -> DeployerSettings | None:
    raw = dict(raw)
    if "api_key" in raw:
        raw.pop("api_key")
        problems.add("deployer", "api_key", "is a secret: store it as the SecureString parameter deployer/api_key")
    try:
        return DeployerSettings.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            key = ".".join(str(part) for part in error["loc"]) or "deployer"
            if error["type"] == "extra_forbidden":
                known = list(DeployerSettings.model_fields)
                guess = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f" (did you mean {guess[0]}?)" if guess else f" (known: {', '.join(known)})"
                problems.add("deployer", key, "unknown setting" + hint)
            else:
                problems.add("deployer", key, str(error["msg"]).removeprefix("Value error, "))
        return None


def _best_guess(raw: Mapping[str, object], field: str, fallback: str) -> str:
    value = raw.get(field)
    return value if isinstance(value, str) and _SEMVER.fullmatch(value) else fallback


def _default(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _short(description: str) -> str:
    """A variable description short enough to append to a problem line (long or multi-line ones are left out)."""
    text = description.strip()
    return f" ({text.rstrip('.')})" if text and "\n" not in text and len(text) <= 100 else ""


def _unknown_input(release: ReleaseInterface, key: str) -> str:
    """Why `key` is not an input of this release: the releases that have it, the other module, or a "did you mean"."""
    contract = contract_for(release.module)
    here = f"not an input of {release.module} {release.version}"
    advice = f"; {_ADVICE[key]}" if key in _ADVICE else ""
    if contract.lifetime(key):
        return f"{here}: {contract.describe_lifetime(key)}{advice}"
    other = contract_for(APP_MODULE if release.module == AWS_MODULE else AWS_MODULE)
    if other.lifetime(key):
        section = "app" if other.module == APP_MODULE else "infra"
        return f"{here}: an input of {other.module} only ({section}/{key}: {other.describe_lifetime(key)}){advice}"
    guess = release.suggest(key)
    if key in _ADVICE:
        return f"{here}: {contract.describe_lifetime(key)}{advice}"
    hint = f" (did you mean {guess}?)" if guess else ""
    return f"unknown input of {release.module} {release.version}{hint}"


def _section_inputs(
    section: str,
    raw: Mapping[str, object],
    release: ReleaseInterface | None,
    *,
    wired: frozenset[str],
    license_section: str,
    values_are_strings: bool,
    p: _Problems,
) -> dict[str, Any]:
    """Type-checked (and for SSM, coerced) inputs of one section; problems for everything else.

    Without a release (its version is not one; that problem is reported), only what needs no release is checked."""
    values: dict[str, Any] = {}
    for key in sorted(raw):
        value = raw[key]
        if key == "license":
            where = f"store it as the SecureString parameter {license_section}/license, never as a config value"
            if release is not None and key not in release:
                p.add(section, key, f"{_unknown_input(release, key)}; {where}")
            else:
                p.add(section, key, f"the license is a secret: {where}")
            continue
        if key in wired:
            p.add(section, key, f"is wired by the deployer from the {AWS_MODULE} outputs; remove it")
            continue
        if release is None:
            continue
        spec = release.get(key)
        if spec is None:
            p.add(section, key, _unknown_input(release, key))
            continue
        if spec.required and value is None:
            p.add(section, key, f"has no value; {release.module} {release.version} requires it (it has no default)")
            continue
        if not spec.required and (value is None or value == ""):
            # A required input has no default to fall back on: there "" is a value the module decides about
            # (1.16.9-1.16.10 read database_performance_insights_kms_key_arn = "" as "use the module's key").
            p.add(section, key, f"has no value; omit it to use the module's default ({_default(spec.default)})")
            continue
        try:
            coerced = coerce_value(spec.type, value, from_string=values_are_strings)
        except TypeProblem as exc:
            p.add(section, key, str(exc))
            continue
        found = domain_rules.value_problems(key, coerced) if section == "infra" else []
        for problem in found:
            p.add(section, key, problem)
        if not found:
            values[key] = coerced
    if release is None:
        return values
    for spec in release.required():
        if spec.name not in raw and spec.name not in wired:
            note = _MISSING_NOTES.get(spec.name) or f"required by {release.module} {release.version}"
            p.add(section, spec.name, f"missing: {note}" + _short(spec.description))
    return values


def _secret_problems(
    license_value: str | None,
    api_key: str | None,
    *,
    license_section: str,
    require_license: bool,
    p: _Problems,
) -> None:
    if license_value is None or license_value == "":
        if require_license:
            p.add(license_section, "license", "missing: store the W&B license as a SecureString parameter")
    elif not _COMPACT_JWS.fullmatch(license_value):
        parts = license_value.count(".") + 1
        p.add(
            license_section,
            "license",
            "is not a W&B license: expected a compact JWS, three base64url parts separated by dots "
            f"(found {parts} part(s) or characters outside base64url)",
        )
    if api_key is not None and not _API_KEY.fullmatch(api_key):
        p.add("deployer", "api_key", "is not an API key: expected 8-256 printable characters without spaces")


def _scrub(lines: list[str], secrets: Iterable[str | None]) -> list[str]:
    """Defence in depth: mask any secret that reached a problem line through a user value."""
    cleaned = lines
    for secret in secrets:
        if secret and len(secret) >= 4:
            cleaned = [line.replace(secret, _MASK) for line in cleaned]
    return cleaned


def validate_config(
    deployment: str,
    sections: Mapping[str, Mapping[str, object]],
    *,
    license: str | None,
    api_key: str | None = None,
    values_are_strings: bool,
    require_license: bool = True,
    extra_problems: Iterable[str] = (),
    secret_values: Iterable[str] = (),
) -> DeploymentConfig:
    """The validated `DeploymentConfig`, or `InvalidConfigError(deployment, problems)` with every problem at once.

    `values_are_strings`: True for SSM (values are coerced to the variable's type), False for YAML (typed values,
    checked).
    `require_license`: whether a missing license is a problem (a file's license is pushed separately; SSM checks its
    presence without reading it). `extra_problems` are lines a source found itself (a SecureString stored as String,
    a parameter outside the layout) and reports together; `secret_values` are masked in every problem line.
    """
    p = _Problems(extra_problems)
    if not isinstance(deployment, str) or not re.fullmatch(DEPLOYMENT_NAME_PATTERN, deployment):
        p.add(
            "deployment",
            "",
            f"{deployment!r} must be 2-32 lowercase letters, digits or hyphens, starting with a letter",
        )
    for name in sorted(set(sections) - set(SECTIONS)):
        p.add(name, "", f"unknown section (known: {', '.join(SECTIONS)})")

    raw_deployer = sections.get("deployer", {})
    settings = _deployer_settings(raw_deployer, p)
    if settings is not None:
        generation: Generation = settings.generation
        module_version, app_module_version = settings.module_version, settings.app_module_version
        terraform_version = settings.terraform_version
    else:
        generation = "legacy" if raw_deployer.get("generation") == "legacy" else "operator"
        module_version = _best_guess(raw_deployer, "module_version", DEFAULT_MODULE_VERSION[generation])
        app_module_version = _best_guess(raw_deployer, "app_module_version", DEFAULT_APP_MODULE_VERSION)
        terraform_version = ""  # its problem, if any, is already reported
    releases = module_rules.releases_in_use(generation, module_version, app_module_version, p.add)
    module_rules.terraform_problems(terraform_version, (releases.aws, releases.app), p.add)
    module_rules.provider_problems((releases.aws, releases.app), p.add)
    license_section = "app" if generation == "legacy" else "infra"

    raw_infra = sections.get("infra", {})
    infra = _section_inputs(
        "infra",
        raw_infra,
        releases.aws,
        wired=WIRED_INFRA_INPUTS,
        license_section=license_section,
        values_are_strings=values_are_strings,
        p=p,
    )
    for key, problem in domain_rules.infra_cross_problems(infra):
        p.add("infra", key, problem)

    raw_app = sections.get("app", {})
    app: dict[str, Any] = {}
    if generation == "legacy":
        wiring = module_rules.legacy_wiring(releases, raw_app, {**raw_infra, **infra}, p.add)
        app = _section_inputs(
            "app",
            raw_app,
            releases.app,
            wired=wiring.wired_inputs | {"license"} if wiring is not None else WIRED_APP_INPUTS,
            license_section=license_section,
            values_are_strings=values_are_strings,
            p=p,
        )
    else:
        for key in sorted(raw_app):
            if key == "license":
                p.add("app", key, "the operator generation reads the license from the SecureString infra/license")
            else:
                p.add("app", key, "the app section is for the legacy generation only (the operator deploys W&B itself)")

    _secret_problems(license, api_key, license_section=license_section, require_license=require_license, p=p)
    if p.lines:
        raise InvalidConfigError(deployment, _scrub(p.lines, (license, api_key, *secret_values)))
    assert settings is not None  # no problems means the deployer section validated
    return DeploymentConfig(
        deployment=deployment,
        deployer=settings,
        infra=infra,
        app=app,
        license=SecretStr(license) if license else None,
        api_key=SecretStr(api_key) if api_key else None,
    )
