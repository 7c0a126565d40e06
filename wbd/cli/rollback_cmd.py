"""`wbd rollback`: write the desired config a succeeded run applied back to SSM (see `wandb_deployer.runs.rollback`).

The writes start a deploy run like any change: validated, planned and gated by deployer/approval. Exit codes: 0
written (or SSM already holds it), 1 refused by the upgrade guards or declined, 2 nothing to roll back to or AWS
failed.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from wandb_deployer.errors import RollbackRefusedError, RollbackUnavailableError
from wandb_deployer.runs.rollback import find_target, plan_rollback, write_rollback
from wbd.cli.aws import current
from wbd.cli.command import command, out
from wbd.cli.config_cmd import diff_table
from wbd.cli.deployments import require_deployment
from wbd.cli.errors import CliError, ExitCode


def rollback(
    deployment: Annotated[str, typer.Argument(help="Deployment name.", show_default=False)],
    to: Annotated[
        str | None,
        typer.Option("--to", help="The succeeded run to go back to (its name or a unique part; default: the newest)."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Write without asking for confirmation.")] = False,
) -> None:
    """Roll DEPLOYMENT back to the config a succeeded run applied: show what changes, check the upgrade guards
    (EKS and module majors never go back), confirm, write it to SSM; the run it starts plans and asks for approval
    as deployer/approval says."""
    require_deployment(deployment, history_ok=True)
    context = current()
    table, dynamodb, ssm = context.directory.deployments_table, context.client("dynamodb"), context.client("ssm")
    who = getpass.getuser()
    try:
        target = find_target(deployment=deployment, table=table, dynamodb=dynamodb, to=to)
        plan = plan_rollback(target, prefix=context.prefix, ssm=ssm, table=table, dynamodb=dynamodb, who=who)
    except RollbackRefusedError as exc:
        lines = [*(f"refused: {reason}" for reason in exc.reasons), "nothing written"]
        raise CliError(lines, ExitCode.NEGATIVE) from exc
    except RollbackUnavailableError as exc:
        raise CliError(str(exc)) from exc
    if not plan.has_changes:
        out.print(f"{deployment}: SSM already holds the config of run {plan.target}; nothing written", markup=False)
        return
    out.print(f"rolling {deployment} back to the config of run {plan.target} ({plan.fingerprint[:12]})", markup=False)
    out.print(diff_table(plan.diff, prune=True))
    if plan.downgrade:
        out.print("this moves a version back: deployer/allow_downgrade lets the rollback's run do it, once")
    if not yes and not typer.confirm("Write these parameters?", default=False):
        raise CliError("aborted: nothing written", ExitCode.NEGATIVE)
    result = write_rollback(plan, ssm=ssm, table=table, dynamodb=dynamodb, who=who)
    out.print(
        f"wrote {result.written} parameter(s), deleted {result.deleted}; the run this starts plans and waits for "
        f"approval as deployer/approval says (wbd watch {deployment})",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    command(app)(rollback)
