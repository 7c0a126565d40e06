"""End a run: mark applied, stop a stray build, release the lock, start the next run (Deploy workflow: Finish run)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.finish_step import finish
from wandb_deployer.settings import get_settings
from wandb_deployer.states import FinishRunInput

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FinishRunInput)
def lambda_handler(event: FinishRunInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(deployment=event.deployment)
    result = finish(event, get_settings())
    metrics.add_metric(name="RunFinished", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
