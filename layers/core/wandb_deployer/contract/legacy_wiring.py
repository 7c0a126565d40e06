"""How the legacy app module (`wandb/wandb/kubernetes`) is wired to the aws module: as the aws module's own example does
it at the same release (`examples/public-dns-external/main.tf`, `module "wandb_app"`, recorded in the contract).

Each argument of the example is one of:
- a reference to the aws module's outputs (`${module.wandb_infra.url}`, `s3://${module.wandb_infra.bucket_name}`): kept
  as written, after checking that the release exports every output it names and the app release has the input;
- the license (`${var.wandb_license}`): our sensitive `var.license`, which CodeBuild provides from Parameter Store;
- a user input passed through (`${var.wandb_version}`): left to the operator's `app/<input>`;
- a merge of a module-made value with a user input (`other_wandb_env` from 3.4.0: W&B's secret store location, named
  after the namespace, merged with the user's map): kept, with the user's part as `var.app_<input>`.
Two arguments differ from the example on purpose, each for a reason a test states:
- `bucket_queue`: the example hard-codes `internal://` (it sets `use_internal_queue = true`) or `sqs://<queue>`; we
  pass the queue the module made when it made one (`use_internal_queue = false`), else `internal://`;
- `redis_connection_string`: the example's template with a null check: the output is null when `create_elasticache`
  is false, and Terraform refuses a null inside a string template.
The expressions come from the module's repository (the contract), never from a user value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from wandb_deployer.contract import ReleaseInterface

AWS_MODULE_NAME = "wandb_infra"
LICENSE_VARIABLE = "license"
APP_VARIABLE_PREFIX = "app_"
EXAMPLE_LICENSE_VARIABLE = "wandb_license"
MODULE_ARGUMENTS = frozenset({"source", "version", "providers", "count", "for_each", "depends_on"})

# `sqs://<queue name>` when the module created a queue, else W&B's internal queue.
BUCKET_QUEUE_EXPRESSION = (
    "${try(length(module.wandb_infra.bucket_queue_name) > 0, false) ? "
    '"sqs://${module.wandb_infra.bucket_queue_name}" : "internal://"}'
)
REDIS_INPUT = "redis_connection_string"
REDIS_OUTPUT = "elasticache_connection_string"

_OUTPUT_REFERENCE = re.compile(r"module\.wandb_infra\.([a-z_][a-z0-9_]*)")
_VARIABLE_REFERENCE = re.compile(r"\bvar\.([a-z_][a-z0-9_]*)")
_PASS_THROUGH = re.compile(r"^\$\{var\.([a-z_][a-z0-9_]*)\}$")
# Variables of the example that are root inputs of the aws module in our workspace too (same name, same value).
_SHARED_ROOT_VARIABLES = frozenset({"namespace"})


class LegacyWiringError(ValueError):
    """The example's wiring cannot be reproduced for this pair of releases (an input or an output is missing)."""


@dataclass(frozen=True)
class AppWiring:
    """The app module's arguments the deployer sets, and what the operator may still set under `app/`."""

    arguments: dict[str, Any]  # input -> JSON-syntax expression, rendered into main.tf.json as is
    outputs: frozenset[str]  # aws module outputs the arguments read
    user_inputs: frozenset[str] = field(default_factory=frozenset)  # the example passes these from user variables
    merged_inputs: dict[str, Any] = field(default_factory=dict)  # input -> the app module's default (user map merged)
    problems: tuple[str, ...] = ()  # why the pair cannot be wired as the example does

    @property
    def wired_inputs(self) -> frozenset[str]:
        """Inputs the operator must not set (the deployer does)."""
        return frozenset(self.arguments) - frozenset(self.merged_inputs)


def _references(value: Any, pattern: re.Pattern[str]) -> set[str]:
    if isinstance(value, str):
        return set(pattern.findall(value))
    if isinstance(value, list):
        return set().union(*(_references(item, pattern) for item in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(_references(item, pattern) for item in value.values())) if value else set()
    return set()


def _redis(template: str) -> str:
    """`redis://${module.wandb_infra.elasticache_connection_string}?...` -> the same, or "" when the output is null."""
    if '"' in template:
        raise LegacyWiringError(f"{REDIS_INPUT}: unexpected quote in the example's template")
    output = f"module.{AWS_MODULE_NAME}.{REDIS_OUTPUT}"
    return "${" + output + ' == null ? "" : "' + template + '"}'


def _user_part(expression: str, name: str) -> str:
    """`var.<name>` (the example's user variable) -> `var.app_<name>` (ours)."""
    return re.sub(rf"\bvar\.{name}\b", f"var.{APP_VARIABLE_PREFIX}{name}", expression)


def app_wiring(aws: ReleaseInterface, app: ReleaseInterface, *, user_app_inputs: frozenset[str]) -> AppWiring:
    """The wiring of the app module at `app` to the aws module at `aws`, as the aws release's example does it.

    `user_app_inputs`: the app inputs the operator set (for merged inputs: the user's part, else the module default).
    """
    example = aws.example_app_wiring
    if example is None:
        return AppWiring(
            arguments={},
            outputs=frozenset(),
            problems=(f"{aws.module} {aws.version} has no legacy app wiring example (it is not a legacy release)",),
        )
    arguments: dict[str, Any] = {}
    outputs: set[str] = set()
    user_inputs: set[str] = set()
    merged: dict[str, Any] = {}
    problems: list[str] = []
    for name, value in sorted(example.items()):
        if name in MODULE_ARGUMENTS:
            continue
        variables = _references(value, _VARIABLE_REFERENCE)
        passed = _PASS_THROUGH.fullmatch(value) if isinstance(value, str) else None
        if passed and passed.group(1) == EXAMPLE_LICENSE_VARIABLE:
            expression: Any = "${var." + LICENSE_VARIABLE + "}"
        elif passed:
            user_inputs.add(name)
            continue
        elif name == "bucket_queue":
            expression = BUCKET_QUEUE_EXPRESSION
        elif name == REDIS_INPUT and isinstance(value, str):
            expression = _redis(value)
        elif variables:
            unknown = variables - _SHARED_ROOT_VARIABLES - {name}
            if unknown or not isinstance(value, str):
                problems.append(f"app/{name}: the example's wiring reads {sorted(unknown)}, which the deployer lacks")
                continue
            expression = _user_part(value, name)
            if name in variables:
                spec = app.get(name)
                merged[name] = spec.default if spec is not None else None
        else:
            expression = value
        if name not in app:
            problems.append(
                f"{app.module} {app.version} has no input {name}, which {aws.module} {aws.version} passes to W&B "
                f"(its example's wiring)"
            )
            continue
        read = _references(expression, _OUTPUT_REFERENCE)
        missing = sorted(output for output in read if not aws.has_output(output))
        if missing:
            problems.append(f"{aws.module} {aws.version} has no output {', '.join(missing)} (needed for app/{name})")
            continue
        outputs |= read
        arguments[name] = expression
    for required in app.required():
        if required.name not in arguments and required.name not in user_app_inputs:
            problems.append(f"{app.module} {app.version} requires {required.name}, which the example's wiring lacks")
    return AppWiring(
        arguments=arguments,
        outputs=frozenset(outputs),
        user_inputs=frozenset(user_inputs),
        merged_inputs=merged,
        problems=tuple(problems),
    )
