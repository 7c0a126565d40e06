"""SAM `Events` of functions and state machines, and plain rules/schedules, as EventBridge rules and schedules.

SAM turns `Events: {Name: {Type: EventBridgeRule | CloudWatchEvent | Schedule | ScheduleV2}}` of a resource into an
AWS::Events::Rule or AWS::Scheduler::Schedule named `<Owner><Name>` whose target is the owner. The sandbox does the
same and records them under those logical ids (so `Sandbox.fire_schedule("<Owner><Name>")` works).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from wbd.sandbox.emulator import emulator_client
from wbd.sandbox.stack_records import ProvisionedResource

if TYPE_CHECKING:
    from wbd.sandbox.provisioning import Stack

LOGGER = logging.getLogger(__name__)
_RULE_EVENTS = ("EventBridgeRule", "CloudWatchEvent")


class ServerlessEvents:
    """Creates the rules and schedules of a stack in the emulator."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.skipped: dict[str, str] = {}

    def expand(self, owner: str, target_arn: str, events: dict[str, Any]) -> None:
        for event_name, event in events.items():
            logical_id = f"{owner}{event_name}"
            kind = event.get("Type", "")
            props = event.get("Properties") or {}
            target: dict[str, Any] = {
                "Id": (props.get("Target") or {}).get("Id", f"{owner}{event_name}Target"),
                "Arn": target_arn,
            }
            for key in ("Input", "InputPath", "InputTransformer"):
                if key in props:
                    target[key] = props[key]
            if kind in _RULE_EVENTS:
                rule = {
                    "EventPattern": props.get("Pattern") or {},
                    "EventBusName": props.get("EventBusName"),
                    "State": props.get("State", "ENABLED"),
                }
                name = props.get("RuleName") or self.stack.physical_name(logical_id, 64)
                arn = self.put_rule(name, rule, [target])
                details = {"schedule": False, "owner": owner, "bus": rule["EventBusName"]}
                record = ProvisionedResource(logical_id, "AWS::Events::Rule", name, {"Arn": arn}, details=details)
            elif kind == "Schedule":
                enabled = props.get("Enabled", True)
                rule = {
                    "ScheduleExpression": props["Schedule"],
                    "State": props.get("State", "ENABLED" if enabled else "DISABLED"),
                }
                name = props.get("Name") or self.stack.physical_name(logical_id, 64)
                arn = self.put_rule(name, rule, [target])
                details = {"schedule": True, "owner": owner, "bus": None}
                record = ProvisionedResource(logical_id, "AWS::Events::Rule", name, {"Arn": arn}, details=details)
            elif kind == "ScheduleV2":
                schedule_target = {"Arn": target_arn, "RoleArn": props.get("RoleArn") or self._scheduler_role()}
                if "Input" in props:
                    schedule_target["Input"] = props["Input"]
                schedule = {**props, "Target": schedule_target}
                name = props.get("Name") or self.stack.physical_name(logical_id, 64)
                arn = self.create_schedule(name, schedule)
                details = {"schedule": True, "owner": owner, "target": schedule_target}
                record = ProvisionedResource(
                    logical_id, "AWS::Scheduler::Schedule", name, {"Arn": arn}, details=details
                )
            else:
                self.skipped[logical_id] = kind
                record = ProvisionedResource(logical_id, f"SAM event {kind}", logical_id, status="skipped")
            self.stack.records[logical_id] = record
            LOGGER.info("event source provisioned", extra={"logical_id": logical_id, "kind": kind})

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
        target.setdefault("RoleArn", self._scheduler_role())
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

    def _scheduler_role(self) -> str:
        return f"arn:aws:iam::{self.stack.account_id}:role/sandbox-scheduler"
