"""An `Upgrade Requested` event: guard it, write accepted versions to SSM (the SSM change then deploys them)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import DEPLOYMENT_NAME_PATTERN, DeploymentConfig
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.errors import UpgradeRejectedError
from wandb_deployer.settings import Settings
from wandb_deployer.upgrade.outcome import record_upgrade_outcome
from wandb_deployer.upgrade.request import process_upgrade_request

logger = Logger(child=True)


def handle_upgrade_request(detail: Mapping[str, object], settings: Settings) -> dict[str, object]:
    """A rejection is answered (an Upgrade Rejected event) and final: not raised, so EventBridge does not retry."""
    ssm = client("ssm")

    def load(deployment: str) -> DeploymentConfig:
        # The guards read versions only: secret inputs stay unread (and the license and API key always do).
        return load_deployment_config(deployment, prefix=settings.parameter_prefix, ssm=ssm, with_secrets=False)

    table, dynamodb = settings.deployments_table, client("dynamodb")
    request_id = detail.get("request_id")
    request_id = request_id if isinstance(request_id, str) else None
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
            table=table,
            dynamodb=dynamodb,
        )
    except UpgradeRejectedError as exc:
        if re.match(DEPLOYMENT_NAME_PATTERN, exc.deployment):  # a request naming no valid deployment has no record
            record_upgrade_outcome(
                deployment=exc.deployment,
                accepted=False,
                request_id=request_id,
                requested_by=str(detail.get("requested_by") or "unknown"),
                reasons=exc.reasons,
                table=table,
                dynamodb=dynamodb,
            )
        return {"accepted": False, "deployment": exc.deployment, "reasons": exc.reasons}
    record_upgrade_outcome(
        deployment=plan.deployment,
        accepted=True,
        request_id=request_id,
        requested_by=plan.requested_by,
        changes=plan.writes,
        notes=plan.notes,
        table=table,
        dynamodb=dynamodb,
    )
    return {"accepted": True, "deployment": plan.deployment, "parameters": [w.name for w in plan.writes]}
