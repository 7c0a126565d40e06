"""`wbd runs`, `wbd status`, `wbd approve`, `wbd reject`: a deployment's runs and its approval gate."""

from __future__ import annotations

import getpass

import typer
from rich.console import Console
from rich.table import Table

from wandb_deployer.aws_clients import client
from wandb_deployer.errors import DeployerError
from wandb_deployer.runs.approval import answer_approval
from wandb_deployer.runs.history import deployment_status, list_runs
from wbd.cli.directory import load_directory

console = Console()
PREFIX_OPTION = typer.Option("/wandb-deployer", "--prefix", help="SSM prefix the deployer watches.")


def runs(
    deployment: str = typer.Argument(..., help="Deployment name."),
    limit: int = typer.Option(20, min=1, max=200, help="How many runs, newest first."),
    prefix: str = PREFIX_OPTION,
) -> None:
    """Show a deployment's run history, newest first."""
    directory = load_directory(prefix)
    records = list_runs(
        deployment=deployment, table=directory.deployments_table, dynamodb=client("dynamodb"), limit=limit
    )
    table = Table(title=f"runs of {deployment}")
    for column in ("started", "execution", "trigger", "outcome", "seconds", "fingerprint", "error"):
        table.add_column(column)
    for record in records:
        table.add_row(
            record.started_at,
            record.execution_name,
            record.trigger or "",
            record.outcome,
            f"{record.duration_seconds:.0f}" if record.duration_seconds is not None else "",
            (record.fingerprint or "")[:12],
            record.error or "",
        )
    console.print(table)


def status(deployment: str = typer.Argument(..., help="Deployment name."), prefix: str = PREFIX_OPTION) -> None:
    """Show the lock, desired vs applied state, the last run and any pending approval."""
    directory = load_directory(prefix)
    current = deployment_status(deployment=deployment, table=directory.deployments_table, dynamodb=client("dynamodb"))
    table = Table(title=f"status of {deployment}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("lock", current.lock.owner if current.lock else "free")
    table.add_row("desired generation", str(current.desired.generation) if current.desired else "-")
    table.add_row("applied fingerprint", current.applied.fingerprint[:16] if current.applied else "-")
    if current.last_run:
        table.add_row("last run", f"{current.last_run.execution_name}: {current.last_run.outcome}")
    if current.pending_approval:
        table.add_row("waiting for approval", f"plan {current.pending_approval.plan_sha256}")
    console.print(table)


def approve(
    deployment: str = typer.Argument(..., help="Deployment name."),
    plan: str = typer.Option(
        ..., "--plan", help="sha256 of the plan you reviewed (from the notification or wbd status)."
    ),
    prefix: str = PREFIX_OPTION,
) -> None:
    """Approve exactly one plan: an approval naming any other sha256 is refused and changes nothing."""
    _answer(deployment, plan=plan, approve=True, reason="approved", prefix=prefix)
    console.print(f"approved plan {plan} of {deployment}; the run applies it now")


def reject(
    deployment: str = typer.Argument(..., help="Deployment name."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the run history)."),
    plan: str = typer.Option("", "--plan", help="sha256 of the plan (default: the pending one)."),
    prefix: str = PREFIX_OPTION,
) -> None:
    """Reject the pending plan; the run ends cleanly without applying anything."""
    _answer(deployment, plan=plan, approve=False, reason=reason, prefix=prefix)
    console.print(f"rejected the pending plan of {deployment}")


def _answer(deployment: str, *, plan: str, approve: bool, reason: str, prefix: str) -> None:
    directory = load_directory(prefix)
    dynamodb = client("dynamodb")
    if not plan:
        pending = deployment_status(
            deployment=deployment, table=directory.deployments_table, dynamodb=dynamodb
        ).pending_approval
        plan = pending.plan_sha256 if pending else ""
    try:
        answer_approval(
            deployment=deployment,
            plan_sha256=plan,
            approve=approve,
            who=getpass.getuser(),
            reason=reason,
            sfn=client("stepfunctions"),
            table=directory.deployments_table,
            dynamodb=dynamodb,
        )
    except DeployerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def register(app: typer.Typer) -> None:
    app.command()(runs)
    app.command()(status)
    app.command()(approve)
    app.command()(reject)
