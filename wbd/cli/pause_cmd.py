"""`wbd pause` and `wbd resume`: set `deployer/paused`. A paused deployment starts no run (its changes stay recorded
as pending); resuming is a parameter change like any other, so the run it starts picks up everything pending."""

from __future__ import annotations

from typing import Annotated

import typer

from wandb_deployer.config.parameters import deployment_paused
from wbd.cli.aws import client, current
from wbd.cli.command import command, out
from wbd.cli.deployments import require_deployment

DeploymentArgument = Annotated[str, typer.Argument(help="Deployment name.", show_default=False)]


def _set(deployment: str, paused: bool) -> None:
    require_deployment(deployment)
    context, ssm = current(), client("ssm")
    if deployment_paused(deployment, prefix=context.prefix, ssm=ssm) == paused:
        out.print(f"{deployment} is already {'paused' if paused else 'not paused'}; nothing written", markup=False)
        return
    ssm.put_parameter(
        Name=f"{context.prefix}/{deployment}/deployer/paused",
        Value="true" if paused else "false",
        Type="String",
        Overwrite=True,
        Description=f"wandb-deployer {'pause' if paused else 'resume'} by wbd",
    )
    if paused:
        out.print(f"{deployment} paused: no run starts until `wbd resume {deployment}`", markup=False)
    else:
        out.print(f"{deployment} resumed: a run starts for what is pending (wbd watch {deployment})", markup=False)


def pause(deployment: DeploymentArgument) -> None:
    """Pause DEPLOYMENT: no run starts (a run in flight finishes); changes are kept and run on resume."""
    _set(deployment, True)


def resume(deployment: DeploymentArgument) -> None:
    """Resume DEPLOYMENT: the parameter change starts a run for everything that changed while it was paused."""
    _set(deployment, False)


def register(app: typer.Typer) -> None:
    command(app)(pause)
    command(app)(resume)
