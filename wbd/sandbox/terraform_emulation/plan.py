"""Planning: refresh the state, compare it with the desired resources, and save the plan file (a zip like
Terraform's: `tfplan` with this emulation's JSON, `tfstate` with the prior state, `tfconfig/*.tf.json` and the
`.terraform.lock.hcl` the plan was made with)."""

from __future__ import annotations

import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wbd.sandbox.faults import take_fault_from_file
from wbd.sandbox.terraform_emulation import EMULATION_NOTE, database, eks
from wbd.sandbox.terraform_emulation import file_storage as fs
from wbd.sandbox.terraform_emulation.dependencies import LOCK_FILE
from wbd.sandbox.terraform_emulation.environment import EmulationEnvironment, emulator_client
from wbd.sandbox.terraform_emulation.errors import PlanFileError
from wbd.sandbox.terraform_emulation.outputs import planned_outputs
from wbd.sandbox.terraform_emulation.refresh import normalized_policy, read_actual
from wbd.sandbox.terraform_emulation.state import ResourceRecord, State
from wbd.sandbox.terraform_emulation.workspace import S3Backend, Workspace

PLAN_FORMAT = "wandb-deployer-terraform-emulation-plan/1"
NO_OP = ("no-op",)


class ResourceChange(BaseModel):
    """One resource's planned (or drifted) change; `after` lacks the values only known after apply."""

    model_config = ConfigDict(frozen=True)

    address: str
    actions: tuple[str, ...]
    before: ResourceRecord | None = None
    after: ResourceRecord | None = None
    after_unknown: tuple[str, ...] = ()
    action_reason: str | None = None
    replace_paths: tuple[tuple[str, ...], ...] = ()

    @property
    def record(self) -> ResourceRecord:
        found = self.after or self.before
        assert found is not None
        return found


class SavedPlan(BaseModel):
    """What `plan -out` saves and `apply` executes (no secret is ever part of it)."""

    model_config = ConfigDict(frozen=True)

    emulation: str = EMULATION_NOTE
    format: str = PLAN_FORMAT
    terraform_version: str
    timestamp: str
    refresh_only: bool
    backend: S3Backend
    region: str
    prior_state_exists: bool
    lineage: str
    prior_serial: int
    changes: tuple[ResourceChange, ...] = ()
    drift: tuple[ResourceChange, ...] = ()
    refreshed: tuple[ResourceRecord, ...] = ()
    prior_outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    variables: dict[str, Any] = Field(default_factory=dict)
    module_calls: dict[str, dict[str, str]] = Field(default_factory=dict)

    def output_actions(self) -> dict[str, tuple[str, ...]]:
        if self.refresh_only:
            return {}
        actions: dict[str, tuple[str, ...]] = {}
        for name in sorted(set(self.prior_outputs) | set(self.outputs)):
            before, after = self.prior_outputs.get(name), self.outputs.get(name)
            if before is None:
                actions[name] = ("create",)
            elif after is None:
                actions[name] = ("delete",)
            else:
                actions[name] = NO_OP if before.get("value") == after.get("value") else ("update",)
        return actions

    @property
    def has_changes(self) -> bool:
        if self.refresh_only:
            return bool(self.drift)
        resource_changes = any(change.actions != NO_OP for change in self.changes)
        return resource_changes or any(actions != NO_OP for actions in self.output_actions().values())


def _order(address: str, records: dict[str, ResourceRecord]) -> tuple[int, str]:
    kind = records[address].type
    return (fs.APPLY_ORDER.index(kind) if kind in fs.APPLY_ORDER else len(fs.APPLY_ORDER), address)


def _same(kind: str, key: str, before: Any, after: Any) -> bool:
    if kind == fs.QUEUE_POLICY and key == "policy" and isinstance(before, str) and isinstance(after, str):
        return normalized_policy(before) == normalized_policy(after)
    return bool(before == after)


def _diff(before: ResourceRecord | None, desired: ResourceRecord | None, created: set[str]) -> ResourceChange:
    if desired is None:
        assert before is not None
        return ResourceChange(
            address=before.address,
            actions=("delete",),
            before=before,
            action_reason="delete_because_no_resource_config",
        )
    unknown = tuple(fs.COMPUTED.get(desired.type, ()))
    if before is None:
        return ResourceChange(address=desired.address, actions=("create",), after=desired, after_unknown=unknown)
    force_new = (
        fs.FORCE_NEW.get(desired.type) or eks.FORCE_NEW.get(desired.type) or database.FORCE_NEW.get(desired.type)
    )
    if force_new and before.attributes.get(force_new) != desired.attributes.get(force_new):
        return ResourceChange(
            address=desired.address,
            actions=("delete", "create"),
            before=before,
            after=desired,
            after_unknown=unknown,
            action_reason="replace_because_cannot_update",
            replace_paths=((force_new,),),
        )
    changed = [
        key
        for key, value in desired.attributes.items()
        if not _same(desired.type, key, before.attributes.get(key), value)
    ]
    if not changed:
        return ResourceChange(address=desired.address, actions=NO_OP, before=before, after=before)
    merged = {**before.attributes, **desired.attributes}
    recomputed = unknown if set(desired.dependencies) & created else ()
    for key in recomputed:
        merged.pop(key, None)
    after = desired.with_attributes(merged)
    return ResourceChange(
        address=desired.address, actions=("update",), before=before, after=after, after_unknown=recomputed
    )


