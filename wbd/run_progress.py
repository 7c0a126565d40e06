"""Follow a Step Functions execution state by state (from its history) with a live rich table.

On a terminal the table is redrawn several times a second: finished states with their time, the running state with
a spinner and its elapsed time (plan and apply take minutes on AWS). Elsewhere (a pipe, a log file) nothing is redrawn
and the final table is printed once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from wandb_deployer.runs.steps import StepTiming, step_timings

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
_FAILURES = ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed", "ExecutionTimedOut", "ExecutionAborted")
RUNNING_LABEL = {
    "Plan": "terraform plan",
    "Drift plan": "terraform plan -refresh-only",
    "Apply": "terraform apply",
    "Wait for approval": "waiting for a human (wbd approve)",
    "Settle": "letting changes settle",
    "Check health": "checking health",
    "Wait before next health check": "waiting to check health again",
}


@dataclass
class ExecutionProgress:
    """What an execution has done so far, rebuilt from its history events."""

    execution_arn: str
    status: str = "RUNNING"
    steps: list[StepTiming] = field(default_factory=list)
    transitions: int = 0
    error: str | None = None
    cause: str | None = None
    started: datetime | None = None

    @classmethod
    def from_history(cls, execution_arn: str, status: str, events: list[dict[str, Any]]) -> ExecutionProgress:
        progress = cls(execution_arn=execution_arn, status=status, steps=step_timings(events))
        progress.transitions = sum(1 for event in events if str(event["type"]).endswith("StateEntered"))
        progress.started = events[0]["timestamp"] if events else None
        for event in events:
            if event["type"] in _FAILURES:
                details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
                progress.error = details.get("error")
                progress.cause = details.get("cause")
        return progress

    def elapsed(self, now: datetime | None = None) -> float | None:
        if self.started is None:
            return None
        return ((now or datetime.now(UTC)) - self.started).total_seconds()

    def table(self, title: str, now: datetime | None = None) -> RenderableType:
        """The states so far; the running one with a spinner and its elapsed time. The status line sits below the
        table as a line of its own (a caption would wrap into the next output line)."""
        moment = now or datetime.now(UTC)
        table = Table(title=title, title_justify="left")
        table.add_column("#", justify="right")
        table.add_column("state", no_wrap=True)
        table.add_column("seconds", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True)
        for number, step in enumerate(self.steps, start=1):
            seconds = step.seconds
            if step.running_since is not None and self.status == "RUNNING":
                seconds += (moment - step.running_since).total_seconds()
                note: RenderableType = Spinner("dots", text=Text(RUNNING_LABEL.get(step.name, "running"), "yellow"))
            elif step.error:
                note = Text(f"x {step.error}", style="red")
            else:
                note = Text("ok", style="green") if not step.running else Text("stopped", style="red")
            runs = f" x{step.entries}" if step.entries > 1 else ""
            table.add_row(str(number), step.name + runs, f"{seconds:.1f}", note)
        elapsed = self.elapsed(moment)
        when = f" after {elapsed:.1f} s" if elapsed is not None else ""
        style = {"SUCCEEDED": "green", "RUNNING": "cyan"}.get(self.status, "red")
        status = Text(f"{self.status}{when} - {self.transitions} state transitions", style=style)
        return Group(table, status)


def follow_execution(
    *,
    execution_arn: str,
    describe: Callable[[str], dict[str, Any]],
    history: Callable[[str], list[dict[str, Any]]],
    console: Console,
    title: str,
    timeout: float = 600.0,
    poll_seconds: float = 0.25,
    on_poll: Callable[[ExecutionProgress], None] | None = None,
) -> ExecutionProgress:
    """Poll the execution until it ends, redrawing its states; returns the final progress."""
    deadline = time.monotonic() + timeout
    latest = [ExecutionProgress(execution_arn=execution_arn)]
    # The live display redraws from `latest` on its own clock (spinner, elapsed seconds) between polls.
    # stdout is not redirected: in the sandbox it is the router that sends each handler's output to its log file.
    live = Live(
        console=console,
        refresh_per_second=8,
        get_renderable=lambda: latest[0].table(title),
        redirect_stdout=False,
        redirect_stderr=False,
    )
    try:
        with live:
            while True:
                status = describe(execution_arn)["status"]
                progress = ExecutionProgress.from_history(execution_arn, status, history(execution_arn))
                latest[0] = progress
                if on_poll is not None:
                    on_poll(progress)
                if status in TERMINAL or time.monotonic() > deadline:
                    return progress
                time.sleep(poll_seconds)
    finally:
        if not console.is_terminal:
            console.line()  # rich ends the final drawing with a newline only on a terminal
