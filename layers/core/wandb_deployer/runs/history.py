"""The audit history of a deployment: one record per run, and a status view over all of its records.

Callers pass only safe fields (names, counts, versions, error names); as a second line of defence every string
stored goes through `scrub_secrets` (in `wandb_deployer.runs`), which masks anything shaped like a W&B license (a
compact JWS) or an API key, and any field named like a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.drift.record import DRIFT_SK, DriftState
from wandb_deployer.runs import (
    RUN_PREFIX,
    aws_failure,
    deployment_pk,
    from_item,
    is_condition_failure,
    iso,
    item_key,
    parse_iso,
    read_item,
    scrub_secrets,
    to_attribute,
    to_item,
    utc_now,
)
from wandb_deployer.runs.approval import PendingApproval
from wandb_deployer.runs.desired import APPLIED_SK, DESIRED_SK, AppliedState, DesiredState
from wandb_deployer.runs.details import REASON_LIMIT
from wandb_deployer.runs.lock import LOCK_SK, LockState
from wandb_deployer.states import Trigger

logger = Logger(child=True)

RunOutcome = Literal["started", "approval-needed", "succeeded", "failed", "no-changes", "rejected", "timed-out"]
TERMINAL_OUTCOMES: frozenset[str] = frozenset({"succeeded", "failed", "no-changes", "rejected", "timed-out"})
SUCCESSFUL_OUTCOMES: frozenset[str] = frozenset({"succeeded", "no-changes"})
CAUSE_LIMIT = 1000
_LOOKUP_DEPTH = 50


class RunRecord(BaseModel):
    """One run of a deployment as kept in its history."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    deployment: str
    execution_arn: str
    execution_name: str
    started_at: str
    outcome: RunOutcome
    trigger: Trigger | None = None
    updated_at: str | None = None
    ended_at: str | None = None
    duration_seconds: float | None = None
    fingerprint: str | None = None
    error: str | None = None
    cause: str | None = None
    reason: str | None = None  # the error's message in one line (what `wbd runs` shows)
    details: dict[str, Any] = Field(default_factory=dict)
    timeline: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.outcome in TERMINAL_OUTCOMES


class DeploymentStatus(BaseModel):
    """Everything an operator asks about a deployment, from one partition of the table."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    lock: LockState | None = None
    desired: DesiredState | None = None
    applied: AppliedState | None = None
    last_run: RunRecord | None = None
    pending_approval: PendingApproval | None = None
    drift: DriftState | None = None


def run_sort_key(started_at: datetime, execution_name: str) -> str:
    return f"{RUN_PREFIX}{iso(started_at)}#{execution_name}"


def record_run_event(
    *,
    deployment: str,
    execution_arn: str,
    outcome: RunOutcome,
    table: str,
    dynamodb: Any,
    trigger: Trigger | None = None,
    fingerprint: str | None = None,
    error: str | None = None,
    cause: str | None = None,
    reason: str | None = None,
    details: Mapping[str, object] | None = None,
    started_at: datetime | None = None,
    now: datetime | None = None,
) -> RunRecord:
    """Write or update the run's record: outcome, timeline, error and cause (truncated, scrubbed), details (merged).

    Pass `started_at` (the ASL has `$$.Execution.StartTime`) so the record is found without a lookup; without it the
    run's existing record is looked up among the newest runs, and a new one starts now.
    """
    moment = utc_now(now)
    name = execution_arn.rsplit(":", 1)[-1]
    sort_key = _existing_sort_key(deployment, execution_arn, table, dynamodb) if started_at is None else None
    if sort_key is None:
        sort_key = run_sort_key(started_at or moment, name)
    started = parse_iso(sort_key[len(RUN_PREFIX) :].split("#", 1)[0])

    assignments: dict[str, object] = {
        "deployment": deployment,
        "execution_arn": execution_arn,
        "execution_name": name,
        "started_at": iso(started),
        "outcome": outcome,
        "updated_at": iso(moment),
    }
    optional = {"trigger": trigger, "fingerprint": fingerprint, "error": error}
    assignments.update({key: scrub_secrets(value, limit=200) for key, value in optional.items() if value is not None})
    if cause is not None:
        assignments["cause"] = scrub_secrets(cause, limit=CAUSE_LIMIT)
    if reason is not None:
        assignments["reason"] = scrub_secrets(" ".join(reason.split()), limit=REASON_LIMIT)
    if outcome in TERMINAL_OUTCOMES:
        assignments["ended_at"] = iso(moment)
        assignments["duration_seconds"] = round((moment - started).total_seconds(), 3)
    names = {f"#a{index}": key for index, key in enumerate(assignments)}
    values: dict[str, object] = {f":a{index}": value for index, value in enumerate(assignments.values())}
    values[":event"] = [{"outcome": outcome, "at": iso(moment)}]
    values[":empty_list"] = []
    values[":empty_map"] = {}
    setters = [f"{alias} = :{alias[1:]}" for alias in names]
    setters.append("timeline = list_append(if_not_exists(timeline, :empty_list), :event)")
    setters.append("details = if_not_exists(details, :empty_map)")
    expression = "SET " + ", ".join(setters)
    _update(
        table, dynamodb, deployment=deployment, sort_key=sort_key, expression=expression, names=names, values=values
    )
    if details:
        _merge_details(table, dynamodb, deployment, sort_key, scrub_secrets(dict(details)))
    logger.info("run event recorded", deployment=deployment, execution=execution_arn, outcome=outcome)
    return _read_run(table, dynamodb, deployment, sort_key)


def record_run_details(
    *,
    deployment: str,
    execution_arn: str,
    details: Mapping[str, object],
    table: str,
    dynamodb: Any,
    started_at: datetime | None = None,
) -> bool:
    """Merge `details` (scrubbed) into the run's record without touching its outcome; False when the run has no
    record (it is written when the run starts, so only a run older than the newest runs is missed)."""
    sort_key = (
        run_sort_key(started_at, execution_arn.rsplit(":", 1)[-1])
        if started_at is not None
        else _existing_sort_key(deployment, execution_arn, table, dynamodb)
    )
    if sort_key is None or not details:
        return False
    return _merge_details(table, dynamodb, deployment, sort_key, scrub_secrets(dict(details)), must_exist=True)


def read_run(
    *, deployment: str, execution_arn: str, table: str, dynamodb: Any, started_at: datetime | None = None
) -> RunRecord | None:
    """The record of one run (None when it has none)."""
    sort_key = (
        run_sort_key(started_at, execution_arn.rsplit(":", 1)[-1])
        if started_at is not None
        else _existing_sort_key(deployment, execution_arn, table, dynamodb)
    )
    if sort_key is None:
        return None
    item = read_item(deployment=deployment, sk=sort_key, table=table, dynamodb=dynamodb, what="run")
    return RunRecord.model_validate(item) if item else None


def find_runs(*, deployment: str, name: str, table: str, dynamodb: Any, depth: int = 200) -> list[RunRecord]:
    """Runs among the newest `depth` whose execution name is `name` or contains it (an exact name wins)."""
    runs = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=depth)
    exact = [run for run in runs if name in (run.execution_name, run.execution_arn)]
    return exact or [run for run in runs if name in run.execution_name]


def _update(
    table: str,
    dynamodb: Any,
    *,
    deployment: str,
    sort_key: str,
    expression: str,
    names: Mapping[str, str],
    values: Mapping[str, object],
) -> None:
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, sort_key),
            UpdateExpression=expression,
            ExpressionAttributeValues=to_item(values),
            **({"ExpressionAttributeNames": dict(names)} if names else {}),
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="UpdateItem run") from exc


def _merge_details(
    table: str,
    dynamodb: Any,
    deployment: str,
    sort_key: str,
    details: Mapping[str, object],
    *,
    must_exist: bool = False,
) -> bool:
    """Set each top-level key of `details`; with `must_exist`, only on an existing record (False when there is none)."""
    names = {f"#d{index}": str(key) for index, key in enumerate(details)}
    values = {f":d{index}": value for index, value in enumerate(details.values())}
    expression = "SET " + ", ".join(f"details.{alias} = :{alias[1:]}" for alias in names)
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, sort_key),
            UpdateExpression=expression,
            ExpressionAttributeValues=to_item(values),
            ExpressionAttributeNames=names,
            **({"ConditionExpression": "attribute_exists(details)"} if must_exist else {}),
        )
    except ClientError as exc:
        if must_exist and is_condition_failure(exc):
            return False
        raise aws_failure(exc, operation="UpdateItem run details") from exc
    return True


def _existing_sort_key(deployment: str, execution_arn: str, table: str, dynamodb: Any) -> str | None:
    """The sort key of this execution's record among the newest runs, if it has one."""
    try:
        response = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :runs)",
            FilterExpression="execution_arn = :arn",
            ExpressionAttributeValues=to_item(
                {":pk": deployment_pk(deployment), ":runs": RUN_PREFIX, ":arn": execution_arn}
            ),
            ProjectionExpression="sk",
            ScanIndexForward=False,
            Limit=_LOOKUP_DEPTH,
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="Query run") from exc
    items = response.get("Items", [])
    return str(from_item(items[0])["sk"]) if items else None


