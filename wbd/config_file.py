"""A deployment's desired state as a YAML file: `deployment:`, `deployer:`, `infra:`, `app:`.

The file never holds secrets: the license and the API key go to SSM as SecureStrings (`wbd config push --license-file`).
A file that contains them is refused, without echoing them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.validation import validate_config

FILE_KEYS = ("deployment", "deployer", "infra", "app")
_UNNAMED = "unnamed"
_SECRET_KEYS = (("infra", "license"), ("app", "license"), ("deployer", "api_key"), ("deployer", "license"))


class ConfigFileError(Exception):
    """The file cannot be read or is not a deployment YAML document; the message is one line."""


def read_config_file(path: Path) -> tuple[str, dict[str, dict[str, object]], list[str]]:
    """The file's deployment name, its sections, and the problems found in its shape (secrets, unknown keys).

    Raises ConfigFileError when the file cannot be read or parsed at all.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigFileError(f"{path}: cannot read the file ({exc.__class__.__name__})") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None)
        what = f": {' '.join(str(problem).split())}" if problem else ""
        raise ConfigFileError(f"{path}: not valid YAML{where}{what}") from exc
    if not isinstance(document, Mapping):
        raise ConfigFileError(f"{path}: expected a mapping with keys {', '.join(FILE_KEYS)}")

    problems: list[str] = []
    for key in sorted(str(k) for k in document if k not in FILE_KEYS):
        hint = " (the license is pushed separately: wbd config push --license-file)" if key == "license" else ""
        problems.append(f"{key}: unknown top-level key (known: {', '.join(FILE_KEYS)}){hint}")
    deployment = document.get("deployment")
    if not isinstance(deployment, str) or not deployment:
        problems.append("deployment: missing: name the deployment, for example `deployment: demo`")
        deployment = ""
    sections: dict[str, dict[str, object]] = {}
    for name in ("deployer", "infra", "app"):
        body = document.get(name)
        if body is None:
            continue
        if not isinstance(body, Mapping) or not all(isinstance(k, str) for k in body):
            problems.append(f"{name}: expected a mapping of names to values")
            continue
        sections[name] = dict(body)
    for section, key in _SECRET_KEYS:
        if key in sections.get(section, {}):
            del sections[section][key]
            problems.append(
                f"{section}/{key}: secrets never go in the file; push them as SecureStrings "
                "(wbd config push --license-file PATH / --api-key-file PATH)"
            )
    return deployment, sections, problems


def load_config_file(
    path: Path,
    *,
    deployment: str | None = None,
    license: str | None = None,
    api_key: str | None = None,
) -> DeploymentConfig:
    """The validated config of a YAML file; the license is not required (it lives in SSM) but checked when given.

    Raises ConfigFileError (unreadable file) or InvalidConfigError (every problem, one line each).
    `deployment` overrides the file's `deployment:` name.
    """
    name, sections, problems = read_config_file(path)
    if deployment:
        name = deployment
        problems = [line for line in problems if not line.startswith("deployment:")]
    return validate_config(
        name or _UNNAMED,  # the missing name is already a problem line
        sections,
        license=license,
        api_key=api_key,
        values_are_strings=False,
        require_license=False,
        extra_problems=problems,
    )
