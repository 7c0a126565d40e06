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
from wandb_deployer.upgrade.guards import ParameterWrite, UpgradePlan, UpgradeRequest, evaluate_upgrade
from wandb_deployer.upgrade.runbook_execution import start_runbook
from wandb_deployer.upgrade.runbook_record import read_runbook
from wandb_deployer.upgrade.runbooks import Runbook, runbook_for

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
    runbook: Runbook | None = None
    try:
        request = parse_upgrade_request(detail)
        current = _current_config(request.deployment, load_config)
        if table and dynamodb is not None:
            _refuse_during_runbook(request.deployment, table=table, dynamodb=dynamodb)
            runbook = runbook_for(request, current)
        plan = _runbook_plan(request, runbook) if runbook else evaluate_upgrade(request, current)
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
    if runbook is not None and table and dynamodb is not None:
        start_runbook(
            runbook,
            requested_by=request.requested_by,
            request_id=request.request_id,
            prefix=prefix,
            ssm=ssm,
            table=table,
            dynamodb=dynamodb,
        )
        written = [f"{prefix}/{plan.deployment}/{change.name}" for change in runbook.steps[0].changes]
    else:
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
            **({"runbook": runbook_outline(runbook)} if runbook else {}),
        },
        sns=sns,
        events=events,
        topic_arn=topic_arn,
        bus_name=bus_name,
    )
    return plan


def _refuse_during_runbook(deployment: str, *, table: str, dynamodb: Any) -> None:
    running = read_runbook(deployment=deployment, table=table, dynamodb=dynamodb)
    if running is not None and running.status == "running":
        raise UpgradeRejectedError(
            deployment,
            [
                f"runbook {running.runbook.transition} is running ({running.position()}): wait for it to finish, "
                f"or abort it (wbd runbook {deployment} --abort)"
            ],
        )


def _runbook_plan(request: UpgradeRequest, runbook: Runbook) -> UpgradePlan:
    """The accepted answer of a request that starts a runbook: the first step's writes, and the runbook in notes."""
    first = runbook.steps[0]
    return UpgradePlan(
        deployment=runbook.deployment,
        requested_by=request.requested_by,
        forced=request.force,
        writes=[ParameterWrite(name=c.name, value=c.value) for c in first.changes if c.value is not None],
        notes=[
            *runbook.notes,
            f"runbook {runbook.transition} ({runbook.guide}): {len(runbook.steps)} steps, each a run approved by a "
            f"human: " + "; ".join(f"{i}. {step.title}" for i, step in enumerate(runbook.steps, 1)),
            *(f"step 1 {change.describe()}" for change in first.changes if change.value is None),
        ],
    )


def runbook_outline(runbook: Runbook) -> dict[str, object]:
    """What a notification says about a runbook: its transition and its steps' names and titles."""
    return {
        "transition": runbook.transition,
        "guide": runbook.guide,
        "steps": [{"name": step.name, "title": step.title} for step in runbook.steps],
    }


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
