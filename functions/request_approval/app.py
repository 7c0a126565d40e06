"""Store the approval token bound to the plan sha256 and ask for approval (Deploy workflow: Wait for approval)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.approval_step import request_approval
from wandb_deployer.settings import get_settings
from wandb_deployer.states import ApprovalRequest

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ApprovalRequest)
def lambda_handler(event: ApprovalRequest, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(deployment=event.deployment)
    request_approval(event, get_settings(), get_settings().approval_timeout_seconds)
    metrics.add_metric(name="ApprovalRequested", unit=MetricUnit.Count, value=1)
    return {"requested": True}
