"""`wbd runs`, `wbd status`, `wbd approve`, `wbd reject`, `wbd watch`: a deployment's runs and its approval gate."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from botocore.exceptions import ClientError
from rich.console import Console, Group
from rich.text import Text

from wandb_deployer.errors import ApprovalTooEarlyError
from wandb_deployer.runs.approval import PendingApproval, answer_approval, caller_identity
from wandb_deployer.runs.history import RunRecord, deployment_status, find_runs, list_runs, read_run
from wandb_deployer.runs.steps import execution_history
from wbd.cli.aws import current
from wbd.cli.command import Outcome, command, out
from wbd.cli.deployments import require_deployment
from wbd.cli.errors import CliError, ExitCode
from wbd.cli.run_views import changes_table, counts_text, outcome_code, run_view, runs_table
from wbd.cli.status_view import gather_status, show_status
from wbd.run_progress import follow_execution

DeploymentArgument = Annotated[str, typer.Argument(help="Deployment name.", show_default=False)]
LATEST = "latest"


def _table_and_dynamodb() -> tuple[str, object]:
    context = current()
    return context.directory.deployments_table, context.client("dynamodb")


def _one_run(deployment: str, name: str) -> RunRecord:
    table, dynamodb = _table_and_dynamodb()
    if name == LATEST:
        found = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=1)
    else:
        found = find_runs(deployment=deployment, name=name, table=table, dynamodb=dynamodb)
    if not found:
        raise CliError(f"{deployment} has no run {name!r} among its recent runs (wbd runs {deployment} lists them)")
    if len(found) > 1:
        names = ", ".join(run.execution_name for run in found[:5])
        raise CliError(f"{name!r} matches {len(found)} runs of {deployment} ({names}): give more of the name")
    return found[0]


def runs(
    deployment: DeploymentArgument,
    run: Annotated[
        str | None,
        typer.Argument(help="One run to show whole: its name, a unique part of it, or `latest`.", show_default=False),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many runs, newest first.")] = 20,
) -> Outcome:
    """Show a deployment's runs, newest first, with why each ended; or one run whole (exit 1 if it failed)."""
    require_deployment(deployment, history_ok=True)
    if run is not None:
        record = _one_run(deployment, run)
        return Outcome(
            data=record, show=lambda console: console.print(run_view(record)), code=outcome_code(record.outcome)
        )
    table, dynamodb = _table_and_dynamodb()
    records = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=limit)
    return Outcome(
        data={"deployment": deployment, "runs": records}, show=lambda c: c.print(runs_table(deployment, records))
    )


def status(deployment: DeploymentArgument) -> Outcome:
    """Is the deployment in sync (or what differs), what runs now, what waits for approval, the last drift and
    rejection."""
    require_deployment(deployment, history_ok=True)
    report = gather_status(deployment)
    return Outcome(data=report, show=show_status(report))


def _pending(deployment: str) -> PendingApproval:
    table, dynamodb = _table_and_dynamodb()
    pending = deployment_status(deployment=deployment, table=table, dynamodb=dynamodb).pending_approval
    if pending is None:
        raise CliError(f"{deployment} has no plan waiting for approval (wbd status {deployment})", ExitCode.NEGATIVE)
    return pending


def _approval_summary(pending: PendingApproval, verb: str) -> Group:
    """What is being approved or rejected: the plan's counts, its destructive changes and the parameters behind it."""
    table, dynamodb = _table_and_dynamodb()
    record = read_run(
        deployment=pending.deployment, execution_arn=pending.execution_arn, table=table, dynamodb=dynamodb
    )
    changes = list((record.details.get("changes") if record else None) or [])
    parts: list[object] = [
        Text(f"{verb} plan {pending.plan_sha256} of {pending.deployment}", style="bold"),
        Text(f"  run {pending.execution_arn.rsplit(':', 1)[-1]}, waiting since {pending.requested_at[:19]}Z"),
        Text(f"  {counts_text(pending.counts.model_dump())}"),
    ]
    parts += [Text(f"  destructive: {address}", style="red") for address in pending.destructive]
    if pending.approvable_from is not None:
        parts.append(Text(f"  {pending.approvable_line()}", style="yellow"))
    gate = (record.details.get("gate") if record else None) or {}
    snapshot = list(gate.get("snapshot") or []) if isinstance(gate, dict) else []
    if snapshot:
        parts.append(Text("  a database snapshot is taken before the apply: " + "; ".join(snapshot), style="yellow"))
    if changes:
        parts.append(changes_table(changes, title="  because these parameters changed"))
    return Group(*parts)  # type: ignore[arg-type]


