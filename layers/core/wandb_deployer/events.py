"""Models of the EventBridge events the deployer consumes (the `detail` part; the envelope is powertools')."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict


class ParameterStoreChange(BaseModel):
    """detail of `aws.ssm` / `Parameter Store Change`.

    AWS documents the operations Create, Update, Delete and LabelParameterVersion (sysman-paramstore-cwe), and an
    `exception` naming why an operation failed (parameter-store-ec2-aliases: `"exception": "Unable to Describe
    Resource"` on a Create that did not happen)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    operation: str
    name: str
    type: str = ""
    description: str = ""
    exception: str | None = None


class ParameterStoreChangeEvent(EventBridgeModel):
    """The whole `Parameter Store Change` event: the envelope's account and region decide whether it is ours."""

    detail: ParameterStoreChange


class UpgradeRequestedEvent(EventBridgeModel):
    """`wandb-deployer` / `Upgrade Requested` on the deployer's bus; the detail is validated by the upgrade guards."""

    detail: dict[str, Any]
