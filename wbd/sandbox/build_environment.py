"""A build's environment variables, with CodeBuild's precedence and secret resolution.

Lowest to highest: the build host basics and the sandbox's variables (emulator endpoint, fake credentials,
CODEBUILD_*, WBD_SANDBOX_*), the buildspec's `env` (variables, parameter-store, secrets-manager), the project's
EnvironmentVariables, then StartBuild's environmentVariablesOverride. PARAMETER_STORE values are read with
decryption and SECRETS_MANAGER values (`secret-id[:json-key]`) are read from the emulator; every resolved secret is
added to `secrets` so that the build log masks it.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from wbd.sandbox.emulator import emulator_client


class SecretResolutionError(Exception):
    """A PARAMETER_STORE / SECRETS_MANAGER reference of a build cannot be resolved (names the reference only)."""


def build_environment(
    base: dict[str, str],
    buildspec_env: dict[str, Any],
    variables: list[dict[str, Any]],
    bin_dir: Path | None,
    secrets: list[str],
) -> dict[str, str]:
    """The complete environment of a build's commands."""
    path_entries = [str(bin_dir)] if bin_dir else []
    path_entries += [str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]
    environment = {
        "PATH": os.pathsep.join(path_entries),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only when the host has no HOME
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        **base,
    }
    environment.update({key: str(value) for key, value in (buildspec_env.get("variables") or {}).items()})
    for key, name in (buildspec_env.get("parameter-store") or {}).items():
        environment[key] = resolve_secret("PARAMETER_STORE", str(name), secrets)
    for key, reference in (buildspec_env.get("secrets-manager") or {}).items():
        environment[key] = resolve_secret("SECRETS_MANAGER", str(reference), secrets)
    for variable in variables:
        kind = variable.get("type", "PLAINTEXT")
        value = str(variable.get("value", ""))
        environment[variable["name"]] = value if kind == "PLAINTEXT" else resolve_secret(kind, value, secrets)
    return environment


def resolve_secret(kind: str, reference: str, secrets: list[str]) -> str:
    """The value behind a PARAMETER_STORE name or SECRETS_MANAGER reference; remembered in `secrets` for masking."""
    try:
        if kind == "PARAMETER_STORE":
            # CodeBuild reads them with ssm:GetParameters (what its service role must be allowed)
            found = emulator_client("ssm").get_parameters(Names=[reference], WithDecryption=True)
            if not found.get("Parameters"):
                raise SecretResolutionError(f"{kind} reference {reference} cannot be resolved: ParameterNotFound")
            value = str(found["Parameters"][0]["Value"])
        elif kind == "SECRETS_MANAGER":
            secret_id, _, json_key = reference.partition(":")
            value = str(emulator_client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
            if json_key.split(":")[0]:
                value = str(json.loads(value)[json_key.split(":")[0]])
        else:
            raise SecretResolutionError(f"unknown environment variable type {kind}")
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "ClientError")
        raise SecretResolutionError(f"{kind} reference {reference} cannot be resolved: {code}") from exc
    except (KeyError, ValueError) as exc:
        raise SecretResolutionError(f"{kind} reference {reference} has no such JSON key") from exc
    secrets.append(value)
    return value
