"""`terraform show -json`: Terraform's JSON plan representation (format_version 1.2) of a saved plan, and the JSON
state representation when no plan file is given. Unknown keys are allowed by the format; `emulation` says what this is.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wbd.sandbox.terraform_emulation import EMULATION_LABEL
from wbd.sandbox.terraform_emulation.plan import ResourceChange, SavedPlan
from wbd.sandbox.terraform_emulation.state import ResourceRecord, State

PLAN_FORMAT_VERSION = "1.2"
STATE_FORMAT_VERSION = "1.0"


def _resource_header(record: ResourceRecord) -> dict[str, Any]:
    return {
        "address": record.address,
        "module_address": record.module,
        "mode": "managed",
        "type": record.type,
        "name": record.name,
        "provider_name": record.provider,
    }


def _module_tree(records: Iterable[ResourceRecord]) -> dict[str, Any]:
    """Terraform's nested module representation: root_module -> child_modules by address."""
    modules: dict[str, dict[str, Any]] = {"": {"resources": [], "child_modules": []}}

    def module(address: str) -> dict[str, Any]:
        if address not in modules:
            parent = address.rsplit(".module.", 1)[0] if ".module." in address else ""
            modules[address] = {"address": address, "resources": [], "child_modules": []}
            module(parent)["child_modules"].append(modules[address])
        return modules[address]

    for record in records:
        values = {**_resource_header(record), "schema_version": 0}
        values.pop("module_address")
        values.update({"values": record.attributes, "sensitive_values": {}})
        module(record.module)["resources"].append(values)
    return modules[""]


def _change_json(change: ResourceChange) -> dict[str, Any]:
    before = change.before.attributes if change.before else None
    after = change.after.attributes if change.after else None
    body: dict[str, Any] = {
        "actions": list(change.actions),
        "before": before,
        "after": None if after is None else {k: v for k, v in after.items() if k not in change.after_unknown},
        "after_unknown": {key: True for key in change.after_unknown} if after is not None else False,
        "before_sensitive": {} if before is not None else False,
        "after_sensitive": {} if after is not None else False,
    }
    if change.replace_paths:
        body["replace_paths"] = [list(path) for path in change.replace_paths]
    entry = {**_resource_header(change.record), "change": body}
    if change.action_reason:
        entry["action_reason"] = change.action_reason
    return entry


def _planned_records(plan: SavedPlan) -> list[ResourceRecord]:
    if plan.refresh_only:
        return list(plan.refreshed)
    records = []
    for change in plan.changes:
        if change.after is not None:
            known = {k: v for k, v in change.after.attributes.items() if k not in change.after_unknown}
            records.append(change.after.with_attributes(known))
    return records


def _outputs_json(outputs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        name: {"sensitive": bool(output.get("sensitive", False)), "value": output.get("value")}
        for name, output in sorted(outputs.items())
    }


def plan_representation(plan: SavedPlan) -> dict[str, Any]:
    output_changes = {}
    for name, actions in plan.output_actions().items():
        before, after = plan.prior_outputs.get(name), plan.outputs.get(name)
        output_changes[name] = {
            "actions": list(actions),
            "before": before.get("value") if before else None,
            "after": after.get("value") if after else None,
            "after_unknown": False,
            "before_sensitive": bool(before and before.get("sensitive")),
            "after_sensitive": bool(after and after.get("sensitive")),
        }
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "terraform_version": plan.terraform_version,
        "emulation": EMULATION_LABEL,
        "variables": {name: {"value": value} for name, value in sorted(plan.variables.items())},
        "planned_values": {"outputs": _outputs_json(plan.outputs), "root_module": _module_tree(_planned_records(plan))},
        "resource_drift": [_change_json(change) for change in plan.drift],
        "resource_changes": [_change_json(change) for change in plan.changes],
        "output_changes": output_changes,
        "configuration": {
            "provider_config": {
                "aws": {"name": "aws", "full_name": "registry.terraform.io/hashicorp/aws"},
            },
            "root_module": {
                "module_calls": {name: {**call, "module": {}} for name, call in sorted(plan.module_calls.items())}
            },
        },
        "timestamp": plan.timestamp,
        "applyable": plan.has_changes,
        "complete": True,
        "errored": False,
    }


def state_representation(state: State | None, terraform_version: str) -> dict[str, Any]:
    if state is None:
        return {"format_version": STATE_FORMAT_VERSION, "emulation": EMULATION_LABEL}
    return {
        "format_version": STATE_FORMAT_VERSION,
        "terraform_version": state.terraform_version or terraform_version,
        "emulation": EMULATION_LABEL,
        "values": {"outputs": _outputs_json(state.outputs), "root_module": _module_tree(state.resources)},
    }
