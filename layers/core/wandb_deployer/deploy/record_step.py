"""Record a run event in the history and tell people about it (SNS + EventBridge)."""

from __future__ import annotations

from typing import Literal

from wandb_deployer.aws_clients import client
from wandb_deployer.runs.history import record_run_event
from wandb_deployer.runs.notify import notify
from wandb_deployer.settings import Settings
from wandb_deployer.states import RecordRunInput

NotificationEvent = Literal["Run Started", "Run Succeeded", "Run Failed", "Run Rejected", "Run Unchanged"]

_EVENT_BY_OUTCOME: dict[str, NotificationEvent] = {
    "started": "Run Started",
    "succeeded": "Run Succeeded",
    "failed": "Run Failed",
    "rejected": "Run Rejected",
    "no-changes": "Run Unchanged",
}


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


def record_and_notify(request: RecordRunInput, settings: Settings) -> None:
    warnings = run_warnings(request)
    record_run_event(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        outcome=request.outcome,
        trigger=request.trigger,
        fingerprint=request.fingerprint,
        error=request.error,
        cause=request.cause,
        details=_details(request, warnings),
        started_at=request.started_at,
        table=settings.deployments_table,
        dynamodb=client("dynamodb"),
    )
    event = _EVENT_BY_OUTCOME.get(request.outcome)
    if event is None:
        return
    notify(
        event=event,
        deployment=request.deployment,
        detail={
            "execution_arn": request.execution_arn,
            "outcome": request.outcome,
            "trigger": request.trigger,
            "fingerprint": request.fingerprint,
            "error": request.error,
            "cause": request.cause,
            "plan_sha256": request.plan_sha256,
            "counts": request.counts.model_dump() if request.counts else None,
            **({"warnings": warnings} if warnings else {}),
        },
        sns=client("sns"),
        events=client("events"),
        topic_arn=settings.notifications_topic_arn,
        bus_name=settings.event_bus_name,
    )
