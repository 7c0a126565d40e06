"""Read the Terraform outputs and verify the S3 -> SQS wiring (Deploy workflow: Verify wiring)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.verify_step import verify
from wandb_deployer.errors import WiringCheckFailedError
from wandb_deployer.settings import get_settings
from wandb_deployer.states import VerifyInput

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=VerifyInput)
def lambda_handler(event: VerifyInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(deployment=event.deployment)
    try:
        result = verify(event, get_settings(), get_settings().aws_region)
    except WiringCheckFailedError:
        metrics.add_metric(name="WiringBroken", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="WiringVerified", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
