"""A deployment's runbook in the deployments table (`sk = RUNBOOK`): the runbook, where it stands, what each step's
run did, and the Terraform state's S3 version recorded before its first apply.

One runbook per deployment at a time; a finished one (completed, stopped, aborted, restored) stays readable until the
next request replaces it. Every update is conditional on the revision read, so two writers never lose each other's
update.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.errors import RunbookConflictError
from wandb_deployer.runs import aws_failure, is_condition_failure, iso, item_key, read_item, to_item, utc_now
from wandb_deployer.upgrade.runbooks import Runbook, RunbookStep

logger = Logger(child=True)

RUNBOOK_SK = "RUNBOOK"
RunbookStatus = Literal["running", "stopped", "completed", "aborted", "restored"]
StepStatus = Literal["pending", "running", "succeeded", "stopped"]


class StateVersion(BaseModel):
    """The Terraform state object as it was before the runbook's first apply (the state bucket is versioned)."""

    model_config = ConfigDict(frozen=True)

    bucket: str
    key: str
    version_id: str | None  # None: no state object existed (nothing to roll back to but an empty state)
    recorded_at: str
    execution_arn: str


class RestoreRecord(BaseModel):
    """What `wbd runbook --restore` did: the state version it copied back, the version that copy made, and the run
    whose config it wrote back to SSM."""

    model_config = ConfigDict(frozen=True)

    restored_version_id: str  # the state version recorded before the first apply
    new_version_id: str | None  # the state object's version the copy wrote (None: the bucket gave none)
    previous_version_id: str | None  # the state object's version the copy replaced (kept in the bucket)
    target_run: str  # the execution name whose config was written back
    module_version: str
    by: str
    at: str
    was_paused: bool = False  # deployer/paused was already true before the restore paused it


class StepRecord(BaseModel):
    """What one step's run did."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: StepStatus = "pending"
    written_at: str | None = None  # when the step's parameter changes were written; its run starts after this
    execution_arn: str | None = None
    plan_sha256: str | None = None
    outcome: str | None = None
    violations: list[str] = Field(default_factory=list)
    preflight: list[str] = Field(default_factory=list)  # pre-flight results, one line each
    reason: str | None = None


class RunbookState(BaseModel):
    model_config = ConfigDict(frozen=True)

    deployment: str
    runbook: Runbook
    status: RunbookStatus = "running"
    current: int = 0
    steps: list[StepRecord]
    requested_by: str = "unknown"
    request_id: str | None = None
    started_at: str
    updated_at: str
    state_version: StateVersion | None = None
    reason: str | None = None  # why it stopped or was aborted
    restore: RestoreRecord | None = None  # set when `wbd runbook --restore` put the state back
    revision: int = 0

    @property
    def step(self) -> RunbookStep:
        return self.runbook.steps[self.current]

    @property
    def record(self) -> StepRecord:
        return self.steps[self.current]

    def position(self) -> str:
        return f"step {self.current + 1}/{len(self.steps)} {self.step.name}"

    def with_step(self, record: StepRecord, **fields: Any) -> RunbookState:
        steps = list(self.steps)
        steps[self.current] = record
        return self.model_copy(update={"steps": steps, **fields})


def new_runbook_state(
    runbook: Runbook, *, requested_by: str, request_id: str | None, now: datetime | None = None
) -> RunbookState:
    moment = iso(utc_now(now))
    steps = [StepRecord(name=step.name) for step in runbook.steps]
    steps[0] = steps[0].model_copy(update={"status": "running", "written_at": moment})
    return RunbookState(
        deployment=runbook.deployment,
        runbook=runbook,
        steps=steps,
        requested_by=requested_by,
        request_id=request_id,
        started_at=moment,
        updated_at=moment,
    )


def read_runbook(*, deployment: str, table: str, dynamodb: Any) -> RunbookState | None:
    item = read_item(deployment=deployment, sk=RUNBOOK_SK, table=table, dynamodb=dynamodb, what="runbook")
    return RunbookState.model_validate_json(str(item["document"])) if item else None


def save_runbook(state: RunbookState, *, table: str, dynamodb: Any, now: datetime | None = None) -> RunbookState:
    """Write `state` over the revision it was read at (a new runbook: over no running one); RunbookConflictError
    when another writer got there first, or when a runbook is already running."""
    saved = state.model_copy(update={"revision": state.revision + 1, "updated_at": iso(utc_now(now))})
    item = {
        **item_key(state.deployment, RUNBOOK_SK),
        **to_item({"document": saved.model_dump_json(), "status": saved.status, "revision": saved.revision}),
    }
    if state.revision == 0:
        condition = "attribute_not_exists(pk) OR #status <> :running"
        values: dict[str, Any] = {":running": {"S": "running"}}
    else:
        condition = "#revision = :revision"
        values = {":revision": {"N": str(state.revision)}}
    names = {"#status": "status"} if state.revision == 0 else {"#revision": "revision"}
    try:
        dynamodb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression=condition,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if is_condition_failure(exc):
            raise RunbookConflictError(
                f"deployment {state.deployment!r}: a runbook is already running or changed meanwhile (wbd runbook show)"
            ) from exc
        raise aws_failure(exc, operation="PutItem runbook") from exc
    logger.info(
        "runbook saved",
        deployment=state.deployment,
        status=saved.status,
        step=saved.current,
        revision=saved.revision,
    )
    return saved
