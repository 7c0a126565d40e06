"""Record a run event in the history and tell people about it (SNS + EventBridge).

At the end of a run the record says why it ended (one line), what its plan changed, how it was approved, what
verification checked and found, and how long each step took. An approval gate that expired is recorded as
`timed-out` with its deadline: the ASL catches the rejection and the timeout on one path, the error tells them apart.
"""

from __future__ import annotations

from typing import Literal

from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.unhealthy import rollback_offer, unhealthy_after_apply
from wandb_deployer.errors import AwsRequestFailedError
from wandb_deployer.runs import iso, utc_now
from wandb_deployer.runs.details import (
    failure_reason,
    plan_details,
    step_details,
    terraform_failure,
    verification_details,
)
from wandb_deployer.runs.history import TERMINAL_OUTCOMES, RunOutcome, read_run, record_run_event
from wandb_deployer.runs.notify import notify
from wandb_deployer.settings import Settings
from wandb_deployer.states import RecordRunInput
from wandb_deployer.upgrade.runbook_execution import finish_step, runs_current_step
from wandb_deployer.upgrade.runbook_record import read_runbook

NotificationEvent = Literal["Run Started", "Run Succeeded", "Run Failed", "Run Rejected", "Run Unchanged"]

_EVENT_BY_OUTCOME: dict[str, NotificationEvent] = {
    "started": "Run Started",
    "succeeded": "Run Succeeded",
    "failed": "Run Failed",
    "rejected": "Run Rejected",
    "timed-out": "Run Rejected",
    "no-changes": "Run Unchanged",
}
APPROVAL_TIMEOUT_ERRORS = frozenset({"States.Timeout", "States.HeartbeatTimeout"})


def run_outcome(request: RecordRunInput) -> RunOutcome:
    """`timed-out` for a rejection that is the approval gate's timeout; the requested outcome otherwise."""
    if request.outcome == "rejected" and request.error in APPROVAL_TIMEOUT_ERRORS:
        return "timed-out"
    return request.outcome


def _end_details(request: RecordRunInput, outcome: RunOutcome, settings: Settings) -> dict[str, object]:
    """The details only the end of a run knows (see the module docstring)."""
    context, s3 = request.context, client("s3")
    details: dict[str, object] = {}
    plan = context.planned
    if plan is not None:
        details["plan"] = plan_details(plan, s3=s3)
    approved = context.approved_plan
    loaded = context.loaded
    if approved is not None and approved.approved_by == "policy":
        policy = loaded.approval if loaded is not None else "policy"
        details["approval"] = {"decision": "not needed", "by": f"policy ({policy})", "plan_sha256": approved.sha256}
    if outcome == "timed-out":
        record = read_run(
            deployment=request.deployment,
            execution_arn=request.execution_arn,
            table=settings.deployments_table,
            dynamodb=client("dynamodb"),
            started_at=request.started_at,
        )
        gate = (record.details.get("gate") if record else None) or {}
        details["approval"] = {
            "decision": "timed-out",
            "deadline": gate.get("deadline"),
            "plan_sha256": gate.get("plan_sha256"),
            "at": iso(utc_now()),
        }
    verification = verification_details(context, bucket=settings.artifacts_bucket, s3=s3)
    if verification:
        details["verification"] = verification
    try:
        details["steps"] = step_details(request.execution_arn, sfn=client("stepfunctions"))
    except AwsRequestFailedError as exc:  # the history cannot be read (access, no such execution): the record stays
        details["steps_unavailable"] = str(exc)
    return details


def _reason(request: RecordRunInput, outcome: RunOutcome, settings: Settings) -> str | None:
    if outcome == "timed-out":
        return "the approval gate expired: nobody approved or rejected the plan before its deadline"
    reason = failure_reason(request.error, request.cause)
    loaded = request.context.loaded
    if reason and reason.startswith("CodeBuild build") and loaded is not None:
        # The runner's own account of the failure (Terraform's error, secrets masked) says more than the build status.
        reason = terraform_failure(bucket=settings.artifacts_bucket, run_prefix=loaded.run_prefix, s3=client("s3")) or (
            reason
        )
    return reason


