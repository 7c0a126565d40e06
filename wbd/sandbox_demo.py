"""`wbd sandbox demo`: the main job on the embedded default.

Starts the sandbox (template.yaml's resources, the real state machines and handlers on moto), pushes
`examples/operator.yaml` with a demo license, lets the SSM change events start the deploy run, follows it state by
state, then changes one parameter and follows the run that change starts. Terraform here is the sandbox's emulation.
The summary at the end is read from what the runs recorded: nothing in it is written in advance.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from wandb_deployer.aws_clients import client
from wandb_deployer.runs.history import RunRecord
from wbd.cli.run_views import change_phrase, counts_text, styled_outcome
from wbd.run_progress import ExecutionProgress, follow_execution
from wbd.sandbox_driver import PREFIX, SandboxDriver, running_deployer


@dataclass
class DemoResult:
    runs: list[ExecutionProgress] = field(default_factory=list)
    records: list[RunRecord] = field(default_factory=list)
    seconds: float = 0.0
    api_calls: int = 0

    @property
    def succeeded(self) -> bool:
        return bool(self.runs) and all(run.status == "SUCCEEDED" for run in self.runs)

    @property
    def transitions(self) -> int:
        return sum(run.transitions for run in self.runs)


def follow_runs(driver: SandboxDriver, console: Console, label: str) -> list[ExecutionProgress]:
    """Follow the run a change started, then any follow-up run it started itself (changes that arrived meanwhile)."""
    followed: list[ExecutionProgress] = []
    arn = driver.wait_for_new_execution()
    while True:
        progress = follow_execution(
            execution_arn=arn,
            describe=driver.describe,
            history=driver.sandbox.history,
            console=console,
            title=f"{label}: {arn.rsplit(':', 1)[-1]}",
        )
        followed.append(progress)
        if progress.status != "SUCCEEDED":
            return followed
        output = json.loads(driver.describe(arn).get("output") or "{}")
        next_arn = (output.get("finish") or {}).get("value", {}).get("next_execution_arn")
        if not next_arn:
            return followed
        console.print("[cyan]The desired state moved during that run; the run started the next one.")
        driver.seen.add(next_arn)
        arn = next_arn


def what_changed(details: Mapping[str, Any]) -> str:
    changes = details.get("changes")
    if changes is None:
        return "unknown"
    if details.get("changes_since") == "nothing applied yet":
        return f"first install: {len(changes)} parameter(s) set"
    return change_phrase(changes, limit=4) or "nothing"


def approval_text(details: Mapping[str, Any]) -> str:
    approval = details.get("approval") or {}
    plan = details.get("plan") or {}
    if not plan.get("has_changes", True):
        return "not needed (no changes)"
    decision = approval.get("decision")
    if decision is None:
        return "not recorded"
    if decision == "not needed":
        return f"not needed: {approval.get('by')}, {plan.get('destructive_count', 0)} destructive change(s)"
    return f"{decision} by {approval.get('by')}"


def verification_text(details: Mapping[str, Any]) -> Text:
    verification = details.get("verification") or {}
    wiring, health = verification.get("wiring"), verification.get("health")
    if not wiring and not health:
        return Text("not verified (nothing applied)", style="dim")
    parts = []
    if wiring and not wiring.get("expects_queue"):
        parts.append("W&B's internal queue (no S3 -> SQS wiring to check)")
    elif wiring:
        verdict = "passed" if wiring.get("passed") else "FAILED"
        checked = len(wiring.get("checked") or [])
        codes = [f["code"] for f in wiring.get("findings") or [] if f.get("severity") != "info"]
        parts.append(f"S3 -> SQS wiring {verdict} ({checked} checks{': ' + ', '.join(codes) if codes else ''})")
    if health:
        verdict = "healthy" if health.get("healthy") else "UNHEALTHY"
        paths = [
            str(item).split(" ", 1)[-1].split("//", 1)[-1].split("/", 1)[-1] for item in health.get("checked") or []
        ]
        parts.append(f"health {verdict} after {health.get('attempts')} attempt(s) (/{', /'.join(paths)})")
    failed = (wiring and not wiring.get("passed")) or (health and not health.get("healthy"))
    return Text("; ".join(parts), style="red" if failed else "green")


def summary_table(records: list[RunRecord], driver: SandboxDriver, deployment: str) -> Table:
    """What each run did, as its record says (oldest first), and where to look further."""
    table = Table(title=f"{deployment}: what happened (from the run records)", show_header=False, title_justify="left")
    table.add_column("what", no_wrap=True, style="bold")
    table.add_column("value", overflow="fold")
    for record in records:
        details = record.details
        plan = details.get("plan") or {}
        duration = f" in {record.duration_seconds:.1f} s" if record.duration_seconds is not None else ""
        table.add_row(
            f"run {record.execution_name}",
            Text.assemble(f"started by {record.trigger}: ", styled_outcome(record.outcome), duration),
        )
        table.add_row("  changed in SSM", what_changed(details))
        sha = plan.get("plan_sha256") or details.get("plan_sha256")
        counts = plan.get("counts") or details.get("counts")
        table.add_row("  plan", counts_text(counts) if sha else "no plan")
        if sha:
            table.add_row("  plan sha256", sha)
        table.add_row("  approval", approval_text(details))
        table.add_row("  verified", verification_text(details))
        if record.reason:
            table.add_row("  reason", Text(record.reason, style="red"))
    bucket = driver.artifacts_bucket
    objects = client("s3").list_objects_v2(Bucket=bucket, Prefix=f"runs/{deployment}/").get("Contents", [])
    table.add_row("plans, outputs, findings", f"s3://{bucket}/runs/{deployment}/ ({len(objects)} objects)")
    table.add_row("terraform state", f"s3://{driver.sandbox.physical('StateBucket')}/deployments/{deployment}/")
    table.add_row("W&B stand-in", f"{driver.standin.url} ({len(driver.standin.requests)} requests)")
    table.add_row("inspect it yourself", "wbd sandbox up  (then the AWS CLI / wbd with AWS_ENDPOINT_URL)")
    return table


def run_demo(repo_root: Path, console: Console, *, time_scale: float = 100.0) -> DemoResult:
    result = DemoResult()
    started = time.monotonic()
    console.rule("wandb-deployer sandbox (AWS emulated by moto; Terraform is the sandbox's emulation)")
    with running_deployer(repo_root, time_scale=time_scale) as driver:
        console.print(f"emulator at {driver.sandbox.endpoint_url}; W&B stand-in at {driver.standin.url}")
        example = repo_root / "examples" / "operator.yaml"
        console.print(f"[bold]1.[/] wbd config push {example.relative_to(repo_root)} --yes  (with a demo license)")
        deployment = driver.push(example)
        result.runs += follow_runs(driver, console, "run started by the push")
        if result.succeeded:
            console.print(
                f"[bold]2.[/] aws ssm put-parameter --overwrite --name {PREFIX}/{deployment}/infra/size --value medium"
            )
            driver.put(deployment, "infra/size", "medium")
            result.runs += follow_runs(driver, console, "run started by the parameter change")
        followed = {run.execution_arn for run in result.runs}
        result.records = [record for record in reversed(driver.runs(deployment)) if record.execution_arn in followed]
        console.print(summary_table(result.records, driver, deployment))
        result.api_calls = driver.sandbox.counters.total_api_calls()
    result.seconds = time.monotonic() - started
    console.print(
        f"{len(result.runs)} run(s), {result.transitions} state transitions, "
        f"{result.api_calls} emulator API calls, {result.seconds:.1f} s wall time"
    )
    for run in result.runs:
        if run.status != "SUCCEEDED":
            console.print(f"[red]run {run.execution_arn} {run.status}: {run.error} {run.cause or ''}")
    return result
