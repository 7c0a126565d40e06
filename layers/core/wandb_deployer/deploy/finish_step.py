"""End of every run, success or failure: stop a stray build, mark what was applied, release the lock, and start the
next run when the desired state moved while this one was running (coalescing: no lost updates)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import deployment_paused
from wandb_deployer.deploy.unhealthy import roll_back_if_asked, unhealthy_after_apply
from wandb_deployer.errors import DeployerError
from wandb_deployer.runs import aws_failure
from wandb_deployer.runs.approval import withdraw_pending_approval
from wandb_deployer.runs.desired import desired_moved, mark_applied, start_run_unless_running
from wandb_deployer.runs.lock import build_status, holder_marker_key, read_holder_marker, release_lock
from wandb_deployer.settings import Settings
from wandb_deployer.states import FinishRunInput, FinishRunResult

logger = Logger(child=True)


def stop_stray_build(*, deployment: str, artifacts_bucket: str, s3: Any, codebuild: Any) -> str | None:
    """A failed or timed-out workflow may leave its Terraform build running; stop it (its holder marker names it).

    Returns the id of the build it stopped, None when no build named by the marker is running."""
    marker = read_holder_marker(s3, artifacts_bucket, holder_marker_key(deployment))
    build_id = str(marker.get("build_id", "")) if marker else ""
    if not build_id or build_status(codebuild, build_id) != "IN_PROGRESS":
        return None
    try:
        codebuild.stop_build(id=build_id)
    except ClientError as exc:
        raise aws_failure(exc, operation="StopBuild") from exc
    logger.warning("stray build stopped", build_id=build_id)
    return build_id


def finish(request: FinishRunInput, settings: Settings) -> FinishRunResult:
    dynamodb = client("dynamodb")
    table = settings.deployments_table
    loaded = request.context.loaded
    if request.outcome == "failed":
        try:
            stop_stray_build(
                deployment=request.deployment,
                artifacts_bucket=settings.artifacts_bucket,
                s3=client("s3"),
                codebuild=client("codebuild"),
            )
        except DeployerError as exc:
            # The lock is released all the same: a build still running keeps the next run out by itself (the next
            # run's lock step refuses while a running build holds the Terraform state lock).
            logger.warning("stray build not stopped", deployment=request.deployment, error=str(exc))
    if request.outcome == "succeeded" and loaded is not None:
        mark_applied(
            deployment=request.deployment,
            fingerprint=loaded.fingerprint,
            execution_arn=request.execution_arn,
            table=table,
            dynamodb=dynamodb,
            generation=loaded.desired_generation,
            wandb_generation=loaded.generation,
            allow_downgrade=loaded.allow_downgrade,
            approval=loaded.approval,
        )
    if request.outcome in ("failed", "rejected"):
        withdraw_pending_approval(
            deployment=request.deployment, execution_arn=request.execution_arn, table=table, dynamodb=dynamodb
        )
    released = release_lock(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        table=table,
        dynamodb=dynamodb,
    )
    if (
        request.outcome == "failed"
        and loaded is not None
        and loaded.on_unhealthy == "rollback"
        and unhealthy_after_apply(request.context)
    ):  # after the release: the run the rollback's writes start may take the lock
        clients = {name: client(name) for name in ("dynamodb", "ssm", "sns", "events")}
        roll_back_if_asked(request, settings, clients)
    next_arn: str | None = None
    if loaded is not None and desired_moved(
        deployment=request.deployment, applied_generation=loaded.desired_generation, table=table, dynamodb=dynamodb
    ):
        # A pause holds for reruns too: the change stays pending until the deployment is resumed.
        next_arn = start_run_unless_running(
            deployment=request.deployment,
            trigger="rerun",
            state_machine_arn=settings.deploy_state_machine_arn,
            sfn=client("stepfunctions"),
            dynamodb=dynamodb,
            table=table,
            paused=deployment_paused(request.deployment, prefix=settings.parameter_prefix, ssm=client("ssm")),
        )
        logger.info("desired state moved during the run", next_execution=next_arn)
    return FinishRunResult(deployment=request.deployment, released=released, next_execution_arn=next_arn)
