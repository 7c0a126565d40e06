"""Approvals bound to the exact plan: the pending approval of a run, and the human answer to it.

The run's approval gate (`.waitForTaskToken`) stores its task token with the plan's sha256; `wbd approve <deployment>
--plan <sha256>` answers with that sha, and only a matching sha reaches Step Functions. A runbook step with a
documented wait (the v8 guide's kubelet credential rotation before aws-auth is retired) stores the earliest time it
may be approved; an approval before it is refused here, before anything is sent. The task token is a capability
(whoever holds it can resume the run): it is stored in the table, never logged, never shown, never put in a payload.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from wandb_deployer.errors import ApprovalNotPendingError, ApprovalTooEarlyError, PlanMismatchError
from wandb_deployer.runs import (
    aws_failure,
    epoch,
    error_code,
    is_condition_failure,
    iso,
    item_key,
    parse_iso,
    read_item,
    scrub_secrets,
    to_item,
    utc_now,
)
from wandb_deployer.states import ApprovalDecision, ChangeCounts, S3Pointer

logger = Logger(child=True)

APPROVAL_SK = "APPROVAL"
REJECTED_ERROR = "ApprovalRejectedError"
_CAUSE_LIMIT = 1000
_DEAD_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class PendingApproval(BaseModel):
    """The `APPROVAL` item: a run waiting for a human decision on one plan."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    deployment: str
    execution_arn: str
    task_token: SecretStr = Field(repr=False, exclude=True)
    plan_sha256: str
    counts: ChangeCounts
    destructive: list[str] = Field(default_factory=list)
    summary: S3Pointer
    requested_at: str
    expires_at: int
    # Not approvable before this ISO time, and why (a runbook step's documented wait); None: any time. Items stored
    # before the field existed load without it.
    approvable_from: str | None = None
    approvable_reason: str | None = None

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= epoch(utc_now(now))

    def too_early(self, now: datetime | None = None) -> bool:
        """Whether an approval now comes before the step's documented wait has passed."""
        return self.approvable_from is not None and utc_now(now) < parse_iso(self.approvable_from)

    def approvable_line(self) -> str | None:
        """`may be approved from <time> (<reason>)`, for people; None when it may be approved any time."""
        if self.approvable_from is None:
            return None
        reason = f" ({self.approvable_reason})" if self.approvable_reason else ""
        return f"may be approved from {self.approvable_from[:19]}Z{reason}"

    def unapprovable(self) -> bool:
        """The gate expires before the plan may be approved: it can only be rejected or time out."""
        return self.approvable_from is not None and self.expires_at <= epoch(parse_iso(self.approvable_from))

    @property
    def deadline(self) -> str:
        """When the gate expires (the run then ends `timed-out`), as an ISO timestamp."""
        return iso(datetime.fromtimestamp(self.expires_at, tz=UTC))


def store_pending_approval(
    *,
    deployment: str,
    execution_arn: str,
    task_token: str,
    plan_sha256: str,
    counts: ChangeCounts,
    destructive: list[str],
    summary: S3Pointer,
    timeout_seconds: int,
    table: str,
    dynamodb: Any,
    approvable_from: str | None = None,
    approvable_reason: str | None = None,
    now: datetime | None = None,
) -> PendingApproval:
    """Store the run's pending approval (one per deployment: the lock guarantees a single waiting run), with the
    earliest time it may be approved when its runbook step has a documented wait."""
    moment = utc_now(now)
    values: dict[str, object] = {
        "deployment": deployment,
        "execution_arn": execution_arn,
        "task_token": task_token,
        "plan_sha256": plan_sha256.lower(),
        "counts": counts.model_dump(),
        "destructive": list(destructive),
        "summary": summary.model_dump(),
        "requested_at": iso(moment),
        "expires_at": epoch(moment + timedelta(seconds=timeout_seconds)),  # also the TTL of the item
    }
    if approvable_from is not None:
        values |= {"approvable_from": approvable_from, "approvable_reason": approvable_reason}
    try:
        dynamodb.put_item(TableName=table, Item={**item_key(deployment, APPROVAL_SK), **to_item(values)})
    except ClientError as exc:
        raise aws_failure(exc, operation="PutItem approval") from exc
    logger.info("approval pending", deployment=deployment, execution=execution_arn, plan_sha256=plan_sha256)
    return PendingApproval.model_validate(values)


def load_pending_approval(
    *, deployment: str, table: str, dynamodb: Any, now: datetime | None = None
) -> PendingApproval | None:
    """The deployment's pending approval, or None when there is none or it expired (TTL deletes lazily)."""
    item = read_item(deployment=deployment, sk=APPROVAL_SK, table=table, dynamodb=dynamodb, what="approval")
    if not item:
        return None
    pending = PendingApproval.model_validate(item)
    return None if pending.is_expired(now) else pending


