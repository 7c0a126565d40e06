"""Validate an `Upgrade Requested` event and write the accepted versions to SSM (EventBridge rule target)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from wandb_deployer.deploy.upgrade_step import handle_upgrade_request
from wandb_deployer.events import UpgradeRequestedEvent
from wandb_deployer.settings import get_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=UpgradeRequestedEvent)
def lambda_handler(event: UpgradeRequestedEvent, context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(event_id=event.id)
    result = handle_upgrade_request(event.detail, get_settings())
    metrics.add_metric(
        name="UpgradeAccepted" if result["accepted"] else "UpgradeRejected", unit=MetricUnit.Count, value=1
    )
    return result
