"""Snapshot the database before a risky apply, and wait for it (Deploy workflow: Snapshot database, Check snapshot)."""

from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.deploy.snapshot_step import snapshot
from wandb_deployer.errors import DatabaseSnapshotError
from wandb_deployer.states import SnapshotInput, SnapshotResult


def _outcome(result: SnapshotResult) -> str:
    return "DatabaseSnapshotAvailable" if result.available else "DatabaseSnapshotPending"


lambda_handler = workflow_step(
    SnapshotInput, snapshot, metric=_outcome, failure_metrics={DatabaseSnapshotError: "DatabaseSnapshotFailed"}
)