def caller_identity(sts: Any) -> str:
    """The ARN of whoever answers an approval, as AWS knows them (sts:GetCallerIdentity needs no permission): the run
    records this, never a local user name anyone can set."""
    try:
        return str(sts.get_caller_identity()["Arn"])
    except ClientError as exc:
        raise aws_failure(exc, operation="GetCallerIdentity") from exc


def answer_approval(
    *,
    deployment: str,
    plan_sha256: str,
    approve: bool,
    who: str,
    reason: str,
    sfn: Any,
    table: str,
    dynamodb: Any,
    now: datetime | None = None,
) -> None:
    """Approve or reject the pending plan of `deployment`, named by its sha256.

    `who` is recorded as `approved_by` (callers pass `caller_identity(sts)`). Raises ApprovalNotPendingError when
    nothing waits (none, expired, or the run ended), PlanMismatchError when `plan_sha256` is not the pending plan and
    ApprovalTooEarlyError for an approval before the plan's `approvable_from` (a rejection is always accepted); in
    each case nothing is sent to Step Functions and the approval stays as it was.
    """
    pending = load_pending_approval(deployment=deployment, table=table, dynamodb=dynamodb, now=now)
    if pending is None:
        raise ApprovalNotPendingError(f"deployment {deployment!r} has no pending approval")
    if plan_sha256.strip().lower() != pending.plan_sha256:
        logger.warning("approval refused: plan mismatch", deployment=deployment, pending=pending.plan_sha256)
        raise PlanMismatchError(
            f"deployment {deployment!r} waits for approval of plan {pending.plan_sha256}, not {plan_sha256.strip()!r}"
        )
    if approve and pending.too_early(now):
        logger.warning("approval refused: too early", deployment=deployment, approvable_from=pending.approvable_from)
        raise ApprovalTooEarlyError(
            f"deployment {deployment!r}: plan {pending.plan_sha256} {pending.approvable_line()}; it is "
            f"{iso(utc_now(now))[:19]}Z: nothing was sent, the approval stays pending until {pending.deadline[:19]}Z "
            "(a rejection is accepted any time)"
        )
    safe_who = str(scrub_secrets(who, limit=200))
    token = pending.task_token.get_secret_value()
    try:
        if approve:
            decision = ApprovalDecision(approved_sha256=pending.plan_sha256, approved_by=safe_who)
            sfn.send_task_success(taskToken=token, output=decision.model_dump_json())
        else:
            cause = scrub_secrets(f"rejected by {safe_who}: {reason}", limit=_CAUSE_LIMIT)
            sfn.send_task_failure(taskToken=token, error=REJECTED_ERROR, cause=cause)
    except ClientError as exc:
        if error_code(exc) in _DEAD_TOKEN_CODES:
            withdraw_pending_approval(
                deployment=deployment, execution_arn=pending.execution_arn, table=table, dynamodb=dynamodb
            )
            logger.warning("approval no longer pending", deployment=deployment, code=error_code(exc))
            raise ApprovalNotPendingError(
                f"deployment {deployment!r}: the approval of plan {pending.plan_sha256} is no longer pending "
                f"({error_code(exc)}: it timed out or its run ended); start a new run"
            ) from exc
        raise aws_failure(exc, operation="SendTask approval") from exc
    withdraw_pending_approval(
        deployment=deployment, execution_arn=pending.execution_arn, table=table, dynamodb=dynamodb
    )
    _record_answer(pending, approve=approve, who=safe_who, reason=reason, table=table, dynamodb=dynamodb, now=now)
    logger.info(
        "approval answered",
        deployment=deployment,
        execution=pending.execution_arn,
        approved=approve,
        by=safe_who,
        plan_sha256=pending.plan_sha256,
    )


def _record_answer(
    pending: PendingApproval,
    *,
    approve: bool,
    who: str,
    reason: str,
    table: str,
    dynamodb: Any,
    now: datetime | None,
) -> None:
    """The answer in the run's record: who decided, when, about which plan."""
    from wandb_deployer.runs.history import record_run_details  # history reads approvals: imported when used

    answer: dict[str, object] = {
        "decision": "approved" if approve else "rejected",
        "by": who,
        "at": iso(utc_now(now)),
        "plan_sha256": pending.plan_sha256,
    }
    if not approve:
        answer["reason"] = scrub_secrets(reason, limit=_CAUSE_LIMIT)
    record_run_details(
        deployment=pending.deployment,
        execution_arn=pending.execution_arn,
        details={"approval": answer},
        table=table,
        dynamodb=dynamodb,
    )


def withdraw_pending_approval(*, deployment: str, execution_arn: str, table: str, dynamodb: Any) -> None:
    """Delete the pending approval of `execution_arn` (a newer run's approval is left alone). Answered approvals are
    withdrawn here; so are those of runs that ended without an answer (rejected by timeout, failed)."""
    try:
        dynamodb.delete_item(
            TableName=table,
            Key=item_key(deployment, APPROVAL_SK),
            ConditionExpression="execution_arn = :execution",
            ExpressionAttributeValues={":execution": {"S": execution_arn}},
        )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise aws_failure(exc, operation="DeleteItem approval") from exc
