"""`wbd sandbox demo`: the main job on the embedded default.

Starts the sandbox (template.yaml's resources, the real state machines and handlers on moto), pushes
`examples/operator.yaml` with a demo license, lets the SSM change events start the deploy run, follows it state by
state, then changes one parameter and follows the run that change starts. Terraform here is the sandbox's emulation.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

from wandb_deployer.aws_clients import client
from wbd.run_progress import ExecutionProgress, follow_execution
from wbd.sandbox_driver import PREFIX, SandboxDriver, running_deployer


@dataclass
class DemoResult:
    runs: list[ExecutionProgress] = field(default_factory=list)
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


def summary_table(driver: SandboxDriver, deployment: str) -> Table:
    sandbox = driver.sandbox
    table = Table(title=f"{deployment}: what happened", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for record in reversed(driver.runs(deployment)):
        counts = record.details.get("counts") or {}
        planned = ", ".join(f"{count} to {action}" for action, count in counts.items() if count) or "no changes"
        table.add_row(
            f"run {record.execution_name}", f"{record.outcome}: {planned} ({record.duration_seconds or 0:.1f} s)"
        )
    bucket = driver.artifacts_bucket
    objects = client("s3").list_objects_v2(Bucket=bucket, Prefix=f"runs/{deployment}/").get("Contents", [])
    table.add_row("plans, outputs, findings", f"s3://{bucket}/runs/{deployment}/ ({len(objects)} objects)")
    table.add_row("terraform state", f"s3://{sandbox.physical('StateBucket')}/deployments/{deployment}/")
    table.add_row("verified", "S3 -> SQS wiring, /healthz, /ready, /console/api/healthz")
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
        console.print(summary_table(driver, deployment))
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