def _read_run(table: str, dynamodb: Any, deployment: str, sort_key: str) -> RunRecord:
    try:
        response = dynamodb.get_item(TableName=table, Key=item_key(deployment, sort_key), ConsistentRead=True)
    except ClientError as exc:
        raise aws_failure(exc, operation="GetItem run") from exc
    return RunRecord.model_validate(from_item(response["Item"]))


def list_runs(*, deployment: str, table: str, dynamodb: Any, limit: int = 20) -> list[RunRecord]:
    """The deployment's most recent runs, newest first."""
    try:
        response = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :runs)",
            ExpressionAttributeValues=to_item({":pk": deployment_pk(deployment), ":runs": RUN_PREFIX}),
            ScanIndexForward=False,
            Limit=limit,
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="Query runs") from exc
    return [RunRecord.model_validate(from_item(item)) for item in response.get("Items", [])]


def deployment_status(*, deployment: str, table: str, dynamodb: Any, now: datetime | None = None) -> DeploymentStatus:
    """Lock, desired, applied, last run, pending approval (without its task token) and drift of one deployment."""
    try:
        response = dynamodb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk AND sk < :runs",
            ExpressionAttributeValues={
                ":pk": to_attribute(deployment_pk(deployment)),
                ":runs": to_attribute(RUN_PREFIX),
            },
            ConsistentRead=True,
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="Query status") from exc
    records = {str(from_item(item)["sk"]): from_item(item) for item in response.get("Items", [])}
    approval = records.get("APPROVAL")
    pending = PendingApproval.model_validate(approval) if approval else None
    if pending is not None and pending.is_expired(now):
        pending = None
    runs = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=1)
    return DeploymentStatus(
        deployment=deployment,
        lock=LockState.model_validate(records[LOCK_SK]) if LOCK_SK in records else None,
        desired=DesiredState.model_validate(records[DESIRED_SK]) if DESIRED_SK in records else None,
        applied=AppliedState.model_validate(records[APPLIED_SK]) if APPLIED_SK in records else None,
        last_run=runs[0] if runs else None,
        pending_approval=pending,
        drift=DriftState.model_validate(records[DRIFT_SK]) if DRIFT_SK in records else None,
    )
