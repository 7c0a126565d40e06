"""A Parameter Store change under the prefix starts (or coalesces into) a deploy run (EventBridge rule target)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.envelopes import EventBridgeEnvelope
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.trigger_step import on_parameter_change
from wandb_deployer.events import ParameterStoreChange
from wandb_deployer.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ParameterStoreChange, envelope=EventBridgeEnvelope)
def lambda_handler(event: ParameterStoreChange, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(parameter=event.name, operation=event.operation)
    execution_arn = on_parameter_change(event.name, get_settings())
    metrics.add_metric(name="RunStarted" if execution_arn else "ChangeCoalesced", unit=MetricUnit.Count, value=1)
    return {"execution_arn": execution_arn}
