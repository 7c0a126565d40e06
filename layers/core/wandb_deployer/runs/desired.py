"""Desired state and coalescing: parameter changes in a burst become one run, and no change is ever lost.

Every parameter change increments the deployment's desired `generation` counter (`DESIRED` item). A run snapshots
the counter when it loads its config and, at its end, asks `desired_moved`: if it moved, the run starts the next one.

The ordering that makes this race-free:
- trigger: `record_desired_change` (increment) THEN `start_run_unless_running` (read the lock);
- end of a run: `release_lock` THEN `desired_moved` THEN (if moved) `start_run_unless_running(trigger="rerun")`.
If the trigger saw the lock held, the increment happened before the release, so the finishing run sees it moved.
Both sides may start a run at the same moment; the loser of `acquire_lock` gets DeploymentLockedError and can end
quietly, because the winner snapshots the newest config.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from wandb_deployer.config.model import ApprovalPolicy, Generation
from wandb_deployer.errors import DeploymentLockedError
from wandb_deployer.runs import (
    aws_failure,
    is_condition_failure,
    iso,
    item_key,
    read_item,
    to_item,
    utc_now,
)
from wandb_deployer.runs.lock import START_GRACE_SECONDS, acquire_lock, release_lock
from wandb_deployer.states import RunInput, Trigger

logger = Logger(child=True)

DESIRED_SK = "DESIRED"
APPLIED_SK = "APPLIED"
_EXECUTION_NAME_LIMIT = 80
_NOT_ALLOWED_IN_NAME = re.compile(r"[^A-Za-z0-9_-]")


class DesiredState(BaseModel):
    """The `DESIRED` item: how often the desired config changed, and the latest change."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    generation: int = 0
    updated_at: str | None = None
    parameter_name: str | None = None
    parameter_version: int | None = None
    pending: bool = False
    paused_at: str | None = None
    source: str | None = None  # what wrote the latest change: push, upgrade or parameter-change


