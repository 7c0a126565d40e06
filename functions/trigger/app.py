"""A Parameter Store change under the prefix starts (or coalesces into) a deploy run (EventBridge rule target)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.trigger_step import on_parameter_change
from wandb_deployer.events import ParameterStoreChangeEvent
from wandb_deployer.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ParameterStoreChangeEvent)
def lambda_handler(event: ParameterStoreChangeEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(parameter=event.detail.name, operation=event.detail.operation)
    outcome = on_parameter_change(event, get_settings(), function_arn=context.invoked_function_arn)
    if outcome.ignored is not None:
        metrics.add_dimension(name="reason", value=outcome.ignored)
        metrics.add_metric(name="ParameterChangeIgnored", unit=MetricUnit.Count, value=1)
    else:
        name = "RunStarted" if outcome.execution_arn else "ChangeCoalesced"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    return {"execution_arn": outcome.execution_arn, "ignored": outcome.ignored}
