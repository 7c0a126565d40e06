"""The approval gate: bind the task token to the plan's sha256, then ask a human."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.runs.approval import PendingApproval, store_pending_approval
from wandb_deployer.runs.history import record_run_event
from wandb_deployer.runs.notify import notify
from wandb_deployer.settings import Settings
from wandb_deployer.states import ApprovalRequest

logger = Logger(child=True)


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
        approvable_from=request.approvable_from,
        approvable_reason=request.approvable_reason,
    )
    wait = _approval_wait(pending)
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
                **wait,
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
            **wait,
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


def _approval_wait(pending: PendingApproval) -> dict[str, str]:
    """The gate's documented wait, for the run history and the notification: from when the plan may be approved, and
    a warning when the gate expires first. Such a gate is still created (it can be rejected, and it ends the run
    `timed-out`, which stops the runbook): the stack's ApprovalTimeoutSeconds is shorter than the wait, and saying so
    where the operator looks is the fix, not a run that fails without asking."""
    line = pending.approvable_line()
    if line is None:
        return {}
    wait = {"approvable_from": str(pending.approvable_from), "approval_wait": line}
    if pending.unapprovable():
        logger.warning("approval gate expires before the plan may be approved", approvable_from=pending.approvable_from)
        wait["approval_warning"] = (
            f"the gate expires at {pending.deadline[:19]}Z, before the plan may be approved: it can only be rejected "
            "or time out (which stops the runbook): the stack's ApprovalTimeoutSeconds must exceed "
            "RunbookAwsAuthWaitSeconds"
        )
    return wait
