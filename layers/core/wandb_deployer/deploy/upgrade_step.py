"""An `Upgrade Requested` event: guard it, write accepted versions to SSM (the SSM change then deploys them)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.errors import UpgradeRejectedError
from wandb_deployer.settings import Settings
from wandb_deployer.upgrade.request import process_upgrade_request

logger = Logger(child=True)


def handle_upgrade_request(detail: Mapping[str, object], settings: Settings) -> dict[str, object]:
    """A rejection is answered (an Upgrade Rejected event) and final: not raised, so EventBridge does not retry."""
    ssm = client("ssm")

    def load(deployment: str) -> DeploymentConfig:
        return load_deployment_config(deployment, prefix=settings.parameter_prefix, ssm=ssm)

    try:
        plan = process_upgrade_request(
            detail,
            load_config=load,
            prefix=settings.parameter_prefix,
            ssm=ssm,
            sns=client("sns"),
            events=client("events"),
            topic_arn=settings.notifications_topic_arn,
            bus_name=settings.event_bus_name,
        )
    except UpgradeRejectedError as exc:
        return {"accepted": False, "deployment": exc.deployment, "reasons": exc.reasons}
    return {"accepted": True, "deployment": plan.deployment, "parameters": [w.name for w in plan.writes]}
