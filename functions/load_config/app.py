"""Load, validate and render a deployment's desired config (Deploy workflow: LoadConfig)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.load import load_and_render
from wandb_deployer.errors import InvalidConfigError, VersionChangeRefusedError
from wandb_deployer.settings import get_settings
from wandb_deployer.states import LoadConfigInput

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=LoadConfigInput)
def lambda_handler(event: LoadConfigInput, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(deployment=event.deployment, execution=event.execution_name)
    try:
        result = load_and_render(event, get_settings())
    except InvalidConfigError as exc:
        metrics.add_metric(name="InvalidConfig", unit=MetricUnit.Count, value=1)
        logger.warning("config invalid", problems=exc.problems)
        raise
    except VersionChangeRefusedError:
        metrics.add_metric(name="VersionChangeRefused", unit=MetricUnit.Count, value=1)
        raise
    metrics.add_metric(name="ConfigRendered", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
