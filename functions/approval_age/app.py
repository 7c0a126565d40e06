"""How long approvals have been waiting (scheduled): the oldest pending one's age, for the ApprovalWaiting alarm."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.aws_clients import client
from wandb_deployer.runs.approval_age import waiting_approvals
from wandb_deployer.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    waiting = waiting_approvals(table=get_settings().deployments_table, dynamodb=client("dynamodb"))
    oldest = waiting[0].age_seconds if waiting else 0
    metrics.add_metric(name="ApprovalsWaiting", unit=MetricUnit.Count, value=len(waiting))
    metrics.add_metric(name="OldestApprovalWaitSeconds", unit=MetricUnit.Seconds, value=oldest)
    for approval in waiting:
        logger.info(
            "approval waiting",
            deployment=approval.deployment,
            execution=approval.execution_arn,
            plan_sha256=approval.plan_sha256,
            age_seconds=approval.age_seconds,
        )
    return {"waiting": [approval.model_dump() for approval in waiting], "oldest_seconds": oldest}
