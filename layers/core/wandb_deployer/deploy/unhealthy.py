"""After an apply whose health check failed until its deadline: offer the exact rollback command, and with
deployer/on_unhealthy `rollback` start the rollback at the end of the run, never twice in a row.

"Never twice in a row": a run that failed its health check after an automatic rollback (the rollback's own run, or
the run right after it) does not roll back again; it notifies, and people decide. The rollback itself goes the way
of every change (see `runs.rollback`): written to SSM, then validated, planned and gated by its own run.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from wandb_deployer.errors import DeployerError, RollbackUnavailableError
from wandb_deployer.runs.history import RunRecord, list_runs, record_run_details
from wandb_deployer.runs.notify import notify
from wandb_deployer.runs.rollback import find_target, plan_rollback, rollback_command, write_rollback
from wandb_deployer.settings import Settings
from wandb_deployer.states import FinishRunInput, RunContext

logger = Logger(child=True)

HEALTH_DEADLINE_ERROR = "HealthCheckFailedError"  # the error `Health deadline passed` gives the run
AUTOMATIC_BY = "wandb-deployer (deployer/on_unhealthy: rollback)"
_HISTORY_DEPTH = 10


def unhealthy_after_apply(context: RunContext) -> bool:
    """The run applied its plan and W&B stayed unhealthy until the deadline."""
    return context.error is not None and context.error.Error == HEALTH_DEADLINE_ERROR


def rollback_offer(*, deployment: str, table: str, dynamodb: Any) -> str | None:
    """The command that rolls back to the newest succeeded run; None when there is no such run."""
    try:
        target = find_target(deployment=deployment, table=table, dynamodb=dynamodb)
    except RollbackUnavailableError:
        return None
    return rollback_command(deployment, target.execution_name)


def _previous_run(runs: list[RunRecord], execution_arn: str) -> RunRecord | None:
    arns = [run.execution_arn for run in runs]
    older = runs[arns.index(execution_arn) + 1 :] if execution_arn in arns else runs
    return older[0] if older else None


def rolled_back_before(*, deployment: str, execution_arn: str, table: str, dynamodb: Any) -> bool:
    """The run before this one started an automatic rollback (so this one must not start another)."""
    runs = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=_HISTORY_DEPTH)
    previous = _previous_run(runs, execution_arn)
    rollback = previous.details.get("rollback") if previous is not None else None
    return isinstance(rollback, dict) and rollback.get("automatic") is True and rollback.get("started") is True


def _attempt(request: FinishRunInput, settings: Settings, clients: dict[str, Any]) -> dict[str, object]:
    table, dynamodb = settings.deployments_table, clients["dynamodb"]
    if request.trigger == "rollback" or rolled_back_before(
        deployment=request.deployment, execution_arn=request.execution_arn, table=table, dynamodb=dynamodb
    ):
        return {"automatic": True, "started": False, "why": "the previous change was an automatic rollback: not twice"}
    target = find_target(deployment=request.deployment, table=table, dynamodb=dynamodb)
    plan = plan_rollback(
        target,
        prefix=settings.parameter_prefix,
        ssm=clients["ssm"],
        table=table,
        dynamodb=dynamodb,
        who=AUTOMATIC_BY,
        read_secrets=False,
    )
    outcome: dict[str, object] = {
        "automatic": True,
        "to": target.execution_name,
        "command": rollback_command(request.deployment, target.execution_name),
    }
    if not plan.has_changes:
        return {**outcome, "started": False, "why": f"SSM already holds the config of {target.execution_name}"}
    written = write_rollback(plan, ssm=clients["ssm"], table=table, dynamodb=dynamodb, who=AUTOMATIC_BY)
    return {**outcome, "started": True, "written": written.written, "deleted": written.deleted}


def roll_back_if_asked(request: FinishRunInput, settings: Settings, clients: dict[str, Any]) -> dict[str, object]:
    """Start the rollback of a run that stayed unhealthy (deployer/on_unhealthy: rollback), record what happened with
    the run and notify. A rollback that cannot start (refused by the guards, nothing to roll back to) is recorded and
    notified, and fails nothing: the run has failed already."""
    try:
        outcome = _attempt(request, settings, clients)
    except DeployerError as exc:
        outcome = {"automatic": True, "started": False, "why": str(exc)}
    logger.info("automatic rollback", started=outcome.get("started"), to=outcome.get("to"), why=outcome.get("why"))
    record_run_details(
        deployment=request.deployment,
        execution_arn=request.execution_arn,
        details={"rollback": outcome},
        table=settings.deployments_table,
        dynamodb=clients["dynamodb"],
    )
    try:
        notify(
            event="Rollback Started" if outcome.get("started") else "Rollback Not Started",
            deployment=request.deployment,
            detail={"execution_arn": request.execution_arn, **outcome},
            sns=clients["sns"],
            events=clients["events"],
            topic_arn=settings.notifications_topic_arn,
            bus_name=settings.event_bus_name,
        )
    except DeployerError as exc:  # recorded above; a retry of the whole step would not start the rollback again
        logger.warning("rollback notification not sent", error=str(exc))
    return outcome
