"""Record a deployment's drift and notify when it is new, changed or resolved (Drift workflow: Record drift)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.drift_step import record
from wandb_deployer.settings import get_settings
from wandb_deployer.states import DriftInput

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=DriftInput)
def lambda_handler(event: DriftInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(deployment=event.deployment)
    result = record(event, get_settings())
    metrics.add_metric(name="DriftDetected" if result.drifted else "DriftClean", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
