"""Follow a Step Functions execution state by state (from its history) with a live rich table."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


@dataclass
class StateStep:
    name: str
    entered: datetime
    exited: datetime | None = None
    failed: str | None = None

    @property
    def seconds(self) -> float | None:
        return (self.exited - self.entered).total_seconds() if self.exited else None


@dataclass
class ExecutionProgress:
    """What an execution has done so far, rebuilt from its history events."""

    execution_arn: str
    status: str = "RUNNING"
    steps: list[StateStep] = field(default_factory=list)
    transitions: int = 0
    error: str | None = None
    cause: str | None = None

    @classmethod
    def from_history(cls, execution_arn: str, status: str, events: list[dict[str, Any]]) -> ExecutionProgress:
        progress = cls(execution_arn=execution_arn, status=status)
        open_steps: dict[str, StateStep] = {}
        for event in events:
            kind = event["type"]
            moment = event["timestamp"]
            if kind.endswith("StateEntered"):
                name = event["stateEnteredEventDetails"]["name"]
                step = StateStep(name=name, entered=moment)
                open_steps[name] = step
                progress.steps.append(step)
                progress.transitions += 1
            elif kind.endswith("StateExited"):
                name = event["stateExitedEventDetails"]["name"]
                if name in open_steps:
                    open_steps.pop(name).exited = moment
            elif kind in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed"):
                details: dict[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
                progress.error = details.get("error")
                progress.cause = details.get("cause")
                if progress.steps and progress.steps[-1].exited is None:
                    progress.steps[-1].failed = progress.error
        return progress

    def table(self, title: str) -> Table:
        table = Table(title=title, caption=f"{self.status} - {self.transitions} state transitions")
        table.add_column("#", justify="right")
        table.add_column("state")
        table.add_column("seconds", justify="right")
        table.add_column("")
        for number, step in enumerate(self.steps, start=1):
            mark = "[red]x " + (step.failed or "") if step.failed else ("[green]ok" if step.exited else "[yellow]...")
            seconds = f"{step.seconds:.2f}" if step.seconds is not None else ""
            table.add_row(str(number), step.name, seconds, mark)
        return table


def follow_execution(
    *,
    execution_arn: str,
    describe: Callable[[str], dict[str, Any]],
    history: Callable[[str], list[dict[str, Any]]],
    console: Console,
    title: str,
    timeout: float = 600.0,
    on_poll: Callable[[ExecutionProgress], None] | None = None,
) -> ExecutionProgress:
    """Poll the execution until it ends, redrawing its states; returns the final progress."""
    deadline = time.monotonic() + timeout
    progress = ExecutionProgress(execution_arn=execution_arn)
    with Live(progress.table(title), console=console, refresh_per_second=8, transient=False) as live:
        while True:
            status = describe(execution_arn)["status"]
            progress = ExecutionProgress.from_history(execution_arn, status, history(execution_arn))
            live.update(progress.table(title))
            if on_poll is not None:
                on_poll(progress)
            if status in TERMINAL or time.monotonic() > deadline:
                return progress
            time.sleep(0.2)
