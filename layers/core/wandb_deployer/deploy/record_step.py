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


def record_and_notify(request: RecordRunInput, settings: Settings) -> None:
    record_run_event(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        outcome=request.outcome,
        trigger=request.trigger,
        fingerprint=request.fingerprint,
        error=request.error,
        cause=request.cause,
        details=(
            {"plan_sha256": request.plan_sha256, "counts": request.counts.model_dump()} if request.counts else None
        ),
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
        },
        sns=client("sns"),
        events=client("events"),
        topic_arn=settings.notifications_topic_arn,
        bus_name=settings.event_bus_name,
    )
