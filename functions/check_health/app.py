"""One health attempt on the W&B endpoint (Deploy workflow: Check health)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.health_step import check
from wandb_deployer.settings import get_settings
from wandb_deployer.states import HealthInput

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=HealthInput)
def lambda_handler(event: HealthInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(deployment=event.deployment)
    result = check(event, get_settings())
    metrics.add_metric(name="HealthChecked", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