def run_warnings(request: RecordRunInput) -> list[str]:
    """What the run warns about: its config warnings, then its verification warnings as `CODE: message`."""
    found = [f"{f.code}: {f.message}" for f in request.findings if f.severity == "warning"]
    return [*request.warnings, *found]


def _details(request: RecordRunInput, warnings: list[str]) -> dict[str, object] | None:
    details: dict[str, object] = {}
    if request.counts:
        details.update({"plan_sha256": request.plan_sha256, "counts": request.counts.model_dump()})
    if warnings:
        details["warnings"] = warnings
    return details or None


def _rollback_offer(request: RecordRunInput, outcome: RunOutcome, settings: Settings) -> dict[str, object] | None:
    """For a run whose apply left W&B unhealthy: the command that rolls back to the last succeeded run, and whether
    the deployer starts it itself (deployer/on_unhealthy) when the run ends."""
    loaded = request.context.loaded
    if outcome != "failed" or loaded is None or not unhealthy_after_apply(request.context):
        return None
    table = settings.deployments_table
    command = rollback_offer(deployment=request.deployment, table=table, dynamodb=client("dynamodb"))
    return {"command": command, "on_unhealthy": loaded.on_unhealthy} if command else None


def record_and_notify(request: RecordRunInput, settings: Settings) -> None:
    warnings = run_warnings(request)
    outcome = run_outcome(request)
    details: dict[str, object] = _details(request, warnings) or {}
    if outcome in TERMINAL_OUTCOMES:
        details.update(_end_details(request, outcome, settings))
    loaded = request.context.loaded
    fingerprint = request.fingerprint or (loaded.fingerprint if loaded is not None else None)
    reason = _reason(request, outcome, settings) if request.error else None
    offer = _rollback_offer(request, outcome, settings)
    if offer:
        details["rollback"] = offer
    record_run_event(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        outcome=outcome,
        trigger=request.trigger,
        fingerprint=fingerprint,
        error=request.error,
        cause=request.cause,
        reason=reason,
        details=details or None,
        started_at=request.started_at,
        table=settings.deployments_table,
        dynamodb=client("dynamodb"),
    )
    runbook = _runbook_progress(request, outcome, reason, settings) if outcome in TERMINAL_OUTCOMES else None
    event = _EVENT_BY_OUTCOME.get(outcome)
    if event is None:
        return
    notify(
        event=event,
        deployment=request.deployment,
        detail={
            "execution_arn": request.execution_arn,
            "outcome": outcome,
            "trigger": request.trigger,
            "fingerprint": fingerprint,
            "error": request.error,
            "reason": reason,
            "cause": request.cause,
            "plan_sha256": request.plan_sha256,
            "counts": request.counts.model_dump() if request.counts else None,
            **({"warnings": warnings} if warnings else {}),
            **({"runbook": runbook} if runbook else {}),
            **({"rollback_command": offer["command"], "on_unhealthy": offer["on_unhealthy"]} if offer else {}),
        },
        sns=client("sns"),
        events=client("events"),
        topic_arn=settings.notifications_topic_arn,
        bus_name=settings.event_bus_name,
    )


def _runbook_progress(
    request: RecordRunInput, outcome: RunOutcome, reason: str | None, settings: Settings
) -> dict[str, object] | None:
    """The end of a runbook step's run moves the runbook on (the next step's changes are written) or stops it; what
    the notification says about it. None when the run is no runbook's step."""
    table, dynamodb = settings.deployments_table, client("dynamodb")
    state = read_runbook(deployment=request.deployment, table=table, dynamodb=dynamodb)
    if state is None:
        return None
    step = {"transition": state.runbook.transition, "step": state.position(), "title": state.step.title}
    if state.status == "stopped" and state.record.execution_arn == request.execution_arn:
        return {**step, "runbook_status": "stopped", "stopped": state.reason}  # stopped by this run's plan step
    if not runs_current_step(state, request.started_at):
        return None
    after = finish_step(
        state,
        outcome=outcome,
        execution_arn=request.execution_arn,
        reason=reason,
        prefix=settings.parameter_prefix,
        ssm=client("ssm"),
        table=table,
        dynamodb=dynamodb,
    )
    following = after.position() if after.status == "running" else None
    return {**step, "runbook_status": after.status, **({"next": following} if following else {})}
