"""Models of the EventBridge events the deployer consumes (the `detail` part; the envelope is powertools')."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict


class ParameterStoreChange(BaseModel):
    """detail of `aws.ssm` / `Parameter Store Change`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    operation: str
    name: str
    type: str = ""
    description: str = ""


class UpgradeRequestedEvent(EventBridgeModel):
    """`wandb-deployer` / `Upgrade Requested` on the deployer's bus; the detail is validated by the upgrade guards."""

    detail: dict[str, Any]
