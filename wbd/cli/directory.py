"""Where the deployer's resources are: the stack writes them to one SSM parameter (`<prefix>-stack`)."""

from __future__ import annotations

import json

import typer
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, ConfigDict, ValidationError

from wandb_deployer.aws_clients import client


class DeployerDirectory(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    artifacts_bucket: str
    state_bucket: str
    deployments_table: str
    deploy_state_machine_arn: str
    drift_state_machine_arn: str = ""
    event_bus_name: str
    notifications_topic_arn: str = ""
    codebuild_project_name: str = ""
    parameter_prefix: str = "/wandb-deployer"


def load_directory(prefix: str) -> DeployerDirectory:
    """Read `<prefix>-stack`; a clear CLI error (exit 2) when the deployer is not deployed where boto3 points."""
    name = f"{prefix}-stack"
    try:
        value = client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
        return DeployerDirectory.model_validate(json.loads(value))
    except ClientError as exc:
        typer.echo(
            f"error: cannot read {name} ({exc.response['Error']['Code']}): is wandb-deployer deployed in this "
            "account/region (or is AWS_ENDPOINT_URL pointing at a running sandbox)?",
            err=True,
        )
        raise typer.Exit(2) from exc
    except (BotoCoreError, ValidationError, json.JSONDecodeError) as exc:
        typer.echo(f"error: {name} could not be read as the deployer's directory: {exc}", err=True)
        raise typer.Exit(2) from exc
