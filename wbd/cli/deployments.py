"""Which deployment a command is about: a name with parameters under the prefix, or one line naming the known ones."""

from __future__ import annotations

import re

from botocore.exceptions import ClientError

from wandb_deployer.config.model import DEPLOYMENT_NAME_PATTERN
from wandb_deployer.config.parameters import list_deployments
from wandb_deployer.runs.history import list_runs
from wbd.cli.aws import current
from wbd.cli.errors import CliError, ExitCode

_KNOWN_SHOWN = 20


def has_parameters(deployment: str) -> bool:
    context = current()
    pages = context.client("ssm").get_paginator("get_parameters_by_path")
    for page in pages.paginate(Path=f"{context.prefix}/{deployment}", Recursive=True, MaxResults=10):
        if page.get("Parameters"):
            return True
    return False


def has_history(deployment: str) -> bool:
    context = current()
    return bool(
        list_runs(
            deployment=deployment,
            table=context.directory.deployments_table,
            dynamodb=context.client("dynamodb"),
            limit=1,
        )
    )


def not_found(deployment: str) -> CliError:
    context = current()
    try:
        known = list_deployments(prefix=context.prefix, ssm=context.client("ssm"))
    except ClientError:
        known = []
    listed = ", ".join(known[:_KNOWN_SHOWN]) + (" …" if len(known) > _KNOWN_SHOWN else "")
    return CliError(
        f"deployment {deployment!r} not found under {context.prefix} (known: {listed or 'none'})", ExitCode.USAGE
    )


def require_deployment(deployment: str, *, history_ok: bool = False) -> str:
    """`deployment` when it has parameters (or, with `history_ok`, a run history after its parameters were deleted)."""
    if not re.match(DEPLOYMENT_NAME_PATTERN, deployment):
        raise CliError(
            f"deployment {deployment!r}: a name is 2-32 lowercase letters, digits or hyphens, starting with a letter",
            ExitCode.USAGE,
        )
    if has_parameters(deployment) or (history_ok and has_history(deployment)):
        return deployment
    raise not_found(deployment)
