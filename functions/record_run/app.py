"""Record a run event in the history and notify (Deploy workflow: Record ...)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.record_step import record_and_notify
from wandb_deployer.settings import get_settings
from wandb_deployer.states import RecordRunInput

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=RecordRunInput)
def lambda_handler(event: RecordRunInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(deployment=event.deployment)
    record_and_notify(event, get_settings())
    metrics.add_metric(name="RunRecorded", unit=MetricUnit.Count, value=1)
    return {"recorded": event.outcome}