def _answer(deployment: str, *, plan: str, approve: bool, reason: str) -> None:
    table, dynamodb = _table_and_dynamodb()
    answer_approval(
        deployment=deployment,
        plan_sha256=plan,
        approve=approve,
        who=caller_identity(current().client("sts")),
        reason=reason,
        sfn=current().client("stepfunctions"),
        table=table,
        dynamodb=dynamodb,
    )


def approve(
    deployment: DeploymentArgument,
    plan: Annotated[
        str, typer.Option("--plan", help="sha256 of the plan you reviewed (from wbd status or the notification).")
    ],
) -> None:
    """Approve exactly one plan (it is shown first): an approval naming any other sha256, or one before the time its
    runbook step may be approved (exit 1, the approval stays pending), is refused and nothing is sent."""
    require_deployment(deployment)
    pending = _pending(deployment)
    out.print(_approval_summary(pending, "approving"))
    try:
        _answer(deployment, plan=plan, approve=True, reason="approved")
    except ApprovalTooEarlyError as exc:
        raise CliError(str(exc), ExitCode.NEGATIVE) from exc
    out.print(f"approved plan {pending.plan_sha256} of {deployment}; the run applies exactly that plan now")


def reject(
    deployment: DeploymentArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why (recorded in the run history).")],
    plan: Annotated[str, typer.Option("--plan", help="sha256 of the plan (default: the pending one).")] = "",
) -> None:
    """Reject the pending plan; the run ends cleanly without applying anything."""
    require_deployment(deployment)
    pending = _pending(deployment)
    out.print(_approval_summary(pending, "rejecting"))
    _answer(deployment, plan=plan or pending.plan_sha256, approve=False, reason=reason)
    out.print(f"rejected plan {pending.plan_sha256} of {deployment}: nothing is applied")


def _newest_execution(deployment: str, wait: float = 15.0) -> str | None:
    """The run holding the lock (the trigger reserves it a moment before the execution exists), else the newest run."""
    table, dynamodb = _table_and_dynamodb()
    sfn = current().client("stepfunctions")
    deadline = time.monotonic() + wait
    while True:
        status_now = deployment_status(deployment=deployment, table=table, dynamodb=dynamodb)
        newest = status_now.last_run.execution_arn if status_now.last_run else None
        if status_now.lock is None:
            return newest
        try:
            sfn.describe_execution(executionArn=status_now.lock.owner)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
                raise
            if time.monotonic() > deadline:
                return newest
            time.sleep(0.5)
            continue
        return status_now.lock.owner


def watch(
    deployment: DeploymentArgument,
    timeout: Annotated[float, typer.Option(min=1, help="Stop following after this many seconds.")] = 4 * 3600,
) -> Outcome:
    """Follow the deployment's newest run live until it ends; exit 0 if it succeeded, 1 if it failed or was rejected."""
    require_deployment(deployment, history_ok=True)
    arn = _newest_execution(deployment)
    if arn is None:
        raise CliError(f"{deployment} has no runs yet", ExitCode.NEGATIVE)
    sfn = current().client("stepfunctions")
    follow_execution(
        execution_arn=arn,
        describe=lambda execution: dict(sfn.describe_execution(executionArn=execution)),
        history=lambda execution: execution_history(execution, sfn=sfn),
        console=out,
        title=f"{deployment}: {arn.rsplit(':', 1)[-1]}",
        timeout=timeout,
    )
    table, dynamodb = _table_and_dynamodb()
    record = _settled_record(deployment, arn, table, dynamodb)
    if record is None:
        raise CliError(f"run {arn.rsplit(':', 1)[-1]} left no record (it ended before it took the lock)")

    def show(console: Console) -> None:
        console.print(run_view(record))
        if not record.ended:
            console.print(f"still {record.outcome} after {timeout:.0f} s; wbd watch {deployment} follows it again")

    return Outcome(data=record, show=show, code=outcome_code(record.outcome) if record.ended else ExitCode.NEGATIVE)


def _settled_record(deployment: str, arn: str, table: str, dynamodb: object, wait: float = 10.0) -> RunRecord | None:
    """The run's record once its last step wrote it (the execution may end a moment before its record says so)."""
    deadline = time.monotonic() + wait
    while True:
        record = read_run(deployment=deployment, execution_arn=arn, table=table, dynamodb=dynamodb)
        if (record is not None and record.ended) or time.monotonic() > deadline:
            return record
        time.sleep(0.2)


def register(app: typer.Typer) -> None:
    command(app, json_output=True)(runs)
    command(app, json_output=True)(status)
    command(app)(approve)
    command(app)(reject)
    command(app)(watch)
