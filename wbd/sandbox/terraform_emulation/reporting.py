"""Human-readable text of the emulation, shaped like Terraform's (and always saying it is an emulation)."""

from __future__ import annotations

import json
from typing import Any

from wbd.sandbox.terraform_emulation import EMULATION_NOTE
from wbd.sandbox.terraform_emulation.plan import ResourceChange, SavedPlan

BANNER = f"[{EMULATION_NOTE}]"
_CHANGE_WORDS: dict[tuple[str, ...], str] = {
    ("create",): "will be created",
    ("update",): "will be updated in-place",
    ("delete",): "will be destroyed",
    ("delete", "create"): "must be replaced",
}
_DRIFT_WORDS: dict[tuple[str, ...], str] = {("update",): "has changed", ("delete",): "has been deleted"}


def _counts(changes: tuple[ResourceChange, ...]) -> tuple[int, int, int]:
    add = sum(1 for change in changes if "create" in change.actions)
    change_count = sum(1 for change in changes if change.actions == ("update",))
    destroy = sum(1 for change in changes if "delete" in change.actions)
    return add, change_count, destroy


def plan_text(plan: SavedPlan) -> str:
    lines: list[str] = []
    if plan.drift:
        lines += ["", "Note: Objects have changed outside of Terraform", ""]
        lines += [f"  # {change.address} {_DRIFT_WORDS[change.actions]}" for change in plan.drift]
    if plan.refresh_only:
        if plan.drift:
            lines += [
                "",
                "This is a refresh-only plan, so Terraform will not take any actions to undo these. If you were",
                "expecting these changes then you can apply this plan to record the updated values in the",
                "Terraform state without changing any remote objects.",
            ]
        else:
            lines += ["", "No changes. Your infrastructure still matches the configuration."]
        return "\n".join(lines)
    if not plan.has_changes:
        lines += ["", "No changes. Your infrastructure matches the configuration."]
        return "\n".join(lines)
    lines += ["", "Terraform will perform the following actions:", ""]
    for change in plan.changes:
        words = _CHANGE_WORDS.get(change.actions)
        if words:
            reason = " (cannot be updated in place)" if change.action_reason == "replace_because_cannot_update" else ""
            lines.append(f"  # {change.address} {words}{reason}")
    add, change_count, destroy = _counts(plan.changes)
    lines += ["", f"Plan: {add} to add, {change_count} to change, {destroy} to destroy."]
    output_changes = [name for name, actions in plan.output_actions().items() if actions != ("no-op",)]
    if output_changes:
        lines += ["", "Changes to Outputs: " + ", ".join(output_changes)]
    return "\n".join(lines)


def output_value_text(output: dict[str, Any]) -> str:
    if output.get("sensitive"):
        return "<sensitive>"
    value = output.get("value")
    return "null" if value is None else json.dumps(value)


def outputs_text(outputs: dict[str, dict[str, Any]]) -> str:
    return "\n".join(f"{name} = {output_value_text(output)}" for name, output in sorted(outputs.items()))
