"""`wbd runbook` and `wbd upgrade --plan`: a major transition's runbook before it starts, while it runs, after it
stopped; aborting it; and restoring the state version recorded before its first apply with the configuration of the
last good run (`--restore`, see `wandb_deployer.upgrade.runbook_restore`), with the operator's own credentials."""

from __future__ import annotations

import getpass
import shlex
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.errors import InvalidConfigError, RunbookRestoreRefusedError, UpgradeRejectedError
from wandb_deployer.upgrade.guards import UpgradeRequest, evaluate_upgrade
from wandb_deployer.upgrade.runbook_record import RunbookState, read_runbook, save_runbook
from wandb_deployer.upgrade.runbook_restore import RestorePlan, apply_restore, plan_restore
from wandb_deployer.upgrade.runbooks import Runbook, license_staging, runbook_for
from wbd.cli.aws import client, current
from wbd.cli.command import Outcome, command, err
from wbd.cli.config_cmd import diff_table
from wbd.cli.deployments import require_deployment
from wbd.cli.errors import CliError, ExitCode

DeploymentArgument = Annotated[str, typer.Argument(help="Deployment name.", show_default=False)]
_STYLE = {"succeeded": "green", "running": "cyan", "stopped": "red", "pending": "dim", "restored": "yellow"}


