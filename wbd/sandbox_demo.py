"""`wbd sandbox demo`: the main job on the embedded default.

Starts the sandbox (template.yaml's resources, the real state machines and handlers on moto), pushes
`examples/operator.yaml` with a demo license, lets the SSM change events start the deploy run, follows it state by
state, then changes one parameter and follows the run that change starts. Terraform here is the sandbox's emulation.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import config_to_parameters, diff_parameters, read_parameters, write_parameters
from wandb_deployer.runs.history import list_runs
from wbd.config_file import load_config_file
from wbd.run_progress import ExecutionProgress, follow_execution
from wbd.sandbox import Sandbox
from wbd.sandbox.terraform_emulation.install import install_terraform_emulation
from wbd.sandbox.wandb_standin import WandbStandIn

PREFIX = "/wandb-deployer"
DEPLOY_MACHINE = "DeployStateMachine"
# Stack parameters for the sandbox: the same template, shorter waits (time is compressed on top of these).
SANDBOX_PARAMETERS = {"SettleSeconds": "10", "HealthRetryIntervalSeconds": "10", "ApprovalTimeoutSeconds": "3600"}


def demo_license() -> str:
    """An obviously fake license in the shape W&B licenses have (a compact JWS), made up at run time."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return ".".join(
        [part({"alg": "none", "typ": "JWT"}), part({"sub": "wandb-deployer-sandbox", "demo": True}), "c2FuZGJveA"]
    )


@dataclass
class DemoResult:
    runs: list[ExecutionProgress] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return bool(self.runs) and all(run.status == "SUCCEEDED" for run in self.runs)


@contextmanager
def running_sandbox(repo_root: Path, *, time_scale: float) -> Iterator[tuple[Sandbox, WandbStandIn]]:
    """The sandbox with the Terraform emulation installed and a W&B stand-in as the deployment's endpoint."""
    with WandbStandIn(version="0.70.0") as standin:
        sandbox = Sandbox(
            repo_root,
            time_scale=time_scale,
            parameters=SANDBOX_PARAMETERS,
            build_environment={"WBD_SANDBOX_WANDB_URL": standin.url},
        )
        with sandbox:
            install_terraform_emulation(sandbox.bin_dir)
            yield sandbox, standin


def push_example(path: Path, license_value: str) -> str:
    """What `wbd config push --yes` does: write only what differs from SSM (the license as a SecureString)."""
    config = load_config_file(path, license=license_value)
    ssm = client("ssm")
    desired = config_to_parameters(config, prefix=PREFIX)
    current = read_parameters(config.deployment, prefix=PREFIX, ssm=ssm, decrypt=True)
    write_parameters(diff_parameters(desired, current), desired, ssm=ssm)
    return config.deployment


def wait_for_new_execution(sandbox: Sandbox, known: set[str], timeout: float = 60.0) -> str:
    """The execution the event-driven trigger started (not one we started ourselves)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fresh = [e for e in sandbox.executions(DEPLOY_MACHINE) if e["executionArn"] not in known]
        if fresh:
            return str(min(fresh, key=lambda e: e["startDate"])["executionArn"])
        time.sleep(0.1)
    raise TimeoutError("no deploy run started: the SSM change did not reach the trigger")


def follow_runs(sandbox: Sandbox, console: Console, known: set[str], label: str) -> list[ExecutionProgress]:
    """Follow the run a change started, then any follow-up run it started itself (changes that arrived meanwhile)."""
    sfn = client("stepfunctions")
    followed: list[ExecutionProgress] = []
    arn = wait_for_new_execution(sandbox, known)
    while True:
        known.add(arn)
        progress = follow_execution(
            execution_arn=arn,
            describe=lambda a: sfn.describe_execution(executionArn=a),
            history=sandbox.history,
            console=console,
            title=f"{label}: {arn.rsplit(':', 1)[-1]}",
        )
        followed.append(progress)
        if progress.status != "SUCCEEDED":
            return followed
        output = json.loads(sfn.describe_execution(executionArn=arn).get("output") or "{}")
        next_arn = (output.get("finish") or {}).get("value", {}).get("next_execution_arn")
        if not next_arn:
            return followed
        console.print("[cyan]The desired state moved during that run; the run started the next one.")
        arn = next_arn


def summary_table(sandbox: Sandbox, deployment: str, standin: WandbStandIn) -> Table:
    directory = {
        "artifacts": sandbox.physical("ArtifactsBucket"),
        "state": sandbox.physical("StateBucket"),
        "table": sandbox.physical("DeploymentsTable"),
    }
    table = Table(title=f"{deployment}: what happened", show_header=False)
    table.add_column("what")
    table.add_column("value", overflow="fold")
    for record in list_runs(deployment=deployment, table=directory["table"], dynamodb=client("dynamodb"), limit=10):
        details = record.details or {}
        counts = details.get("counts", "")
        table.add_row(
            f"run {record.execution_name}",
            f"{record.trigger}: {record.outcome} {counts} ({record.duration_seconds or 0:.1f} s)",
        )
    s3 = client("s3")
    runs = s3.list_objects_v2(Bucket=directory["artifacts"], Prefix=f"runs/{deployment}/").get("Contents", [])
    table.add_row("artifacts", f"s3://{directory['artifacts']}/runs/{deployment}/ ({len(runs)} objects)")
    table.add_row("terraform state", f"s3://{directory['state']}/deployments/{deployment}/terraform.tfstate")
    table.add_row("W&B stand-in", f"{standin.url} (answered {len(standin.requests)} requests)")
    table.add_row("emulator", sandbox.endpoint_url)
    return table


def run_demo(repo_root: Path, console: Console, *, time_scale: float = 100.0) -> DemoResult:
    result = DemoResult()
    started = time.monotonic()
    console.rule("wandb-deployer sandbox (AWS emulated by moto; Terraform is the sandbox's emulation)")
    with running_sandbox(repo_root, time_scale=time_scale) as (sandbox, standin):
        console.print(f"emulator at {sandbox.endpoint_url}; W&B stand-in at {standin.url}")
        known: set[str] = set()
        example = repo_root / "examples" / "operator.yaml"
        console.print(f"[bold]1.[/] wbd config push {example.relative_to(repo_root)} (a demo license)")
        deployment = push_example(example, demo_license())
        result.runs += follow_runs(sandbox, console, known, "deploy after push")
        if result.succeeded:
            console.print(
                f"[bold]2.[/] aws ssm put-parameter --overwrite --name {PREFIX}/{deployment}/infra/size --value medium"
            )
            client("ssm").put_parameter(
                Name=f"{PREFIX}/{deployment}/infra/size", Value="medium", Type="String", Overwrite=True
            )
            result.runs += follow_runs(sandbox, console, known, "deploy after size change")
        console.print(summary_table(sandbox, deployment, standin))
        transitions = sum(run.transitions for run in result.runs)
        console.print(
            f"{len(result.runs)} run(s), {transitions} state transitions, "
            f"{sandbox.counters.total_api_calls()} emulator API calls, {time.monotonic() - started:.1f} s"
        )
    for run in result.runs:
        if run.status != "SUCCEEDED":
            console.print(f"[red]run {run.execution_arn} {run.status}: {run.error} {run.cause or ''}")
    return result
