"""Start of a run: take the deployment's lock, then clear a Terraform state lock left behind by a killed build."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.paths import state_key
from wandb_deployer.runs.lock import acquire_lock, release_stale_state_lock
from wandb_deployer.settings import Settings
from wandb_deployer.states import LockInput, LockResult

logger = Logger(child=True)

# A run's lock outlives the longest approval wait plus plan, apply and verification (CodeBuild's own limit is 8 h).
RUN_LEASE_BEYOND_APPROVAL_SECONDS = 8 * 3600


def acquire(request: LockInput, settings: Settings) -> LockResult:
    """Raises DeploymentLockedError when a live execution (or a live build) holds the deployment."""
    lock = acquire_lock(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        table=settings.deployments_table,
        dynamodb=client("dynamodb"),
        sfn=client("stepfunctions"),
        lease_seconds=settings.approval_timeout_seconds + RUN_LEASE_BEYOND_APPROVAL_SECONDS,
    )
    released = release_stale_state_lock(
        deployment=request.deployment,
        state_bucket=settings.state_bucket,
        state_key=state_key(request.deployment),
        artifacts_bucket=settings.artifacts_bucket,
        s3=client("s3"),
        codebuild=client("codebuild"),
    )
    if lock.took_over_from:
        logger.warning("lock taken over from a finished execution", previous_owner=lock.took_over_from)
    if released:
        logger.warning("stale terraform state lock released")
    return lock.model_copy(update={"released_state_lock": released})
