"""List the deployments under the parameter prefix (Drift workflow: List deployments)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.drift_step import deployments
from wandb_deployer.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = deployments(get_settings())
    metrics.add_metric(name="DeploymentsListed", unit=MetricUnit.Count, value=len(result.deployments))
    return result.model_dump(mode="json")
