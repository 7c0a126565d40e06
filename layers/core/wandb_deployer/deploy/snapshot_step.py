"""Snapshot database (Deploy workflow, after approval and before apply, for a risky plan): take the Aurora cluster's
snapshot `wbd-<deployment>-<run>`, then read it until available and prune the deployer's snapshots past retention.
The run's record holds the snapshot (ARN, cluster, why, status); a failed snapshot raises DatabaseSnapshotError and
the run stops before its apply (the workflow's failure path records, notifies and releases the lock)."""

from __future__ import annotations

from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.plan.snapshot_decision import snapshot_identifier
from wandb_deployer.runs.database_snapshot import prune_snapshots, snapshot_available, start_snapshot
from wandb_deployer.runs.history import record_run_details
from wandb_deployer.settings import Settings
from wandb_deployer.states import SnapshotInput, SnapshotResult

logger = Logger(child=True)


def _record(request: SnapshotInput, settings: Settings, result: SnapshotResult, status: str) -> None:
    record_run_details(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        started_at=request.started_at,
        details={
            "database_snapshot": {
                "arn": result.arn,
                "identifier": result.identifier,
                "cluster": result.cluster,
                "reasons": request.reasons,
                "status": status,
                **({"pruned": result.pruned} if result.pruned else {}),
            }
        },
        table=settings.deployments_table,
        dynamodb=client("dynamodb"),
    )


def snapshot(request: SnapshotInput, settings: Settings, *, now: datetime | None = None) -> SnapshotResult:
    rds = client("rds", request.region or None)
    identifier = snapshot_identifier(request.deployment, request.execution_arn.rsplit(":", 1)[-1])
    if request.action == "start":
        arn = start_snapshot(rds=rds, cluster=request.cluster, identifier=identifier, deployment=request.deployment)
        result = SnapshotResult(identifier=identifier, arn=arn, cluster=request.cluster, available=False)
        _record(request, settings, result, "creating")
        return result
    result = SnapshotResult(identifier=identifier, arn=request.arn, cluster=request.cluster, available=False)
    if not snapshot_available(rds=rds, identifier=identifier):
        logger.info("database snapshot not available yet", snapshot=identifier)
        return result
    pruned = prune_snapshots(
        rds=rds,
        cluster=request.cluster,
        deployment=request.deployment,
        retention_days=request.retention_days,
        keep=identifier,
        now=now or datetime.now(UTC),
    )
    result = result.model_copy(update={"available": True, "pruned": pruned})
    _record(request, settings, result, "available")
    logger.info("database snapshot available", snapshot=identifier, pruned=len(pruned))
    return result
