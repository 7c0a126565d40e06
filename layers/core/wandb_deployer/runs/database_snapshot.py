"""The Aurora cluster snapshot a risky run takes before it applies, and the pruning of the deployer's old ones.

A snapshot is `wbd-<deployment>-<run>`, tagged with the deployment (`TAG_KEY`), so the pruning only ever deletes the
deployer's own manual snapshots of that deployment, never one a human took. Any AWS error but throttling (retried by
the state machine) becomes DatabaseSnapshotError: a run whose snapshot fails stops before its apply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.errors import AwsRequestFailedError, DatabaseSnapshotError
from wandb_deployer.verification.aws_calls import aws_call

logger = Logger(child=True)

TAG_KEY = "wandb-deployer:deployment"
AVAILABLE = "available"
# Statuses a cluster snapshot does not come back from (RDS's DescribeDBClusterSnapshots `Status`).
FAILED_STATUSES = frozenset({"failed", "incompatible-restore", "deleted", "deleting"})


def _rds_call(what: str, operation: Callable[..., Any], **kwargs: Any) -> Any:
    """`aws_call` where anything but a transient error is a failed snapshot."""
    try:
        return aws_call(what, operation, **kwargs)
    except AwsRequestFailedError as exc:
        raise DatabaseSnapshotError(f"{what} failed: {exc.__cause__ or exc}") from exc


def start_snapshot(*, rds: Any, cluster: str, identifier: str, deployment: str) -> str:
    """Ask RDS for a manual snapshot of `cluster`; returns its ARN (the snapshot is `creating` until available)."""
    answer = _rds_call(
        f"creating snapshot {identifier} of cluster {cluster}",
        rds.create_db_cluster_snapshot,
        DBClusterSnapshotIdentifier=identifier,
        DBClusterIdentifier=cluster,
        Tags=[{"Key": TAG_KEY, "Value": deployment}],
    )
    arn = str(answer["DBClusterSnapshot"]["DBClusterSnapshotArn"])
    logger.info("database snapshot started", cluster=cluster, snapshot=identifier)
    return arn


def snapshot_available(*, rds: Any, identifier: str) -> bool:
    """True once the snapshot is available, False while RDS is still taking it; DatabaseSnapshotError when it
    failed or is gone."""
    try:
        answer = aws_call(
            f"reading snapshot {identifier}",
            rds.describe_db_cluster_snapshots,
            DBClusterSnapshotIdentifier=identifier,
        )
    except AwsRequestFailedError as exc:
        cause = exc.__cause__
        code = cause.response.get("Error", {}).get("Code") if isinstance(cause, ClientError) else None
        if code == "DBClusterSnapshotNotFoundFault":
            raise DatabaseSnapshotError(f"snapshot {identifier} does not exist: it was deleted or never taken") from exc
        raise DatabaseSnapshotError(f"reading snapshot {identifier} failed: {cause or exc}") from exc
    found = answer.get("DBClusterSnapshots") or []
    if not found:
        raise DatabaseSnapshotError(f"snapshot {identifier} does not exist: it was deleted or never taken")
    status = str(found[0].get("Status", ""))
    if status in FAILED_STATUSES:
        raise DatabaseSnapshotError(f"snapshot {identifier} is {status}: the database was not saved")
    return status == AVAILABLE


def _tags(rds: Any, snapshot: dict[str, Any]) -> dict[str, str]:
    listed = snapshot.get("TagList")
    if listed is None:
        listed = _rds_call(
            f"reading the tags of {snapshot.get('DBClusterSnapshotIdentifier')}",
            rds.list_tags_for_resource,
            ResourceName=snapshot["DBClusterSnapshotArn"],
        ).get("TagList", [])
    return {str(tag.get("Key")): str(tag.get("Value")) for tag in listed}


def prune_snapshots(
    *, rds: Any, cluster: str, deployment: str, retention_days: int, keep: str, now: datetime
) -> list[str]:
    """Delete the deployer's manual snapshots of `cluster` for `deployment` taken more than `retention_days` before
    `now`, never `keep` (the one just taken); returns the identifiers deleted, oldest first."""
    cutoff = now - timedelta(days=retention_days)
    paginator = rds.get_paginator("describe_db_cluster_snapshots")
    pages = _rds_call(
        f"listing the snapshots of cluster {cluster}",
        lambda: list(paginator.paginate(DBClusterIdentifier=cluster, SnapshotType="manual")),
    )
    old = [
        snapshot
        for page in pages
        for snapshot in page.get("DBClusterSnapshots", [])
        if snapshot.get("DBClusterSnapshotIdentifier") != keep
        and isinstance(snapshot.get("SnapshotCreateTime"), datetime)
        and snapshot["SnapshotCreateTime"] < cutoff
        and _tags(rds, snapshot).get(TAG_KEY) == deployment
    ]
    old.sort(key=lambda snapshot: snapshot["SnapshotCreateTime"])
    deleted = []
    for snapshot in old:
        identifier = str(snapshot["DBClusterSnapshotIdentifier"])
        _rds_call(
            f"deleting snapshot {identifier}",
            rds.delete_db_cluster_snapshot,
            DBClusterSnapshotIdentifier=identifier,
        )
        deleted.append(identifier)
    if deleted:
        logger.info("old database snapshots pruned", cluster=cluster, deleted=deleted, retention_days=retention_days)
    return deleted
