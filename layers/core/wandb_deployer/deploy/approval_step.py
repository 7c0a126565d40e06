"""The approval gate: bind the task token to the plan's sha256, then ask a human."""

from __future__ import annotations

from wandb_deployer.aws_clients import client
from wandb_deployer.runs.approval import store_pending_approval
from wandb_deployer.runs.history import record_run_event
from wandb_deployer.runs.notify import notify
from wandb_deployer.settings import Settings
from wandb_deployer.states import ApprovalRequest


def request_approval(request: ApprovalRequest, settings: Settings, timeout_seconds: int) -> None:
    pending = store_pending_approval(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        task_token=request.task_token,
        plan_sha256=request.plan_sha256,
        counts=request.counts,
        destructive=request.destructive,
        summary=request.summary,
        timeout_seconds=timeout_seconds,
        table=settings.deployments_table,
        dynamodb=client("dynamodb"),
    )
    record_run_event(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        outcome="approval-needed",
        trigger=None,
        fingerprint=None,
        error=None,
        cause=None,
        details={
            "plan_sha256": request.plan_sha256,
            "counts": request.counts.model_dump(),
            "gate": {
                "plan_sha256": request.plan_sha256,
                "requested_at": pending.requested_at,
                "deadline": pending.deadline,
                "counts": request.counts.model_dump(),
                "destructive": request.destructive,
                **({"snapshot": request.snapshot_reasons} if request.snapshot_reasons else {}),
            },
        },
        table=settings.deployments_table,
        dynamodb=client("dynamodb"),
    )
    notify(
        event="Approval Needed",
        deployment=request.deployment,
        detail={
            "execution_arn": request.execution_arn,
            "plan_sha256": request.plan_sha256,
            "counts": request.counts.model_dump(),
            "destructive": request.destructive,
            "summary": request.summary.uri,
            "deadline": pending.deadline,
            "approve_with": f"wbd approve {request.deployment} --plan {request.plan_sha256}",
            **({"runbook_step": request.runbook_step} if request.runbook_step else {}),
            **(
                {
                    "snapshot": f"a snapshot of database cluster {request.snapshot_cluster} is taken before the apply: "
                    + "; ".join(request.snapshot_reasons)
                }
                if request.snapshot_reasons
                else {}
            ),
        },
        sns=client("sns"),
        events=client("events"),
        topic_arn=settings.notifications_topic_arn,
        bus_name=settings.event_bus_name,
    )
