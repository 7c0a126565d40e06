"""Benchmark: a burst of parameter writes to one deployment in the sandbox, and how the deployer coalesces it.

Run with `python -m bench.burst [--writes N]`. Deploys the operator example first (not measured), then writes N
parameters (alternately `infra/size` and `deployer/health_timeout_seconds`, the last values known) as fast as the
emulator takes them, and waits until no run is left. Reports the executions the burst started, how many of them did
work and how many coalesced (found the lock held), state transitions, emulator API calls by service, wall time, and
whether the applied fingerprint equals the one of the config now in SSM. Writes bench/results/burst.json and prints a
table. The sandbox emulates AWS and Terraform (time scale 100): the numbers measure the deployer's orchestration, not
cloud latency. Benchmarks measure; they never assert timings.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.workspace import desired_fingerprint
from wbd.sandbox_driver import PREFIX, SandboxDriver, running_deployer

RESULTS = Path(__file__).parent / "results" / "burst.json"
REPO = Path(__file__).parent.parent
EXAMPLE = REPO / "examples" / "operator.yaml"
SIZES = ("medium", "large", "small")  # the burst ends on medium: the last run has a change to apply
# The states an execution passes only when it holds the deployment lock (it did work).
WORKING_STATE = "Record run started"


def write_burst(driver: SandboxDriver, deployment: str, writes: int) -> dict[str, str]:
    """N writes of harmless keys; returns the last value written per key."""
    last: dict[str, str] = {}
    for index in range(writes):
        key, value = (
            ("deployer/health_timeout_seconds", str(1800 + index))
            if index % 2
            else ("infra/size", SIZES[index % len(SIZES)])
        )
        driver.put(deployment, key, value)
        last[key] = value
    return last


def describe_executions(driver: SandboxDriver, arns: list[str]) -> list[dict[str, Any]]:
    rows = []
    for arn in arns:
        history = driver.sandbox.history(arn)
        entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
        described = driver.describe(arn)
        rows.append(
            {
                "name": described["name"],
                "status": described["status"],
                "did_work": WORKING_STATE in entered,
                "state_transitions": len(entered),
                "seconds": round((described["stopDate"] - described["startDate"]).total_seconds(), 2),
            }
        )
    return rows


def run_burst(writes: int) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory(prefix="wbd-bench-burst-") as work,
        running_deployer(REPO, time_scale=100.0, work_dir=Path(work)) as driver,
    ):
        deployment = driver.push(EXAMPLE)
        before = set(driver.wait_until_idle())
        driver.sandbox.counters.reset()

        started = time.perf_counter()
        last = write_burst(driver, deployment, writes)
        write_seconds = time.perf_counter() - started
        after = driver.wait_until_idle()
        idle_seconds = time.perf_counter() - started

        burst_arns = [arn for arn in after if arn not in before]
        executions = describe_executions(driver, burst_arns)
        config = load_deployment_config(deployment, prefix=PREFIX, ssm=client("ssm"))
        applied = driver.status(deployment).applied
        api_calls = driver.sandbox.counters.api_calls()
        return {
            "writes": writes,
            "write_seconds": round(write_seconds, 2),
            "wall_seconds_until_idle": round(idle_seconds - 1.0, 2),  # minus the driver's quiet second
            "executions_started": len(executions),
            "runs_that_did_work": sum(1 for row in executions if row["did_work"]),
            "runs_coalesced": sum(1 for row in executions if not row["did_work"]),
            "state_transitions": sum(row["state_transitions"] for row in executions),
            "executions": executions,
            "emulator_api_calls": sum(sum(ops.values()) for ops in api_calls.values()),
            "emulator_api_calls_by_service": {service: sum(ops.values()) for service, ops in api_calls.items()},
            "last_written": last,
            "applied_equals_last_written": applied is not None and applied.fingerprint == desired_fingerprint(config),
        }


def print_report(report: dict[str, Any]) -> None:
    console = Console()
    summary = Table(title=f"burst of {report['writes']} parameter writes (sandbox, time scale 100)")
    summary.add_column("measure")
    summary.add_column("value", justify="right")
    for key in (
        "write_seconds",
        "wall_seconds_until_idle",
        "executions_started",
        "runs_that_did_work",
        "runs_coalesced",
        "state_transitions",
        "emulator_api_calls",
        "applied_equals_last_written",
    ):
        summary.add_row(key.replace("_", " "), str(report[key]))
    console.print(summary)
    services = Table(title="emulator API calls by service")
    services.add_column("service")
    services.add_column("calls", justify="right")
    for service, calls in sorted(report["emulator_api_calls_by_service"].items(), key=lambda item: -item[1]):
        services.add_row(service, str(calls))
    console.print(services)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--writes", type=int, default=50)
    args = parser.parse_args(argv if argv is not None else [])
    result = run_burst(args.writes)
    report = {
        "succeeded": result["applied_equals_last_written"] and result["runs_that_did_work"] <= 2,
        **result,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "note": "sandbox (moto + Terraform emulation), time scale 100; the example is deployed first (not measured)",
    }
    print_report(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS}")
    return report


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["succeeded"] else 1)
