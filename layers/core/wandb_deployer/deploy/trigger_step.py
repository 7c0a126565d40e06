"""A Parameter Store change under the prefix: record the new desired state and start a run unless one is running."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import parse_parameter_name
from wandb_deployer.deploy.paths import parameter_name
from wandb_deployer.errors import InvalidDeploymentNameError, TransientAwsError
from wandb_deployer.runs.desired import record_desired_change, start_run_unless_running
from wandb_deployer.settings import Settings

logger = Logger(child=True)


def _is_paused(deployment: str, prefix: str, ssm: Any) -> bool:
    try:
        value = ssm.get_parameter(Name=parameter_name(prefix, deployment, "deployer", "paused"))["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            return False
        raise TransientAwsError("reading deployer/paused failed") from exc
    return str(value).strip().lower() == "true"


def on_parameter_change(name: str, settings: Settings) -> str | None:
    """Returns the started execution's ARN, or None (ignored, paused, or left to the running execution)."""
    try:
        parsed = parse_parameter_name(name, settings.parameter_prefix)
    except InvalidDeploymentNameError:
        logger.warning("parameter change ignored: name outside the layout", parameter=name)
        return None
    dynamodb = client("dynamodb")
    record_desired_change(
        deployment=parsed.deployment, parameter_name=name, table=settings.deployments_table, dynamodb=dynamodb
    )
    # A paused deployment starts nothing; `start_run_unless_running` notes the pause next to the pending change.
    return start_run_unless_running(
        deployment=parsed.deployment,
        trigger="parameter-change",
        state_machine_arn=settings.deploy_state_machine_arn,
        sfn=client("stepfunctions"),
        dynamodb=dynamodb,
        table=settings.deployments_table,
        paused=_is_paused(parsed.deployment, settings.parameter_prefix, client("ssm")),
    )