class AppliedState(BaseModel):
    """The `APPLIED` item: what the last successful run applied.

    `generation` is the desired-state counter the run snapshotted; `wandb_generation` is the W&B module generation
    (`operator` | `legacy`) it applied, so that a later run can tell a migration between generations. Items written
    before `wandb_generation` existed read as None (unknown).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    fingerprint: str
    execution_arn: str
    applied_at: str
    generation: int | None = None
    wandb_generation: Generation | None = None
    allow_downgrade: str | None = None  # the deployer/allow_downgrade token this apply consumed
    approval: ApprovalPolicy | None = None  # the approval policy of the applied config (None: recorded before it was)


def record_desired_change(
    *,
    deployment: str,
    parameter_name: str,
    table: str,
    dynamodb: Any,
    parameter_version: int | None = None,
    source: str | None = None,
    now: datetime | None = None,
) -> None:
    """Mark the desired config changed: increment `generation`, note the parameter, its source and the time, set
    `pending`."""
    values: dict[str, object] = {
        ":one": 1,
        ":at": iso(utc_now(now)),
        ":name": parameter_name,
        ":version": parameter_version,
        ":true": True,
        ":source": source,
    }
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, DESIRED_SK),
            UpdateExpression=(
                "ADD generation :one SET updated_at = :at, parameter_name = :name, "
                "parameter_version = :version, pending = :true, #source = :source"
            ),
            ExpressionAttributeValues=to_item(values),
            ExpressionAttributeNames={"#source": "source"},
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="UpdateItem desired") from exc
    logger.info("desired state changed", deployment=deployment, parameter=parameter_name)


def read_desired(*, deployment: str, table: str, dynamodb: Any) -> DesiredState:
    item = read_item(deployment=deployment, sk=DESIRED_SK, table=table, dynamodb=dynamodb, what="desired")
    return DesiredState.model_validate(item) if item else DesiredState()


def current_desired_generation(*, deployment: str, table: str, dynamodb: Any) -> int:
    """The desired `generation` counter now (0 before any recorded change): a run snapshots it when it loads."""
    return read_desired(deployment=deployment, table=table, dynamodb=dynamodb).generation


def desired_moved(*, deployment: str, applied_generation: int, table: str, dynamodb: Any) -> bool:
    """True when the desired config changed after the run snapshotted `applied_generation`: a new run is needed."""
    current = current_desired_generation(deployment=deployment, table=table, dynamodb=dynamodb)
    moved = current > applied_generation
    logger.info("desired state compared", deployment=deployment, snapshot=applied_generation, current=current)
    return moved


def mark_applied(
    *,
    deployment: str,
    fingerprint: str,
    execution_arn: str,
    table: str,
    dynamodb: Any,
    generation: int | None = None,
    wandb_generation: Generation | None = None,
    allow_downgrade: str | None = None,
    approval: ApprovalPolicy | None = None,
    now: datetime | None = None,
) -> None:
    """Record what a run applied (the W&B generation, the allow_downgrade token it consumed, the approval policy it
    applied too); when its snapshot `generation` is still the desired one, clear `pending`."""
    values: dict[str, object] = {
        "fingerprint": fingerprint,
        "execution_arn": execution_arn,
        "applied_at": iso(utc_now(now)),
        "generation": generation,
        "wandb_generation": wandb_generation,
        "allow_downgrade": allow_downgrade,
        "approval": approval,
    }
    try:
        dynamodb.put_item(TableName=table, Item={**item_key(deployment, APPLIED_SK), **to_item(values)})
    except ClientError as exc:
        raise aws_failure(exc, operation="PutItem applied") from exc
    if generation is not None:
        _clear_pending(deployment, generation, table, dynamodb)
    logger.info(
        "applied state recorded",
        deployment=deployment,
        fingerprint=fingerprint,
        generation=generation,
        wandb_generation=wandb_generation,
    )


def _clear_pending(deployment: str, generation: int, table: str, dynamodb: Any) -> None:
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, DESIRED_SK),
            UpdateExpression="SET pending = :false",
            ConditionExpression="attribute_not_exists(generation) OR generation <= :generation",
            ExpressionAttributeValues=to_item({":false": False, ":generation": generation}),
        )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise aws_failure(exc, operation="UpdateItem desired pending") from exc
        # the desired state moved after the snapshot: it stays pending, and the end of the run starts the next one


def read_applied(*, deployment: str, table: str, dynamodb: Any) -> AppliedState | None:
    item = read_item(deployment=deployment, sk=APPLIED_SK, table=table, dynamodb=dynamodb, what="applied")
    return AppliedState.model_validate(item) if item else None


def execution_name(deployment: str, trigger: str, now: datetime | None = None) -> str:
    """`<deployment>-<trigger>-<utc yyyymmddHHMMSS>-<short uuid>`, at most 80 allowed characters."""
    stamp = utc_now(now).strftime("%Y%m%d%H%M%S")
    suffix = f"-{stamp}-{uuid.uuid4().hex[:8]}"
    head = _NOT_ALLOWED_IN_NAME.sub("-", f"{deployment}-{trigger}")
    return head[: _EXECUTION_NAME_LIMIT - len(suffix)] + suffix


def planned_execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN an execution named `name` of the state machine will have (Step Functions' documented format)."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"


def start_run_unless_running(
    *,
    deployment: str,
    trigger: Trigger,
    state_machine_arn: str,
    sfn: Any,
    dynamodb: Any,
    table: str,
    paused: bool = False,
    now: datetime | None = None,
) -> str | None:
    """Start a deploy run, or return None when a live run holds the lock (it picks the change up at its end).

    A paused deployment starts nothing: the change stays recorded (`pending`) and the pause is noted.
    """
    moment = utc_now(now)
    if paused:
        _note_paused(deployment, moment, table, dynamodb)
        logger.info("deployment paused; change recorded, no run started", deployment=deployment, trigger=trigger)
        return None
    name = execution_name(deployment, trigger, moment)
    planned_arn = planned_execution_arn(state_machine_arn, name)
    # Reserve the lock for the execution about to start: of a burst of triggers exactly one wins, the others coalesce.
    try:
        acquire_lock(
            deployment=deployment,
            execution_arn=planned_arn,
            table=table,
            dynamodb=dynamodb,
            sfn=sfn,
            lease_seconds=START_GRACE_SECONDS,
            now=moment,
        )
    except DeploymentLockedError:
        logger.info("run in progress; change coalesced into it", deployment=deployment)
        return None
    try:
        response = sfn.start_execution(
            stateMachineArn=state_machine_arn,
            name=name,
            input=RunInput(deployment=deployment, trigger=trigger).model_dump_json(),
        )
    except ClientError as exc:
        release_lock(deployment=deployment, execution_arn=planned_arn, table=table, dynamodb=dynamodb)
        raise aws_failure(exc, operation="StartExecution") from exc
    arn = str(response["executionArn"])
    logger.info("deploy run started", deployment=deployment, trigger=trigger, execution=arn)
    return arn


def _note_paused(deployment: str, moment: datetime, table: str, dynamodb: Any) -> None:
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, DESIRED_SK),
            UpdateExpression="SET paused_at = :at, pending = :true",
            ExpressionAttributeValues=to_item({":at": iso(moment), ":true": True}),
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="UpdateItem desired paused") from exc
