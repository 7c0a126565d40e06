"""`wbd runbook` and `wbd upgrade --plan`: a major transition's runbook before it starts, while it runs, after it
stopped; aborting it; and the rollback to the state version recorded before its first apply (printed, see below)."""

from __future__ import annotations

import shlex
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.errors import InvalidConfigError, UpgradeRejectedError
from wandb_deployer.upgrade.guards import UpgradeRequest, evaluate_upgrade
from wandb_deployer.upgrade.runbook_record import RunbookState, read_runbook, save_runbook
from wandb_deployer.upgrade.runbooks import Runbook, license_staging, runbook_for
from wbd.cli.aws import client, current
from wbd.cli.command import Outcome, command
from wbd.cli.deployments import require_deployment
from wbd.cli.errors import CliError, ExitCode

DeploymentArgument = Annotated[str, typer.Argument(help="Deployment name.", show_default=False)]
_STYLE = {"succeeded": "green", "running": "cyan", "stopped": "red", "pending": "dim"}


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
    for note in runbook.notes:
        parts.append(Text(f"  note: {note}"))
    return Group(*parts)


def rollback_procedure(state: RunbookState) -> list[str]:
    """The guide's rollback ("push the saved state back"), as commands for this deployment's state object.

    Printed, not run: putting an older state version back is only safe with no run and no Terraform lock on the
    deployment, and the configuration must go back to the old module in the same breath, which the deployer's guards
    refuse (a module major never goes back); the guide also wants a human to read the plan afterwards (empty)."""
    version = state.state_version
    if version is None:
        return ["no state version was recorded: the runbook never reached an apply; nothing to roll back"]
    if version.version_id is None:
        return [f"s3://{version.bucket}/{version.key} did not exist before the runbook: there is no earlier state"]
    source = shlex.quote(f"{version.bucket}/{version.key}?versionId={version.version_id}")
    bucket, key = shlex.quote(version.bucket), shlex.quote(version.key)
    lines = [
        f"1. make sure nothing runs: wbd status {state.deployment} (reject a pending approval: wbd reject "
        f"{state.deployment})",
        f"2. put the state of {version.recorded_at} back (a new current version; the newer ones stay):",
        f"   aws s3api copy-object --bucket {bucket} --key {key} --copy-source {source}",
        f"3. with the module at {state.runbook.from_module_version} (docs: `git checkout <commit-before> -- "
        "modules/app_eks versions.tf outputs.tf`), `terraform init -upgrade && terraform plan`: the plan should be "
        "empty",
    ]
    if state.runbook.transition == "v7-to-v8" and state.steps[0].status == "succeeded":
        lines.append(
            "4. the module step adopted the aws-auth ConfigMap; hand it back to v17 (guide, Rollback): terraform state "
            "mv 'module.wandb_infra.module.app_eks.kubernetes_config_map.aws_auth_legacy[0]' "
            "'module.wandb_infra.module.app_eks.module.eks.kubernetes_config_map.aws_auth[0]'"
        )
    return lines


def runbook(
    deployment: DeploymentArgument,
    abort: Annotated[bool, typer.Option("--abort", help="Stop the runbook: no further step starts.")] = False,
    reason: Annotated[str, typer.Option(help="Why it is aborted (recorded).")] = "aborted by an operator",
) -> Outcome:
    """The deployment's runbook: its steps, where it stands, what each step's run found, the state version recorded
    before its first apply and how to roll back to it. --abort stops it (a run in flight finishes; reject its
    approval to stop it too)."""
    require_deployment(deployment, history_ok=True)
    context = current()
    table, dynamodb = context.directory.deployments_table, client("dynamodb")
    state = read_runbook(deployment=deployment, table=table, dynamodb=dynamodb)
    if state is None:
        raise CliError(f"{deployment} has no runbook (wbd upgrade {deployment} --plan shows one)", ExitCode.NEGATIVE)
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
            console.print(Text("rollback (printed, not run by wbd):", style="bold"))
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
