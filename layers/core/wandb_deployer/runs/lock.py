"""One run at a time: the deployment lock, and the release of a Terraform state lock left by a killed build.

The lock is the `LOCK` item of the deployment (owner = execution ARN, lease). A run takes it with a conditional put;
a lock whose owner execution is no longer RUNNING (or whose lease expired) is taken over with a put conditioned on the
old owner, so two runs can never both win. Acquiring again as the owner renews the lease: a run that waited a long time
(an approval) re-acquires before it applies.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from wandb_deployer.errors import DeploymentLockedError, ForeignStateLockError
from wandb_deployer.runs import (
    aws_failure,
    epoch,
    error_code,
    from_item,
    is_condition_failure,
    iso,
    item_key,
    parse_iso,
    read_item,
    to_item,
    utc_now,
)
from wandb_deployer.states import LockResult

logger = Logger(child=True)

LOCK_SK = "LOCK"
# How long a lock reserved by a trigger for the execution it is starting is honoured before that execution exists.
START_GRACE_SECONDS = 120
_TAKEOVER_ATTEMPTS = 3
_GONE_EXECUTION_CODES = frozenset(
    {"ExecutionDoesNotExist", "StateMachineDoesNotExist", "ResourceNotFound", "InvalidArn"}
)


class LockState(BaseModel):
    """The `LOCK` item as read back (for status views)."""

    model_config = ConfigDict(frozen=True)

    owner: str
    acquired_at: str
    lease_until: int
    took_over_from: str | None = None


def execution_is_running(*, execution_arn: str, sfn: Any) -> bool:
    """True when Step Functions reports the execution RUNNING; an unknown execution is not running."""
    try:
        response = sfn.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if error_code(exc) in _GONE_EXECUTION_CODES:
            return False
        raise aws_failure(exc, operation="DescribeExecution") from exc
    return bool(response.get("status") == "RUNNING")


def holder_is_live(lock: LockState, *, sfn: Any, now: datetime) -> bool:
    """The owner runs, or it is an execution being started: a trigger reserves the lock for the execution it is
    about to start (`reserve_for_start`), so for a short grace period a not-yet-existing owner still counts."""
    if execution_is_running(execution_arn=lock.owner, sfn=sfn):
        return True
    reserved_recently = parse_iso(lock.acquired_at) >= now - timedelta(seconds=START_GRACE_SECONDS)
    return reserved_recently and lock.lease_until >= epoch(now) and not execution_exists(lock.owner, sfn=sfn)


def execution_exists(execution_arn: str, *, sfn: Any) -> bool:
    try:
        sfn.describe_execution(executionArn=execution_arn)
    except ClientError as exc:
        if error_code(exc) in _GONE_EXECUTION_CODES:
            return False
        raise aws_failure(exc, operation="DescribeExecution") from exc
    return True


def read_lock(*, deployment: str, table: str, dynamodb: Any) -> LockState | None:
    item = read_item(deployment=deployment, sk=LOCK_SK, table=table, dynamodb=dynamodb, what="lock")
    return LockState.model_validate(item) if item else None


def _lock_item(
    deployment: str, execution_arn: str, now: datetime, lease_seconds: int, took_over_from: str | None
) -> dict[str, dict[str, Any]]:
    lease_until = epoch(now + timedelta(seconds=lease_seconds))
    values: dict[str, object] = {
        "owner": execution_arn,
        "acquired_at": iso(now),
        "lease_until": lease_until,
        "expires_at": lease_until + 86_400,  # TTL: an abandoned lock item disappears a day after its lease
    }
    if took_over_from:
        values["took_over_from"] = took_over_from
    return {**item_key(deployment, LOCK_SK), **to_item(values)}


def acquire_lock(
    *,
    deployment: str,
    execution_arn: str,
    table: str,
    dynamodb: Any,
    sfn: Any,
    lease_seconds: int = 7200,
    now: datetime | None = None,
) -> LockResult:
    """Take (or renew) the deployment's lock; raises DeploymentLockedError while a live run holds it."""
    moment = utc_now(now)
    for _ in range(_TAKEOVER_ATTEMPTS):
        try:
            response = dynamodb.put_item(
                TableName=table,
                Item=_lock_item(deployment, execution_arn, moment, lease_seconds, None),
                ConditionExpression="attribute_not_exists(pk) OR #owner = :me OR lease_until < :now",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":me": {"S": execution_arn}, ":now": {"N": str(epoch(moment))}},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise aws_failure(exc, operation="PutItem lock") from exc
        else:
            old = from_item(response.get("Attributes", {}))
            previous = old.get("owner")
            if previous and previous != execution_arn:
                logger.warning(
                    "expired deployment lock taken over", deployment=deployment, owner=execution_arn, previous=previous
                )
                return _note_takeover(deployment, execution_arn, str(previous), table, dynamodb)
            if previous == execution_arn and old.get("took_over_from"):
                # The trigger reserved the lock for this execution by taking it over from a dead run: keep the note.
                return _note_takeover(deployment, execution_arn, str(old["took_over_from"]), table, dynamodb)
            logger.info("deployment lock acquired", deployment=deployment, owner=execution_arn)
            return LockResult(deployment=deployment, execution_arn=execution_arn)

        current = read_lock(deployment=deployment, table=table, dynamodb=dynamodb)
        if current is None:
            continue  # released in between: try the plain put again
        holder = current.owner
        if holder_is_live(current, sfn=sfn, now=moment):
            logger.info("deployment lock held by a running execution", deployment=deployment, holder=holder)
            raise DeploymentLockedError(f"deployment {deployment!r} is locked by the running execution {holder}")
        try:
            dynamodb.put_item(
                TableName=table,
                Item=_lock_item(deployment, execution_arn, moment, lease_seconds, holder),
                ConditionExpression="#owner = :old",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":old": {"S": holder}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise aws_failure(exc, operation="PutItem lock takeover") from exc
            continue  # someone else moved first: look again
        logger.warning("deployment lock taken over", deployment=deployment, owner=execution_arn, previous=holder)
        return LockResult(deployment=deployment, execution_arn=execution_arn, took_over_from=holder)
    raise DeploymentLockedError(f"deployment {deployment!r}: the lock changed hands while acquiring it")


def _note_takeover(deployment: str, execution_arn: str, previous: str, table: str, dynamodb: Any) -> LockResult:
    """The plain put replaced a lock taken from `previous` (its lease had expired, or the trigger took it over for
    this execution and the put renewed it): keep noting in the lock whom it was taken over from."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, LOCK_SK),
            UpdateExpression="SET took_over_from = :previous",
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":previous": {"S": previous}, ":me": {"S": execution_arn}},
        )
    except ClientError as exc:
        if not is_condition_failure(exc):
            raise aws_failure(exc, operation="UpdateItem lock") from exc
    return LockResult(deployment=deployment, execution_arn=execution_arn, took_over_from=previous)


def release_lock(*, deployment: str, execution_arn: str, table: str, dynamodb: Any) -> bool:
    """Release the lock if `execution_arn` holds it; False (no error) when it does not: releasing is idempotent."""
    try:
        dynamodb.delete_item(
            TableName=table,
            Key=item_key(deployment, LOCK_SK),
            ConditionExpression="#owner = :me",
            ExpressionAttributeNames={"#owner": "owner"},
            ExpressionAttributeValues={":me": {"S": execution_arn}},
        )
    except ClientError as exc:
        if is_condition_failure(exc):
            logger.info("deployment lock not held; nothing to release", deployment=deployment, owner=execution_arn)
            return False
        raise aws_failure(exc, operation="DeleteItem lock") from exc
    logger.info("deployment lock released", deployment=deployment, owner=execution_arn)
    return True


def holder_marker_key(deployment: str) -> str:
    """Where the build runner records which build holds the Terraform state lock."""
    return f"locks/{deployment}/holder.json"


def release_stale_state_lock(
    *, deployment: str, state_bucket: str, state_key: str, artifacts_bucket: str, s3: Any, codebuild: Any
) -> bool:
    """Delete a Terraform state lock (`<state_key>.tflock`) left by a build of the deployer that is not running; True
    when released.

    Only a lock the deployer's holder marker accounts for is ever deleted: a build of ours that ended (or is unknown)
    without removing its marker, and a lock no newer than that build's end. Raises DeploymentLockedError while the
    holder build is still IN_PROGRESS (never break a live apply), ForeignStateLockError for any other lock (a
    human's break-glass lock, another tool's): it stays where it is.
    """
    lock_key = f"{state_key}.tflock"
    locked_at = _object_modified(s3, state_bucket, lock_key)
    if locked_at is None:
        return False
    marker_key = holder_marker_key(deployment)
    holder = read_holder_marker(s3, artifacts_bucket, marker_key)
    build_id = str(holder.get("build_id", "")) if holder else ""
    if not build_id:
        logger.warning("terraform state lock not taken by the deployer; left in place", deployment=deployment)
        raise ForeignStateLockError(
            f"deployment {deployment!r}: s3://{state_bucket}/{lock_key} locks the Terraform state, and no build of "
            "the deployer holds it; it was left in place. Release it with `terraform force-unlock` (or delete the "
            "object) once whoever took it is done, then run again."
        )
    status, ended_at = build_state(codebuild, build_id)
    if status == "IN_PROGRESS":
        logger.info("terraform state lock held by a running build", deployment=deployment, build_id=build_id)
        raise DeploymentLockedError(
            f"deployment {deployment!r}: the Terraform state is locked by running build {build_id}"
        )
    if ended_at is not None and locked_at > ended_at:
        logger.warning("terraform state locked after the holder build ended; left in place", deployment=deployment)
        raise ForeignStateLockError(
            f"deployment {deployment!r}: s3://{state_bucket}/{lock_key} was taken after build {build_id} ended, so "
            "it is not that build's; it was left in place. Release it with `terraform force-unlock` once whoever "
            "took it is done, then run again."
        )
    try:
        s3.delete_object(Bucket=state_bucket, Key=lock_key)
        s3.delete_object(Bucket=artifacts_bucket, Key=marker_key)
    except ClientError as exc:
        raise aws_failure(exc, operation="DeleteObject state lock") from exc
    logger.warning(
        "stale terraform state lock released",
        deployment=deployment,
        build_id=build_id,
        build_status=status,
        action=holder.get("action") if holder else None,
    )
    return True


def _object_modified(s3: Any, bucket: str, key: str) -> datetime | None:
    """When the object was last written, or None when it does not exist."""
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise aws_failure(exc, operation="HeadObject state lock") from exc
    modified = head.get("LastModified")
    return modified if isinstance(modified, datetime) else datetime.now(tz=UTC)


def read_holder_marker(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The build runner's marker of which build holds the Terraform state lock; None when absent or unreadable."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise aws_failure(exc, operation="GetObject state lock holder") from exc
    try:
        marker = json.loads(body)
    except ValueError:
        logger.warning("state lock holder marker unreadable; treating the holder as unknown", key=key)
        return None
    return marker if isinstance(marker, dict) else None


def build_status(codebuild: Any, build_id: str) -> str:
    """CodeBuild's status of the build (IN_PROGRESS while it runs); NOT_FOUND for a build CodeBuild does not know."""
    return build_state(codebuild, build_id)[0]


def build_state(codebuild: Any, build_id: str) -> tuple[str, datetime | None]:
    """The build's status (as `build_status`) and, once it ended, when."""
    try:
        response = codebuild.batch_get_builds(ids=[build_id])
    except ClientError as exc:
        raise aws_failure(exc, operation="BatchGetBuilds") from exc
    builds = response.get("builds", [])
    if not builds:
        return "NOT_FOUND", None
    ended = builds[0].get("endTime")
    return str(builds[0].get("buildStatus", "")) or "UNKNOWN", ended if isinstance(ended, datetime) else None
