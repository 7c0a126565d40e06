"""`wbd`: the operator's command line.

Commands are registered with `wbd.cli.command.command`, which gives each the AWS options (--region, --profile,
--prefix), --json for read commands, and one way to fail: a line on stderr and an exit code (`wbd.cli.errors`).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from wbd.cli import checks_cmd, config_cmd, pause_cmd, rollback_cmd, runbook_cmd, runs_cmd, sandbox_cmd

app = typer.Typer(
    name="wbd",
    help="Operate self-managed W&B deployments through wandb-deployer (SSM parameters, runs, approvals, sandbox).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def installed_version() -> str:
    try:
        return version("wandb-deployer")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"wbd {installed_version()}")
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool, typer.Option("--version", help="Print wbd's version and exit.", callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Operate self-managed W&B deployments through wandb-deployer (SSM parameters, runs, approvals, sandbox)."""


app.add_typer(config_cmd.app, name="config")
app.add_typer(sandbox_cmd.app, name="sandbox")
runs_cmd.register(app)
checks_cmd.register(app)
runbook_cmd.register(app)
rollback_cmd.register(app)
pause_cmd.register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
