"""How `wbd` shows runs: the history as one line per run, one run whole, a plan and the changes it came from.

Everything shown comes from the run records the workflow keeps (runs/history.py): secrets were masked there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from wandb_deployer.runs.history import SUCCESSFUL_OUTCOMES, TERMINAL_OUTCOMES, RunRecord
from wbd.cli.errors import ExitCode

OUTCOME_STYLE = {
    "succeeded": "green",
    "no-changes": "green",
    "failed": "red",
    "rejected": "yellow",
    "timed-out": "yellow",
    "started": "cyan",
    "approval-needed": "magenta",
}
CHANGES_SHOWN = 30


def outcome_code(outcome: str) -> ExitCode:
    """0 for a run that succeeded (or had nothing to change), 1 for one that failed, was rejected or timed out."""
    if outcome in SUCCESSFUL_OUTCOMES or outcome not in TERMINAL_OUTCOMES:
        return ExitCode.OK
    return ExitCode.NEGATIVE


def when(moment: str | None) -> str:
    """`2026-11-29 11:25:40Z` from a stored ISO timestamp."""
    if not moment:
        return "-"
    return moment.replace("T", " ")[:19] + "Z"


def counts_text(counts: Mapping[str, Any] | None) -> str:
    if not counts:
        return "-"
    parts = [f"{count} to {action}" for action, count in counts.items() if count]
    return ", ".join(parts) or "no changes"


def styled_outcome(outcome: str) -> Text:
    return Text(outcome, style=OUTCOME_STYLE.get(outcome, ""))


def runs_table(deployment: str, records: Sequence[RunRecord]) -> Table:
    table = Table(title=f"runs of {deployment}, newest first", title_justify="left")
    table.add_column("started (UTC)", no_wrap=True)
    table.add_column("run", no_wrap=True)
    table.add_column("trigger", no_wrap=True)
    table.add_column("outcome", no_wrap=True)
    table.add_column("s", justify="right", no_wrap=True)
    table.add_column("plan", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for record in records:
        plan = record.details.get("plan") or {}
        table.add_row(
            when(record.started_at),
            record.execution_name,
            record.trigger or "",
            styled_outcome(record.outcome),
            f"{record.duration_seconds:.0f}" if record.duration_seconds is not None else "",
            counts_text(plan.get("counts") or record.details.get("counts")),
            Text(record.reason or (record.error or "")),
        )
    if not records:
        table.add_row("-", "no runs yet", "", "", "", "", "")
    return table


def changes_table(
    changes: Sequence[Mapping[str, Any]], *, title: str, columns: tuple[str, str] = ("before", "after")
) -> Group:
    """`<section>/<key>: before -> after` (secrets already masked), under its title (a line of its own: a table's
    title would wrap to the width of a narrow table)."""
    table = Table(show_edge=False)
    table.add_column("parameter", no_wrap=True)
    table.add_column(columns[0], overflow="fold")
    table.add_column(columns[1], overflow="fold")
    for change in list(changes)[:CHANGES_SHOWN]:
        before, after = change.get("before"), change.get("after")
        table.add_row(
            Text(str(change.get("key"))),
            Text("(not set)" if before is None else str(before), style="dim" if before is None else ""),
            Text("(deleted)" if after is None else str(after), style="dim" if after is None else ""),
        )
    if len(changes) > CHANGES_SHOWN:
        table.add_row(f"… and {len(changes) - CHANGES_SHOWN} more", "", "")
    return Group(Text(title, style="bold"), table)


def change_phrase(changes: Sequence[Mapping[str, Any]], *, limit: int = 3) -> str:
    """`size small → medium, eks_cluster_version 1.33 → 1.34` (what the demo's summary says)."""
    phrases = []
    for change in list(changes)[:limit]:
        key = str(change.get("key", "")).split("/", 1)[-1]
        before, after = change.get("before"), change.get("after")
        if before is None:
            phrases.append(f"{key} = {after}")
        elif after is None:
            phrases.append(f"{key} deleted")
        else:
            phrases.append(f"{key} {before} → {after}")
    if len(changes) > limit:
        phrases.append(f"… {len(changes) - limit} more")
    return ", ".join(phrases)


def plan_lines(plan: Mapping[str, Any]) -> list[RenderableType]:
    lines: list[RenderableType] = [Text(f"plan {plan.get('plan_sha256')}: {counts_text(plan.get('counts'))}")]
    destructive = list(plan.get("destructive") or [])
    if destructive:
        count = int(plan.get("destructive_count") or len(destructive))
        lines.append(Text(f"destructive ({count}):", style="bold red"))
        lines += [Text(f"  {address}", style="red") for address in destructive]
        if count > len(destructive):
            lines.append(Text(f"  … and {count - len(destructive)} more (see the plan summary)"))
    if plan.get("migration"):
        lines.append(Text("a migration between W&B generations: always approved by a human", style="yellow"))
    changed = list(plan.get("changes") or [])
    if changed:
        lines.append(Text("changed resources:"))
        lines += [Text(f"  {change.get('action', '?'):>7}  {change.get('address')}") for change in changed]
        if plan.get("changes_truncated"):
            lines.append(Text("  … more in the plan summary (plan-summary.json of the run)"))
    return lines


def approval_line(approval: Mapping[str, Any] | None, gate: Mapping[str, Any] | None) -> str | None:
    if approval:
        decision = str(approval.get("decision"))
        if decision == "timed-out":
            return f"timed out: nobody answered before the deadline {when(approval.get('deadline'))}"
        who = approval.get("by", "?")
        at = f" at {when(approval.get('at'))}" if approval.get("at") else ""
        sha = approval.get("plan_sha256") or ""
        reason = f" ({approval['reason']})" if approval.get("reason") else ""
        return f"{decision} by {who}{at}, plan {sha}{reason}"
    if gate:
        wait = f"; {gate['approval_wait']}" if gate.get("approval_wait") else ""
        return f"waiting since {when(gate.get('requested_at'))}, deadline {when(gate.get('deadline'))}{wait}"
    return None


def findings_lines(findings: Iterable[Mapping[str, Any]]) -> list[Text]:
    lines = []
    for finding in findings:
        style = {"error": "red", "warning": "yellow"}.get(str(finding.get("severity")), "dim")
        fix = f" (fix: {finding['fix_hint']})" if finding.get("fix_hint") else ""
        lines.append(Text(f"  {finding.get('severity')} {finding.get('code')}: {finding.get('message')}{fix}", style))
    return lines


def verification_lines(verification: Mapping[str, Any]) -> list[RenderableType]:
    lines: list[RenderableType] = []
    wiring = verification.get("wiring")
    if wiring:
        verdict = "passed" if wiring.get("passed") else "FAILED"
        lines.append(Text(f"S3 -> SQS wiring {verdict}" + (f" ({wiring['bucket']})" if wiring.get("bucket") else "")))
        lines += [Text(f"  checked: {item}", style="dim") for item in wiring.get("checked") or []]
        lines += findings_lines(wiring.get("findings") or [])
    health = verification.get("health")
    if health:
        verdict = "healthy" if health.get("healthy") else "UNHEALTHY"
        attempts = health.get("attempts")
        lines.append(Text(f"health {verdict} after {attempts} attempt(s) at {health.get('url')}"))
        lines += [Text(f"  checked: {item}", style="dim") for item in health.get("checked") or []]
        if health.get("server_version"):
            lines.append(Text(f"  W&B {health['server_version']} running"))
        lines += findings_lines(health.get("findings") or [])
    return lines


def steps_table(steps: Sequence[Mapping[str, Any]]) -> Group:
    table = Table(show_edge=False)
    table.add_column("state")
    table.add_column("seconds", justify="right")
    table.add_column("runs", justify="right")
    table.add_column("")
    for step in steps:
        error = step.get("error")
        table.add_row(
            str(step.get("name")),
            f"{float(step.get('seconds') or 0):.2f}",
            str(step.get("entries", 1)),
            Text(f"x {error}", style="red") if error else Text("ok", style="green"),
        )
    return Group(Text("steps", style="bold"), table)


def run_view(record: RunRecord) -> Group:
    """One run whole: how it ended and why, what started it and what it changed, plan, approval, checks, steps."""
    details = record.details
    head = Table(show_header=False, box=None, padding=(0, 2))
    head.add_column(no_wrap=True, style="bold")
    head.add_column(overflow="fold")
    head.add_row("run", record.execution_name)
    duration = f" after {record.duration_seconds:.1f} s" if record.duration_seconds is not None else " (running)"
    head.add_row("outcome", Text.assemble(styled_outcome(record.outcome), duration))
    head.add_row("started", when(record.started_at) + (f", ended {when(record.ended_at)}" if record.ended_at else ""))
    head.add_row("trigger", record.trigger or "-")
    if record.error:
        head.add_row("error", record.error)
    if record.reason:
        head.add_row("reason", Text(record.reason, style="red" if record.outcome == "failed" else ""))
    for refused in details.get("refused") or []:
        head.add_row("refused", Text(str(refused), style="red"))
    approval = approval_line(details.get("approval"), details.get("gate"))
    if approval:
        head.add_row("approval", approval)
    parts: list[RenderableType] = [head]
    changes = details.get("changes")
    if changes is not None:
        since = details.get("changes_since") or "the last apply"
        title = f"changed in SSM since {since}" if changes else f"nothing changed in SSM since {since}"
        parts.append(changes_table(changes, title=title))
    plan = details.get("plan")
    if plan:
        parts += plan_lines(plan)
    verification = details.get("verification")
    if verification:
        parts += verification_lines(verification)
    steps = details.get("steps")
    if steps:
        parts.append(steps_table(steps))
    return Group(*parts)
