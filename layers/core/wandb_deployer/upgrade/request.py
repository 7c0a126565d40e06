"""The life of an upgrade request: parse the event detail, run the guards, write SSM, notify the outcome.

An accepted upgrade only writes parameters (SSM is the single source of truth); the parameter-change trigger starts the
run, and the settle wait of that run coalesces the writes into one deployment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import ValidationError

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import read_parameters
from wandb_deployer.errors import InvalidConfigError, UnknownDeploymentError, UpgradeRejectedError
from wandb_deployer.runs import aws_failure, scrub_secrets
from wandb_deployer.runs.change_source import describe_change, note_writes
from wandb_deployer.runs.notify import notify
from wandb_deployer.upgrade.guards import UpgradePlan, UpgradeRequest, evaluate_upgrade

logger = Logger(child=True)

_DESCRIPTION_LIMIT = 1024


def parse_upgrade_request(detail: Mapping[str, object]) -> UpgradeRequest:
    """The request in an event detail; raises UpgradeRejectedError naming every invalid field (never echoing values)."""
    try:
        return UpgradeRequest.model_validate(dict(detail))
    except ValidationError as exc:
        reasons = []
        for problem in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in problem["loc"]) or "request"
            reasons.append(f"{where}: {problem['msg']}")
        raise UpgradeRejectedError(_named_deployment(detail), reasons) from exc


def _named_deployment(detail: Mapping[str, object]) -> str:
    return str(scrub_secrets(str(detail.get("deployment") or "unknown"), limit=64))


def apply_upgrade(
    plan: UpgradePlan, *, prefix: str, ssm: Any, table: str | None = None, dynamodb: Any = None
) -> list[str]:
    """Write the plan's parameters (Overwrite), in the plan's order; returns the full parameter names written.

    With the deployments table, first notes the versions these writes create, so the runs they start say `upgrade`."""
    description = str(scrub_secrets(describe_change("upgrade", plan.requested_by), limit=_DESCRIPTION_LIMIT))
    if table and dynamodb is not None and plan.writes:
        current = read_parameters(plan.deployment, prefix=prefix, ssm=ssm, decrypt=False)
        versions = {}
        for write in plan.writes:
            name = f"{prefix}/{plan.deployment}/{write.name}"
            before = current.get(name)
            versions[name] = before.version + 1 if before is not None and before.version is not None else 1
        note_writes(
            deployment=plan.deployment,
            source="upgrade",
            by=plan.requested_by,
            versions=versions,
            table=table,
            dynamodb=dynamodb,
        )
    written: list[str] = []
    for write in plan.writes:
        name = f"{prefix}/{plan.deployment}/{write.name}"
        try:
            ssm.put_parameter(Name=name, Value=write.value, Type="String", Overwrite=True, Description=description)
        except ClientError as exc:
            raise aws_failure(exc, operation="PutParameter upgrade") from exc
        written.append(name)
    logger.info("upgrade written", deployment=plan.deployment, parameters=written)
    return written


def process_upgrade_request(
    detail: Mapping[str, object],
    *,
    load_config: Callable[[str], DeploymentConfig],
    prefix: str,
    ssm: Any,
    sns: Any,
    events: Any,
    topic_arn: str,
    bus_name: str,
    table: str | None = None,
    dynamodb: Any = None,
) -> UpgradePlan:
    """Handle one `Upgrade Requested` detail end to end; notifies `Upgrade Accepted` or `Upgrade Rejected`.

    Raises UpgradeRejectedError after notifying a rejection (nothing is written then).
    """
    try:
        request = parse_upgrade_request(detail)
        plan = evaluate_upgrade(request, _current_config(request.deployment, load_config))
    except UpgradeRejectedError as exc:
        logger.warning("upgrade rejected", deployment=exc.deployment, reasons=exc.reasons)
        notify(
            event="Upgrade Rejected",
            deployment=exc.deployment,
            detail={"reasons": exc.reasons, "request": _requested_fields(detail)},
            sns=sns,
            events=events,
            topic_arn=topic_arn,
            bus_name=bus_name,
        )
        raise
    written = apply_upgrade(plan, prefix=prefix, ssm=ssm, table=table, dynamodb=dynamodb)
    notify(
        event="Upgrade Accepted",
        deployment=plan.deployment,
        detail={
            "requested_by": plan.requested_by,
            "forced": plan.forced,
            "parameters": written,
            "changes": [write.model_dump() for write in plan.writes],
            "notes": plan.notes,
        },
        sns=sns,
        events=events,
        topic_arn=topic_arn,
        bus_name=bus_name,
    )
    return plan


def _current_config(deployment: str, load_config: Callable[[str], DeploymentConfig]) -> DeploymentConfig:
    try:
        return load_config(deployment)
    except UnknownDeploymentError as exc:
        raise UpgradeRejectedError(deployment, [f"deployment {deployment!r} does not exist"]) from exc
    except InvalidConfigError as exc:
        reasons = [f"the current config is invalid; fix it before upgrading: {problem}" for problem in exc.problems]
        raise UpgradeRejectedError(deployment, reasons) from exc


_REQUEST_FIELDS = (
    "deployment",
    "module_version",
    "eks_cluster_version",
    "terraform_version",
    "wandb_version",
    "force",
    "requested_by",
    "request_id",
)


def _requested_fields(detail: Mapping[str, object]) -> dict[str, object]:
    """The known fields of the request, for the rejection notice (scrubbed again by notify)."""
    return {key: scrub_secrets(detail[key], limit=128) for key in _REQUEST_FIELDS if key in detail}