def refresh_state(prior: State | None, region: str) -> tuple[list[ResourceRecord], list[ResourceChange]]:
    """Read every resource in state back from the emulator: the refreshed records and the drift."""
    refreshed: list[ResourceRecord] = []
    drift: list[ResourceChange] = []
    for record in prior.resources if prior else ():
        actual = read_actual(record, region)
        if actual is None:
            drift.append(ResourceChange(address=record.address, actions=("delete",), before=record))
            continue
        current = record.with_attributes(actual)
        refreshed.append(current)
        if actual != record.attributes:
            drift.append(ResourceChange(address=record.address, actions=("update",), before=record, after=current))
    return refreshed, drift


def account_id(region: str) -> str:
    return str(emulator_client("sts", region).get_caller_identity()["Account"])


def _moved_record(workspace: Workspace, record: ResourceRecord) -> ResourceRecord:
    """A state object the module's `moved` blocks (file storage at 7.0.0) put at a new address."""
    target = fs.moved_file_storage(workspace, record.address)
    if target is None:
        return record
    return record.model_copy(update={"module": target.removesuffix(f".{record.type}.{record.name}")})


def _take(environment: EmulationEnvironment, fault: str) -> bool:
    return environment.faults_file is not None and take_fault_from_file(environment.faults_file, fault) is not None


def make_plan(
    workspace: Workspace, prior: State | None, environment: EmulationEnvironment, refresh_only: bool, timestamp: str
) -> SavedPlan:
    """Refresh, then compare the refreshed state with the configuration (or, refresh-only, report the drift)."""
    region = workspace.provider_region or environment.aws_region
    refreshed, drift = refresh_state(prior, region)
    lineage = prior.lineage if prior else str(uuid.uuid4())
    refreshed_by_address = {
        _moved_record(workspace, record).address: _moved_record(workspace, record) for record in refreshed
    }
    refreshed = list(refreshed_by_address.values())
    pet_record = refreshed_by_address.get(fs.pet_address(workspace))
    pet = str(pet_record.attributes["id"]) if pet_record else fs.pet_name(lineage)
    desired = {record.address: record for record in fs.desired_resources(workspace, pet, region, account_id(region))}
    if environment.emulate_database:
        desired.update({record.address: record for record in database.desired_database(workspace)})
    if environment.emulate_eks and workspace.operator_generation:
        replace_cluster = not refresh_only and _take(environment, eks.REPLACE_CLUSTER_FAULT)
        eks_records = eks.desired_eks_resources(workspace, replace_cluster=replace_cluster)
        desired.update({record.address: record for record in eks_records})
        eks.apply_moves(workspace, refreshed_by_address, set(desired))
        refreshed = list(refreshed_by_address.values())  # moved objects live on at their new addresses
    changes: list[ResourceChange] = []
    if not refresh_only:
        everything = {**refreshed_by_address, **desired}
        created: set[str] = set()
        for address in sorted(everything, key=lambda address: _order(address, everything)):
            change = _diff(refreshed_by_address.get(address), desired.get(address), created)
            if "create" in change.actions:
                created.add(address)
            changes.append(change)
    prior_outputs = prior.outputs if prior else {}
    return SavedPlan(
        terraform_version=environment.terraform_version,
        timestamp=timestamp,
        refresh_only=refresh_only,
        backend=workspace.backend,
        region=region,
        prior_state_exists=prior is not None,
        lineage=lineage,
        prior_serial=prior.serial if prior else 0,
        changes=tuple(changes),
        drift=tuple(drift),
        refreshed=tuple(refreshed),
        prior_outputs=prior_outputs,
        outputs=prior_outputs if refresh_only else planned_outputs(workspace, environment, region, desired.values()),
        variables={name: value for name, value in workspace.variables.items() if name != "license"},
        module_calls={
            call.name: {"source": call.source, "version_constraint": call.version}
            for call in (workspace.aws_module, *workspace.other_modules)
        },
    )


def write_plan_file(path: Path, plan: SavedPlan, prior: State | None, workspace: Workspace) -> None:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tfplan", plan.model_dump_json(indent=1))
        if prior is not None:
            archive.writestr("tfstate", json.dumps(prior.to_document(), indent=1))
        for name in workspace.config_files:
            archive.write(workspace.directory / name, f"tfconfig/{name}")
        locks = workspace.directory / LOCK_FILE
        if locks.is_file():  # as Terraform's plan files do: apply compares them with the working directory's
            archive.write(locks, LOCK_FILE)


def read_plan_locks(path: Path) -> str | None:
    """The dependency lock file the plan was made with (None when the plan has none)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(LOCK_FILE).decode("utf-8") if LOCK_FILE in archive.namelist() else None
    except (OSError, zipfile.BadZipFile) as exc:
        raise PlanFileError(f"{path.name} is not a plan file made by this emulation ({type(exc).__name__})") from exc


def read_plan_file(path: Path) -> SavedPlan:
    try:
        with zipfile.ZipFile(path) as archive:
            document = archive.read("tfplan")
        plan = SavedPlan.model_validate_json(document)
    except (OSError, KeyError, zipfile.BadZipFile, ValidationError) as exc:
        raise PlanFileError(f"{path.name} is not a plan file made by this emulation ({type(exc).__name__})") from exc
    if plan.format != PLAN_FORMAT:
        raise PlanFileError(f"unsupported plan format {plan.format!r}")
    return plan
