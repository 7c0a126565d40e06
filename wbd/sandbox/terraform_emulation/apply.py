"""Applying exactly a saved plan: stale-plan check, deletes in reverse dependency order, then creates and updates
in dependency order (the notification after the queue policy); the state is persisted even when a step fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from wbd.sandbox.terraform_emulation import file_storage as fs
from wbd.sandbox.terraform_emulation.errors import ResourceOperationError, StalePlanError
from wbd.sandbox.terraform_emulation.plan import SavedPlan
from wbd.sandbox.terraform_emulation.provisioning import delete_resource, put_resource
from wbd.sandbox.terraform_emulation.state import ResourceRecord, State, save_state

Report = Callable[[str], None]


@dataclass
class ApplyCounts:
    added: int = 0
    changed: int = 0
    destroyed: int = 0


def check_not_stale(plan: SavedPlan, current: State | None) -> None:
    """Terraform refuses a saved plan when the state moved on after it was made."""
    if plan.prior_state_exists:
        fresh = current is not None and current.lineage == plan.lineage and current.serial == plan.prior_serial
    else:
        fresh = current is None
    if not fresh:
        raise StalePlanError(
            "The given plan file can no longer be applied because the state was changed by another operation "
            "after the plan was created."
        )


def _ordered(records: dict[str, ResourceRecord]) -> tuple[ResourceRecord, ...]:
    def position(record: ResourceRecord) -> tuple[int, str]:
        kind = record.type
        return (fs.APPLY_ORDER.index(kind) if kind in fs.APPLY_ORDER else len(fs.APPLY_ORDER), record.address)

    return tuple(sorted(records.values(), key=position))


def _without_unknowns(record: ResourceRecord, unknown: tuple[str, ...]) -> ResourceRecord:
    return record.with_attributes({k: v for k, v in record.attributes.items() if k not in unknown})


def apply_saved_plan(plan: SavedPlan, current: State | None, terraform_version: str, report: Report) -> ApplyCounts:
    """Carry out the plan in the emulator and persist the new state (serial + 1) when anything changed."""
    check_not_stale(plan, current)
    counts = ApplyCounts()
    if not plan.has_changes:
        return counts
    resources = {record.address: record for record in plan.refreshed}

    def persist(outputs: dict[str, dict[str, object]]) -> None:
        state = State(
            terraform_version=terraform_version,
            serial=plan.prior_serial + 1,
            lineage=plan.lineage,
            outputs=outputs,
            resources=_ordered(resources),
        )
        save_state(plan.backend, state)

    if plan.refresh_only:
        persist(plan.prior_outputs)
        return counts
    try:
        for change in reversed(plan.changes):
            if "delete" in change.actions and change.before is not None:
                report(f"{change.address}: Destroying...")
                delete_resource(change.before, plan.region)
                resources.pop(change.address, None)
                counts.destroyed += 1
                report(f"{change.address}: Destruction complete")
        for change in plan.changes:
            if change.after is None or change.actions in {("no-op",), ("delete",)}:
                continue
            creating = "create" in change.actions
            report(f"{change.address}: {'Creating' if creating else 'Modifying'}...")
            record = put_resource(_without_unknowns(change.after, change.after_unknown), plan.region)
            resources[change.address] = record
            if creating:
                counts.added += 1
            else:
                counts.changed += 1
            report(f"{change.address}: {'Creation' if creating else 'Modifications'} complete")
    except ResourceOperationError:
        persist(plan.prior_outputs)
        raise
    persist(plan.outputs)
    return counts
