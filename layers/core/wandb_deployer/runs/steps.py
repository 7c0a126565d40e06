"""How long each step of a run took, from its Step Functions execution history (the only exact clock of a run).

The record step reads the history of its own execution at the end of the run and keeps one line per state in the run
record; `wbd` reads the same history to show a run live. States entered several times (the health check's retries)
are one line with the number of entries and their total time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from wandb_deployer.runs import aws_failure

_FAILURE_EVENTS = frozenset(
    {
        "TaskFailed",
        "TaskTimedOut",
        "LambdaFunctionFailed",
        "LambdaFunctionTimedOut",
        "ExecutionFailed",
        "ExecutionTimedOut",
        "ExecutionAborted",
    }
)
HISTORY_PAGE = 1000


class StepTiming(BaseModel):
    """One state of a run: when it was first entered, its total time, how often it ran, and its error if it failed."""

    model_config = ConfigDict(frozen=True)

    name: str
    entered_at: datetime
    seconds: float = 0.0  # the total of its finished entries
    entries: int = 1
    error: str | None = None
    running_since: datetime | None = None  # set while the state runs (its latest entry)

    @property
    def running(self) -> bool:
        return self.running_since is not None


class _OpenStep:
    def __init__(self, name: str, entered: datetime) -> None:
        self.name = name
        self.first_entered = entered
        self.entered = entered
        self.total = 0.0
        self.entries = 1
        self.open = True
        self.error: str | None = None


def step_timings(events: Iterable[Mapping[str, Any]]) -> list[StepTiming]:
    """The states of an execution in the order they were first entered, from its history events (oldest first)."""
    steps: dict[str, _OpenStep] = {}
    last: _OpenStep | None = None
    for event in events:
        kind, moment = str(event["type"]), event["timestamp"]
        if kind.endswith("StateEntered"):
            name = str(event["stateEnteredEventDetails"]["name"])
            step = steps.get(name)
            if step is None:
                step = steps[name] = _OpenStep(name, moment)
            else:
                step.entered, step.open = moment, True
                step.entries += 1
            last = step
        elif kind.endswith("StateExited"):
            step = steps.get(str(event["stateExitedEventDetails"]["name"]))
            if step is not None and step.open:
                step.total += (moment - step.entered).total_seconds()
                step.open = False
        elif kind in _FAILURE_EVENTS and last is not None:
            details: Mapping[str, Any] = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
            last.error = str(details.get("error") or kind)
    return [
        StepTiming(
            name=step.name,
            entered_at=step.first_entered,
            seconds=round(step.total, 3),
            entries=step.entries,
            error=step.error,
            running_since=step.entered if step.open else None,
        )
        for step in steps.values()
    ]


def execution_history(execution_arn: str, *, sfn: Any) -> list[dict[str, Any]]:
    """Every history event of an execution, oldest first (GetExecutionHistory, all pages)."""
    events: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        try:
            page = sfn.get_execution_history(
                executionArn=execution_arn, maxResults=HISTORY_PAGE, **({"nextToken": token} if token else {})
            )
        except ClientError as exc:
            raise aws_failure(exc, operation="GetExecutionHistory") from exc
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events