def runbook_view(runbook: Runbook, state: RunbookState | None = None) -> RenderableType:
    """Every step: what it changes, what it checks first, which plan shapes stop it, and (running) where it is."""
    head = f"runbook {runbook.transition} for {runbook.deployment}: {runbook.from_module_version} -> "
    head += f"{runbook.to_module_version} ({runbook.guide})"
    parts: list[RenderableType] = [Text(head, style="bold")]
    if state is not None:
        status = f"{state.status}, {state.position()}" + (f": {state.reason}" if state.reason else "")
        parts.append(Text(f"  {status}", style=_STYLE.get(state.status, "")))
    for index, step in enumerate(runbook.steps):
        record = state.steps[index] if state is not None else None
        title = f"{index + 1}. {step.name}: {step.title}" + (f"  [{record.status}]" if record else "")
        table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
        table.add_column("what", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for change in step.changes:
            table.add_row("set", change.describe())
        for check in step.preflight:
            table.add_row("pre-flight", f"{check.kind}: {check.why}")
        for rule in step.rules:
            table.add_row("plan rule", rule.describe())
        if step.note:
            table.add_row("note", step.note)
        if record is not None:
            if record.execution_arn:
                table.add_row(
                    "run", record.execution_arn.rsplit(":", 1)[-1] + (f" ({record.outcome})" if record.outcome else "")
                )
            for line in [*record.preflight, *record.violations]:
                table.add_row("found", Text(line, style="red" if "FAILED" in line or "would be" in line else ""))
        parts.append(table)
    if state is not None and state.state_version is not None:
        version = state.state_version
        parts.append(
            Text(f"state before the first apply: s3://{version.bucket}/{version.key} version {version.version_id}")
        )
    if state is not None and state.restore is not None:
        restore = state.restore
        parts.append(
            Text(
                f"restored by {restore.by} at {restore.at}: state version {restore.restored_version_id} copied back "
                f"(new version {restore.new_version_id}), config of run {restore.target_run} (module "
                f"{restore.module_version}) written back"
            )
        )
    for note in runbook.notes:
        parts.append(Text(f"  note: {note}"))
    return Group(*parts)


def rollback_procedure(state: RunbookState) -> list[str]:
    """The guide's rollback ("push the saved state back"): `wbd runbook --restore` does the state and the config;
    what it does not do (the guide's state move of the aws-auth ConfigMap) is printed for the operator."""
    version = state.state_version
    name = state.deployment
    if state.status == "restored":
        lines = [
            f"1. read the config written back (wbd config show {name}) and resume: wbd resume {name}",
            f"2. the run that starts plans against the restored state and waits as deployer/approval says "
            f"(wbd watch {name}; wbd approve {name})",
        ]
    elif version is None:
        return ["no state version was recorded: the runbook never reached an apply; nothing to roll back"]
    elif version.version_id is None:
        return [f"s3://{version.bucket}/{version.key} did not exist before the runbook: there is no earlier state"]
    else:
        source = shlex.quote(f"{version.bucket}/{version.key}?versionId={version.version_id}")
        lines = [
            f"1. restore the state of {version.recorded_at} ({source}) and the config of the last good run: "
            f"wbd runbook {name} --restore (it pauses {name}; it refuses while a run or a Terraform lock holds it)",
            f"2. read the config written back (wbd config show {name}) and resume: wbd resume {name}; the run plans "
            "against the restored state (the guide expects an empty plan) and waits as deployer/approval says",
        ]
    if state.runbook.transition == "v7-to-v8" and state.steps[0].status == "succeeded":
        lines.append(
            f"{len(lines) + 1}. the aws-auth ConfigMap the module step adopted: the restored state is the one from "
            "before that step, with the ConfigMap at v17's address, so nothing to move; only to go back to v17 while "
            "keeping the state the module step wrote, hand it back first (guide, Rollback): terraform state mv "
            "'module.wandb_infra.module.app_eks.kubernetes_config_map.aws_auth_legacy[0]' "
            "'module.wandb_infra.module.app_eks.module.eks.kubernetes_config_map.aws_auth[0]'"
        )
    return lines


def _restore(state: RunbookState, *, yes: bool) -> RunbookState:
    """Check, confirm, restore (see `wandb_deployer.upgrade.runbook_restore`); CliError (exit 1) on a refusal."""
    context = current()
    table, who = context.directory.deployments_table, getpass.getuser()
    clients = {name: client(name) for name in ("ssm", "s3", "dynamodb")} | {"sfn": client("stepfunctions")}
    try:
        plan: RestorePlan = plan_restore(state, prefix=context.prefix, table=table, who=who, **clients)
    except RunbookRestoreRefusedError as exc:
        raise CliError([f"refused: {exc}"], ExitCode.NEGATIVE) from exc
    version = plan.version
    err.print(
        f"restoring {state.deployment}: s3://{version.bucket}/{version.key} back to version {plan.version_id} "
        f"(recorded {version.recorded_at}), the config of run {plan.target.execution_name} "
        f"(module {state.runbook.from_module_version}); {state.deployment} is paused first",
        markup=False,
    )
    err.print(diff_table(plan.rollback.diff, prune=True))
    if not yes and not typer.confirm("Restore?", default=False):
        raise CliError("aborted: nothing changed", ExitCode.NEGATIVE)
    try:
        return apply_restore(plan, prefix=context.prefix, table=table, who=who, **clients)
    except RunbookRestoreRefusedError as exc:
        raise CliError([f"refused: {exc}"], ExitCode.NEGATIVE) from exc


def runbook(
    deployment: DeploymentArgument,
    abort: Annotated[bool, typer.Option("--abort", help="Stop the runbook: no further step starts.")] = False,
    reason: Annotated[str, typer.Option(help="Why it is aborted (recorded).")] = "aborted by an operator",
    restore: Annotated[
        bool,
        typer.Option(
            "--restore",
            help="Put the state version recorded before the first apply back, with the config of the last good run "
            "(a stopped or aborted runbook; pauses the deployment; resume it with `wbd resume`).",
        ),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Restore without asking for confirmation.")] = False,
) -> Outcome:
    """The deployment's runbook: its steps, where it stands, what each step's run found, the state version recorded
    before its first apply and how to roll back to it. --abort stops it (a run in flight finishes; reject its
    approval to stop it too). --restore puts the recorded state version and the last good run's config back with
    your credentials; the deployment stays paused until you resume it."""
    require_deployment(deployment, history_ok=True)
    context = current()
    table, dynamodb = context.directory.deployments_table, client("dynamodb")
    state = read_runbook(deployment=deployment, table=table, dynamodb=dynamodb)
    if state is None:
        raise CliError(f"{deployment} has no runbook (wbd upgrade {deployment} --plan shows one)", ExitCode.NEGATIVE)
    if abort and restore:
        raise CliError("--abort and --restore: abort first, then restore", ExitCode.USAGE)
    if restore:
        state = _restore(state, yes=yes)
    if abort:
        if state.status != "running":
            raise CliError(f"the runbook of {deployment} is {state.status}, not running", ExitCode.NEGATIVE)
        state = save_runbook(
            state.model_copy(update={"status": "aborted", "reason": f"{state.position()}: {reason}"}),
            table=table,
            dynamodb=dynamodb,
        )
    procedure = rollback_procedure(state) if state.status != "running" or abort else []

    def show(console: Console) -> None:
        console.print(runbook_view(state.runbook, state))
        if procedure:
            title = "next (the deployment stays paused until you resume it):" if restore else "rollback:"
            console.print(Text(title, style="bold"))
            console.print("\n".join(procedure), markup=False)

    return Outcome(data={**state.model_dump(mode="json"), "rollback": procedure}, show=show)


def stage_license(deployment: str, targets: dict[str, str], *, force: bool) -> str | None:
    """Before a legacy -> operator request: copy the license to the aws module's section with the operator's own
    credentials (no function of the deployer may read it; the migration's step deletes the source). Returns what was
    done, for the operator to read; the value is never printed."""
    context = current()
    ssm = client("ssm")
    try:
        config = load_deployment_config(deployment, prefix=context.prefix, ssm=ssm, with_secrets=False)
        staging = license_staging(UpgradeRequest(deployment=deployment, force=force, **targets), config)
    except (InvalidConfigError, ValidationError):
        return None  # the request is rejected with the reasons, nothing staged
    if staging is None:
        return None
    source, target = (f"{context.prefix.rstrip('/')}/{deployment}/{name}" for name in staging)
    value = ssm.get_parameter(Name=source, WithDecryption=True)["Parameter"]["Value"]
    ssm.put_parameter(
        Name=target,
        Value=value,
        Type="SecureString",
        Overwrite=False,
        Description="W&B license staged by wbd upgrade for the operator migration",
    )
    return (
        f"staged {staging[0]} as {staging[1]} (SecureString) for the operator migration; its step deletes {staging[0]}"
    )


def plan_upgrade(deployment: str, targets: dict[str, str], *, force: bool) -> Outcome:
    """`wbd upgrade --plan`: what the request would do, changing nothing (read from SSM without secrets)."""
    context = current()
    config = load_deployment_config(deployment, prefix=context.prefix, ssm=client("ssm"), with_secrets=False)
    request = UpgradeRequest(deployment=deployment, force=force, requested_by="wbd", **targets)
    staging = license_staging(request, config)
    if staging is not None:  # `wbd upgrade` stages it before it sends the request
        config = config.model_copy(update={"secret_versions": {**config.secret_versions, staging[1]: 0}})
    try:
        found = runbook_for(request, config)
        single = None if found else evaluate_upgrade(request, config)
    except UpgradeRejectedError as exc:
        lines = [f"Would be rejected ({deployment}):"] + [f"  {reason}" for reason in exc.reasons]
        return Outcome(
            data={"accepted": False, "reasons": exc.reasons},
            show=lambda console: console.print("\n".join(lines), markup=False),
            code=ExitCode.NEGATIVE,
        )
    if found is not None:
        view = runbook_view(found)
        first = f"wbd upgrade first stages {staging[0]} as {staging[1]} (your credentials)" if staging else None

        def show(console: Console) -> None:
            console.print(view)
            if first:
                console.print(first, markup=False)

        return Outcome(data=found.model_dump(mode="json"), show=show)
    assert single is not None
    lines = ["No runbook: one run applies these writes:"] + [
        f"  {w.name}: {w.previous or '(unset)'} -> {w.value}" for w in single.writes
    ]
    lines += [f"  note: {note}" for note in single.notes]
    return Outcome(
        data=single.model_dump(mode="json"), show=lambda console: console.print("\n".join(lines), markup=False)
    )


def register(app: typer.Typer) -> None:
    command(app, json_output=True)(runbook)
