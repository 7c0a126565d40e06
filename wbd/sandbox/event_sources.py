"""EventBridge rules and EventBridge Scheduler schedules of a stack, created in the emulator.

The SAM transform turns `Events: {Name: {Type: EventBridgeRule | CloudWatchEvent | Schedule | ScheduleV2}}` of a
function or state machine into an AWS::Events::Rule or AWS::Scheduler::Schedule named `<Owner><Name>` (with its target
and, for a schedule, the role the scheduler assumes); the stack creates those here.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from wbd.sandbox.emulator import emulator_client

if TYPE_CHECKING:
    from wbd.sandbox.provisioning import Stack

LOGGER = logging.getLogger(__name__)


class EventSources:
    """Creates the rules and schedules of a stack in the emulator."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def put_rule(self, name: str, props: dict[str, Any], targets: list[dict[str, Any]]) -> str:
        """A rule (event pattern or schedule expression) with its targets; returns the rule ARN."""
        events = emulator_client("events")
        request: dict[str, Any] = {"Name": name, "State": props.get("State", "ENABLED")}
        if props.get("EventBusName"):
            request["EventBusName"] = props["EventBusName"]
        if props.get("EventPattern"):
            pattern = props["EventPattern"]
            request["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        if props.get("ScheduleExpression"):
            request["ScheduleExpression"] = props["ScheduleExpression"]
        if props.get("Description"):
            request["Description"] = props["Description"]
        arn: str = events.put_rule(**request)["RuleArn"]
        if targets:
            prepared = []
            for target in targets:
                item = {
                    key: value
                    for key, value in target.items()
                    if key in ("Id", "Arn", "Input", "InputPath", "InputTransformer", "RoleArn")
                }
                if isinstance(item.get("Input"), dict):
                    item["Input"] = json.dumps(item["Input"])
                prepared.append(item)
            bus = {"EventBusName": request["EventBusName"]} if "EventBusName" in request else {}
            events.put_targets(Rule=name, Targets=prepared, **bus)
        return arn

    def create_schedule(self, name: str, props: dict[str, Any]) -> str:
        """An EventBridge Scheduler schedule; returns its ARN."""
        target = dict(props.get("Target") or {})
        if isinstance(target.get("Input"), dict):
            target["Input"] = json.dumps(target["Input"])
        target.setdefault("RoleArn", f"arn:aws:iam::{self.stack.account_id}:role/sandbox-scheduler")
        request: dict[str, Any] = {
            "Name": name,
            "ScheduleExpression": props["ScheduleExpression"],
            "FlexibleTimeWindow": props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
            "Target": {key: value for key, value in target.items() if key in ("Arn", "RoleArn", "Input")},
            "State": props.get("State", "ENABLED"),
        }
        for key in ("GroupName", "ScheduleExpressionTimezone", "Description"):
            if props.get(key):
                request[key] = props[key]
        arn: str = emulator_client("scheduler").create_schedule(**request)["ScheduleArn"]
        return arn
