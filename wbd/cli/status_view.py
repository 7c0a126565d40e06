"""`wbd status`: is the deployment in sync, what runs now, what waits for a human, and what went wrong lately.

Desired vs applied compares what SSM holds now with the snapshot of the config the last successful run applied
(runs/config_snapshot.py), key by key. Secrets are never read decrypted here: a SecureString counts as changed when
SSM modified it after that run applied.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, Field
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from wandb_deployer.config.parameters import SECRET_KEYS, load_deployment_config
from wandb_deployer.drift.record import DriftState
from wandb_deployer.errors import DeployerError, InvalidConfigError
from wandb_deployer.runs import parse_iso
from wandb_deployer.runs.approval import PendingApproval
from wandb_deployer.runs.config_snapshot import (
    DIGEST_PREFIX,
    ConfigChange,
    config_changes,
    read_snapshot,
    snapshot_values,
)
from wandb_deployer.runs.history import RunRecord, deployment_status, list_runs, read_run
from wandb_deployer.runs.lock import LockState
from wandb_deployer.runs.steps import execution_history, step_timings
from wandb_deployer.upgrade.outcome import UpgradeOutcome, read_upgrade_outcome
from wandb_deployer.upgrade.runbook_record import RunbookState, read_runbook
from wandb_deployer.verification.license_expiry import days_left, read_license_expiry, threshold
from wbd.cli.aws import current
from wbd.cli.run_views import approval_line, change_phrase, changes_table, counts_text, styled_outcome, when

_REFUSALS = ("VersionChangeRefusedError",)
_RECENT_RUNS = 20


class ActiveRun(BaseModel):
    execution_name: str
    execution_arn: str
    step: str | None = None
    step_since: datetime | None = None


class StatusReport(BaseModel):
    """What `wbd status` shows (and prints with --json)."""

    deployment: str
    in_sync: bool | None = None  # None: nothing applied yet, or the applied config is unknown
    differences: list[ConfigChange] = Field(default_factory=list)
    desired_problems: list[str] = Field(default_factory=list)
    applied_by: str | None = None
    applied_at: str | None = None
    lock: LockState | None = None
    active_run: ActiveRun | None = None
    pending_approval: PendingApproval | None = None
    pending_changes: list[dict[str, Any]] = Field(default_factory=list)
    last_run: RunRecord | None = None
    last_drift: DriftState | None = None
    last_rejection: RunRecord | None = None
    rejected_change_still_desired: bool = False
    last_upgrade: UpgradeOutcome | None = None
    runbook: RunbookState | None = None
    license_expires_on: str | None = None  # as the last run read it (never the license itself)
    license_days_left: int | None = None  # None: no readable expiry, or no run read it yet
    license_checked_at: str | None = None


def _secret_changes(deployment: str, applied_at: str, baseline: dict[str, str]) -> list[ConfigChange]:
    """SecureStrings added, deleted or modified (by date) since the last apply; their values are never read."""
    context = current()
    present: dict[str, datetime] = {}
    pages = context.client("ssm").get_paginator("get_parameters_by_path")
    deployment_path = f"{context.prefix}/{deployment}"
    for page in pages.paginate(Path=deployment_path, Recursive=True, WithDecryption=False):
        for parameter in page.get("Parameters", []):
            if parameter.get("Type") == "SecureString":
                key = parameter["Name"].removeprefix(deployment_path + "/")
                present[key] = parameter["LastModifiedDate"]
    applied = parse_iso(applied_at)
    changes = []
    secret_keys = {key for key, value in baseline.items() if value.startswith(DIGEST_PREFIX)}
    for key in sorted(secret_keys | set(present)):
        if key not in present:
            changes.append(ConfigChange(key=key, before="********", after=None, masked=True))
        elif key not in secret_keys:
            changes.append(ConfigChange(key=key, before=None, after="********", masked=True))
        elif present[key] > applied:
            changes.append(ConfigChange(key=key, before="********", after="******** (modified since)", masked=True))
    return changes


def _differences(report: StatusReport, deployment: str, table: str, dynamodb: Any, applied: Any) -> None:
    context = current()
    try:
        config = load_deployment_config(
            deployment, prefix=context.prefix, ssm=context.client("ssm"), with_secrets=False
        )
    except InvalidConfigError as exc:
        report.desired_problems = list(exc.problems)
        return
    if applied is None:
        return
    baseline = read_snapshot(deployment=deployment, fingerprint=applied.fingerprint, table=table, dynamodb=dynamodb)
    if baseline is None:
        return
    secret_keys = {f"{section}/{key}" for section, key in SECRET_KEYS}
    plain_before = {k: v for k, v in baseline.values.items() if not v.startswith(DIGEST_PREFIX)}
    plain_after = {k: v for k, v in snapshot_values(config).items() if k not in secret_keys}
    secrets = _secret_changes(deployment, applied.applied_at, baseline.values)
    report.differences = config_changes(plain_before, plain_after) + secrets
    report.in_sync = not report.differences


def _active_run(lock: LockState | None) -> ActiveRun | None:
    if lock is None:
        return None
    sfn = current().client("stepfunctions")
    described = sfn.describe_execution(executionArn=lock.owner)
    if described.get("status") != "RUNNING":
        return None
    running = [step for step in step_timings(execution_history(lock.owner, sfn=sfn)) if step.running]
    latest = max(running, key=lambda step: step.running_since or step.entered_at) if running else None
    return ActiveRun(
        execution_name=lock.owner.rsplit(":", 1)[-1],
        execution_arn=lock.owner,
        step=latest.name if latest else None,
        step_since=latest.running_since if latest else None,
    )


def gather_status(deployment: str) -> StatusReport:
    context = current()
    table, dynamodb = context.directory.deployments_table, context.client("dynamodb")
    status = deployment_status(deployment=deployment, table=table, dynamodb=dynamodb)
    report = StatusReport(
        deployment=deployment,
        lock=status.lock,
        last_run=status.last_run,
        last_drift=status.drift,
        pending_approval=status.pending_approval,
        last_upgrade=read_upgrade_outcome(deployment=deployment, table=table, dynamodb=dynamodb),
        runbook=read_runbook(deployment=deployment, table=table, dynamodb=dynamodb),
    )
    license_record = read_license_expiry(deployment=deployment, table=table, dynamodb=dynamodb)
    if license_record is not None:
        report.license_checked_at = license_record.checked_at
        report.license_expires_on = license_record.expires_on
        if license_record.expires_on:
            report.license_days_left = days_left(date.fromisoformat(license_record.expires_on))
    applied = status.applied
    if applied is not None:
        report.applied_by, report.applied_at = applied.execution_arn.rsplit(":", 1)[-1], applied.applied_at
    _differences(report, deployment, table, dynamodb, applied)
    try:
        report.active_run = _active_run(status.lock)
    except (ClientError, DeployerError):
        report.active_run = None  # a lock whose execution cannot be described is shown as the lock alone
    if status.pending_approval is not None:
        record = read_run(
            deployment=deployment, execution_arn=status.pending_approval.execution_arn, table=table, dynamodb=dynamodb
        )
        report.pending_changes = list((record.details.get("changes") if record else None) or [])
    recent = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=_RECENT_RUNS)
    for run in recent:
        if run.outcome in ("succeeded", "no-changes"):
            break  # a later success settled whatever was rejected before it
        if run.outcome in ("rejected", "timed-out") or (run.outcome == "failed" and run.error in _REFUSALS):
            report.last_rejection = run
            wanted = {str(c.get("key")): c.get("after") for c in run.details.get("changes") or []}
            now = {change.key: change.after for change in report.differences}
            report.rejected_change_still_desired = bool(wanted) and any(now.get(k) == v for k, v in wanted.items())
            break
    return report


def _desired_rows(report: StatusReport, table: Table, parts: list[RenderableType]) -> None:
    if report.desired_problems:
        table.add_row("desired", Text(f"INVALID: {len(report.desired_problems)} problem(s)", style="red"))
        parts += [Text(f"  {line}", style="red") for line in report.desired_problems[:20]]
    elif report.in_sync:
        applied = f"in sync with what {report.applied_by} applied at {when(report.applied_at)}"
        table.add_row("desired", Text(applied, style="green"))
    elif report.in_sync is False:
        changes = [change.model_dump() for change in report.differences]
        summary = f"differs from what was applied ({report.applied_by}): {change_phrase(changes, limit=4)}"
        table.add_row("desired", Text(summary, style="yellow"))
        parts.append(changes_table(changes, title="what differs", columns=("applied", "desired (SSM)")))
    else:
        table.add_row("desired", "nothing applied yet" if report.applied_by is None else "applied config unknown")


def _activity_rows(report: StatusReport, table: Table, parts: list[RenderableType]) -> None:
    if report.active_run is not None:
        step = f" at step {report.active_run.step!r}" if report.active_run.step else ""
        since = f" since {report.active_run.step_since:%H:%M:%S}Z" if report.active_run.step_since else ""
        table.add_row("running", f"{report.active_run.execution_name}{step}{since}")
    elif report.lock is not None:
        table.add_row("lock", f"held by {report.lock.owner.rsplit(':', 1)[-1]} since {when(report.lock.acquired_at)}")
    else:
        table.add_row("running", "nothing (lock free)")
    pending = report.pending_approval
    if pending is not None:
        waiting = (
            f"plan {pending.plan_sha256}: {counts_text(pending.counts.model_dump())}, "
            f"{len(pending.destructive)} destructive; deadline {when(pending.deadline)}"
        )
        table.add_row("waiting for approval", Text(waiting, style="magenta"))
        if pending.approvable_from is not None:
            table.add_row("", Text(str(pending.approvable_line()), style="yellow"))
        parts += [Text(f"  destructive: {address}", style="red") for address in pending.destructive]
        if report.pending_changes:
            parts.append(changes_table(report.pending_changes, title="parameters changed for this plan"))
        parts.append(Text(f"approve with: wbd approve {report.deployment} --plan {pending.plan_sha256}"))
    if report.last_run is not None:
        run = report.last_run
        reason = f": {run.reason}" if run.reason else ""
        line = Text.assemble(f"{run.execution_name} ({run.trigger}) ", styled_outcome(run.outcome), reason)
        table.add_row("last run", line)


def _history_rows(report: StatusReport, table: Table) -> None:
    drift = report.last_drift
    if drift is not None and drift.status == "drifted":
        resources = ", ".join(drift.summary.get("resources") or []) or "-"
        findings = ", ".join(drift.summary.get("findings") or []) or "-"
        text = (
            f"DRIFTED since {when(drift.first_seen_at)} (checked {when(drift.checked_at)}): "
            f"resources {resources}; findings {findings}"
        )
        table.add_row("last drift check", Text(text, style="red"))
    elif drift is not None:
        table.add_row("last drift check", Text(f"no drift (checked {when(drift.checked_at)})", style="green"))
    rejection = report.last_rejection
    if rejection is not None:
        approval = approval_line(rejection.details.get("approval"), None) or rejection.reason or rejection.outcome
        table.add_row("last rejection", f"{rejection.execution_name}: {approval}")
        if report.rejected_change_still_desired:
            note = "the rejected change is still desired: it runs again with the next change of the deployment"
            table.add_row("", Text(note, style="yellow"))
    _runbook_rows(report, table)
    _license_row(report, table)
    upgrade = report.last_upgrade
    if upgrade is not None:
        verdict = "accepted" if upgrade.accepted else "REJECTED"
        changes = [
            {"key": c.get("name"), "before": c.get("previous"), "after": c.get("value")} for c in upgrade.changes
        ]
        what = change_phrase(changes) if upgrade.accepted else "; ".join(upgrade.reasons)
        table.add_row("last upgrade request", f"{verdict} at {when(upgrade.at)} ({upgrade.requested_by}): {what}")


def _runbook_rows(report: StatusReport, table: Table) -> None:
    """A runbook's position and what its next step will do (`wbd runbook <deployment>` shows it whole)."""
    state = report.runbook
    if state is None:
        return
    style = {"running": "cyan", "completed": "green"}.get(state.status, "red")
    line = f"{state.runbook.transition} {state.status}, {state.position()}: {state.step.title}"
    table.add_row("runbook", Text(line + (f" ({state.reason})" if state.reason else ""), style=style))
    if state.status == "running" and state.current + 1 < len(state.runbook.steps):
        following = state.runbook.steps[state.current + 1]
        changes = ", ".join(change.describe() for change in following.changes)
        table.add_row("runbook next", f"{following.name}: {following.title} ({changes})")


def _license_row(report: StatusReport, table: Table) -> None:
    if report.license_checked_at is None:
        return
    if report.license_expires_on is None or report.license_days_left is None:
        table.add_row("license", "no readable expiry (no `exp` claim): no expiry warning")
        return
    left = report.license_days_left
    text = f"expires {report.license_expires_on}: " + (
        f"{left} day(s) left" if left >= 0 else f"EXPIRED {-left} day(s) ago"
    )
    warned = threshold(date.fromisoformat(report.license_expires_on)) is not None
    table.add_row("license", Text(text, style="red" if left < 7 else "yellow" if warned else "green"))


def status_view(report: StatusReport) -> RenderableType:
    table = Table(title=f"status of {report.deployment}", title_justify="left", show_header=False)
    table.add_column("what", no_wrap=True, style="bold")
    table.add_column("value", overflow="fold")
    parts: list[RenderableType] = [table]
    _desired_rows(report, table, parts)
    _activity_rows(report, table, parts)
    _history_rows(report, table)
    return Group(*parts)


def show_status(report: StatusReport) -> Any:
    def show(console: Console) -> None:
        console.print(status_view(report))

    return show
