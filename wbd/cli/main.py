"""`wbd`: the operator's command line."""

from __future__ import annotations

import typer

from wbd.cli import checks_cmd, config_cmd, runs_cmd, sandbox_cmd

app = typer.Typer(
    name="wbd",
    help="Operate self-managed W&B deployments through wandb-deployer (SSM parameters, runs, approvals, sandbox).",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(config_cmd.app, name="config")
app.add_typer(sandbox_cmd.app, name="sandbox")
runs_cmd.register(app)
checks_cmd.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
