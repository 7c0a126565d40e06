"""Roll back a deployment to the desired config a succeeded run applied (`wbd rollback`, deployer/on_unhealthy).

What a run records when it loads its config (`details.config` of its record): the config's fingerprint, whose
snapshot (`SNAPSHOT#<fingerprint>`, see `config_snapshot`) holds every parameter as the deployer wrote it, and the
secrets by reference only: parameter name and version, never the value (the snapshot holds only their digest).

A rollback writes that config back to SSM through the same path as any change: the writes are noted as `rollback`
(so the run they start says so, see `change_source`), SSM's change events start a deploy run, and that run validates,
plans, stops at the approval gate as deployer/approval says, and applies. Before writing, the upgrade guards compare
the target with what SSM holds now (what the failed run may have applied): a rollback may move a version back (it
sets deployer/allow_downgrade once, as `wbd config push --force` does), never EKS or a module major; those are
refused with the guards' reasons and nothing is written. A secret is rewritten only when its version changed since
the target run: the value of the recorded version is read from SSM's parameter history and written as a new version.
The automatic rollback (deployer/on_unhealthy) never reads a secret: when one changed since the target run it does not
start, and names the `wbd rollback` command that does it with the operator's own credentials.

One exception to "never a module major", for `wbd runbook --restore` only (`RestoreAllowance`): the Terraform state is
put back to the version recorded before a runbook's first apply, so the config goes back to exactly the module
release (and generation) the runbook started from, and to nothing else; EKS and every other guard still hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wandb_deployer.config.model import DeploymentConfig, Generation
from wandb_deployer.config.parameters import (
    ALLOW_DOWNGRADE_KEY,
    DesiredParameter,
    ParameterDiff,
    ParameterType,
    WriteResult,
    config_from_parameters,
    diff_parameters,
    read_parameters,
    write_parameters,
)
from wandb_deployer.errors import InvalidConfigError, RollbackRefusedError, RollbackUnavailableError
from wandb_deployer.runs import aws_failure, error_code, iso, utc_now
from wandb_deployer.runs.change_source import describe_change, next_versions, note_writes
from wandb_deployer.runs.config_snapshot import DIGEST_PREFIX, read_snapshot, snapshot_values
from wandb_deployer.runs.history import RunRecord, list_runs
from wandb_deployer.upgrade.guards import guard_config_change

logger = Logger(child=True)

RUN_DEPTH = 50  # how far back a rollback looks for a succeeded run
_GONE = frozenset({"ParameterVersionNotFound", "ParameterNotFound"})
PAUSED_KEY = "deployer/paused"


class RestoreAllowance(BaseModel):
    """A runbook's state restore: the state is what the runbook started from, so the config may return to exactly
    that module release and generation (a major downgrade the guards otherwise refuse). The pause the restore set
    (`deployer/paused`) is left as SSM holds it: the operator resumes."""

    model_config = ConfigDict(frozen=True)

    module_version: str
    generation: Generation
    # What the infrastructure last applied (`<section>/<key>` -> value, its config snapshot): the guards compare the
    # target with it, not with SSM, which may hold a step's change that never applied (a rejected EKS step).
    applied_values: dict[str, str] | None = None


class SecretReference(BaseModel):
    """A secret as a run recorded it: where it is and which version, never its value."""

    model_config = ConfigDict(frozen=True)

    key: str  # <section>/<key>
    parameter: str  # the full SSM name
    version: int


class RecordedConfig(BaseModel):
    """`details.config` of a run's record: the desired config it loaded (and, if it succeeded, applied)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    fingerprint: str
    references: list[SecretReference] = Field(default_factory=list)


class RollbackPlan(BaseModel):
    """What a rollback writes: the target run's parameters over what SSM holds (secret values only in `desired`)."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    target: str  # the target run's execution name
    fingerprint: str
    desired: dict[str, DesiredParameter]
    current: dict[str, DesiredParameter]  # as SSM holds them now, never decrypted
    diff: ParameterDiff
    downgrade: bool = False  # deployer/allow_downgrade is written with it

    @property
    def has_changes(self) -> bool:
        return self.diff.has_changes


def recorded_config(
    *, fingerprint: str, parameters: Mapping[str, DesiredParameter], deployment: str, prefix: str
) -> RecordedConfig:
    """What a run records about the config it loaded from `parameters` (full name -> parameter, with versions)."""
    base = f"{prefix.rstrip('/')}/{deployment}/"
    return RecordedConfig(
        fingerprint=fingerprint,
        references=[
            SecretReference(key=name.removeprefix(base), parameter=name, version=parameter.version)
            for name, parameter in sorted(parameters.items())
            if parameter.type == "SecureString" and parameter.version is not None
        ],
    )


def run_config(run: RunRecord) -> RecordedConfig | None:
    """The config a run recorded; None for a run that recorded none (a drift check, a run older than rollback)."""
    raw = run.details.get("config")
    if not isinstance(raw, dict):
        return None
    try:
        return RecordedConfig.model_validate(raw)
    except ValidationError:
        return None


def rollback_command(deployment: str, run_name: str) -> str:
    return f"wbd rollback {deployment} --to {run_name}"


def _named(runs: list[RunRecord], deployment: str, name: str) -> RunRecord:
    matches = [run for run in runs if name in (run.execution_name, run.execution_arn)] or [
        run for run in runs if name in run.execution_name
    ]
    if not matches:
        raise RollbackUnavailableError(f"{deployment} has no run {name!r} among its {RUN_DEPTH} newest runs")
    if len(matches) > 1:
        names = ", ".join(run.execution_name for run in matches[:5])
        raise RollbackUnavailableError(f"{name!r} matches {len(matches)} runs of {deployment} ({names})")
    run = matches[0]
    if run.outcome != "succeeded":
        raise RollbackUnavailableError(
            f"run {run.execution_name} ended {run.outcome}: only a succeeded run's config is known to be good"
        )
    if run_config(run) is None:
        raise RollbackUnavailableError(f"run {run.execution_name} recorded no config to roll back to")
    return run


def find_target(*, deployment: str, table: str, dynamodb: Any, to: str | None = None) -> RunRecord:
    """The run to roll back to: `to` (its name or a unique part of it), else the newest succeeded run with a
    recorded config. RollbackUnavailableError when there is none."""
    runs = list_runs(deployment=deployment, table=table, dynamodb=dynamodb, limit=RUN_DEPTH)
    if to is not None:
        return _named(runs, deployment, to)
    for run in runs:
        if run.outcome == "succeeded" and run_config(run) is not None:
            return run
    raise RollbackUnavailableError(
        f"{deployment}: none of its {RUN_DEPTH} newest runs succeeded with a recorded config: nothing to roll back to"
    )


def _secret_value(reference: SecretReference, ssm: Any) -> str:
    """The value of the recorded version of a secret (never logged, never returned anywhere but the write)."""
    try:
        response = ssm.get_parameter(Name=f"{reference.parameter}:{reference.version}", WithDecryption=True)
    except ClientError as exc:
        if error_code(exc) in _GONE:
            raise RollbackUnavailableError(
                f"{reference.key}: version {reference.version} of {reference.parameter} is no longer in SSM "
                "(it keeps a parameter's 100 newest versions)"
            ) from exc
        raise aws_failure(exc, operation=f"GetParameter {reference.parameter} version") from exc
    return str(response["Parameter"]["Value"])


def _config_or_none(
    deployment: str, parameters: Mapping[str, DesiredParameter], prefix: str
) -> DeploymentConfig | None:
    try:
        return config_from_parameters(deployment, parameters, prefix=prefix, ssm=None, with_secrets=False)
    except InvalidConfigError:
        return None  # SSM holds an invalid config (the failed change): the deploy run's own guards still hold


def _guard_baseline(
    held: DeploymentConfig, target: DeploymentConfig, restoring: RestoreAllowance | None
) -> dict[str, str]:
    """What the guards compare the target with: SSM's config, or (restoring) what was applied, with the module
    release and generation of the target when they are exactly the runbook's from-version."""
    values = snapshot_values(held)
    if restoring is None:
        return values
    if restoring.applied_values is not None:
        values = dict(restoring.applied_values)
    if (target.deployer.module_version, target.deployer.generation) == (
        restoring.module_version,
        restoring.generation,
    ):  # the state goes back to that release too: compare the other versions only
        values["deployer/module_version"] = restoring.module_version
        values["deployer/generation"] = restoring.generation
    return values


def plan_rollback(
    target: RunRecord,
    *,
    prefix: str,
    ssm: Any,
    table: str,
    dynamodb: Any,
    who: str,
    now: datetime | None = None,
    read_secrets: bool = True,
    restoring: RestoreAllowance | None = None,
) -> RollbackPlan:
    """What rolling back to `target` writes; RollbackRefusedError when the guards refuse it (nothing is written),
    RollbackUnavailableError when its config cannot be rebuilt, or (`read_secrets` False: the automatic rollback,
    whose role may not read them) when a secret changed since the target run. `restoring`: see RestoreAllowance."""
    deployment, name = target.deployment, target.execution_name
    recorded = run_config(target)
    if recorded is None:
        raise RollbackUnavailableError(f"run {name} recorded no config to roll back to")
    snapshot = read_snapshot(deployment=deployment, fingerprint=recorded.fingerprint, table=table, dynamodb=dynamodb)
    if snapshot is None:
        raise RollbackUnavailableError(f"run {name}: the snapshot of its config ({recorded.fingerprint[:12]}) is gone")
    base = f"{prefix.rstrip('/')}/{deployment}"
    current = read_parameters(deployment, prefix=prefix, ssm=ssm, decrypt=False)
    references = {reference.key: reference for reference in recorded.references}
    desired: dict[str, DesiredParameter] = {}
    kept = {f"{base}/deployer/{ALLOW_DOWNGRADE_KEY}"}
    if restoring is not None:
        kept.add(f"{base}/{PAUSED_KEY}")
    for key, value in sorted(snapshot.values.items()):
        parameter_name = f"{base}/{key}"
        if parameter_name in kept:
            continue
        if not value.startswith(DIGEST_PREFIX):
            kind: ParameterType = "StringList" if snapshot.types.get(key) == "StringList" else "String"
            desired[parameter_name] = DesiredParameter(type=kind, value=value)
            continue
        reference = references.get(key)
        if reference is None:
            raise RollbackUnavailableError(f"{key}: run {name} recorded no reference to this secret")
        held = current.get(parameter_name)
        if held is not None and held.type == "SecureString" and held.version == reference.version:
            kept.add(parameter_name)  # the same version: left as it is
            continue
        if not read_secrets:
            now_held = f"version {held.version}" if held is not None else "deleted"
            raise RollbackUnavailableError(
                f"{key} changed since run {name} (it applied version {reference.version}, SSM holds {now_held}): "
                f"an automatic rollback never reads a secret; run `{rollback_command(deployment, name)}`"
            )
        desired[parameter_name] = DesiredParameter(type="SecureString", value=_secret_value(reference, ssm))
    target_config = config_from_parameters(
        deployment,
        {**desired, **{n: current[n] for n in kept if n in current}},
        prefix=prefix,
        ssm=ssm,
        with_secrets=False,
    )
    held_config = _config_or_none(deployment, current, prefix)
    downgrade = False
    if held_config is not None:
        held_values = _guard_baseline(held_config, target_config, restoring)
        if guard_config_change(held_values, target_config, allow_downgrade=False):
            remaining = guard_config_change(held_values, target_config, allow_downgrade=True)
            if remaining:
                raise RollbackRefusedError(deployment, remaining)
            downgrade = True
            kept.discard(f"{base}/deployer/{ALLOW_DOWNGRADE_KEY}")
            desired[f"{base}/deployer/{ALLOW_DOWNGRADE_KEY}"] = DesiredParameter(
                type="String", value=f"rollback to {name} by {who} at {iso(utc_now(now))}"
            )
    diff = diff_parameters(desired, {n: p for n, p in current.items() if n not in kept})
    return RollbackPlan(
        deployment=deployment,
        target=name,
        fingerprint=recorded.fingerprint,
        desired=desired,
        current=current,
        diff=diff,
        downgrade=downgrade,
    )


def write_rollback(plan: RollbackPlan, *, ssm: Any, table: str, dynamodb: Any, who: str) -> WriteResult:
    """Write the plan (parameters not in the target config are deleted), noted as `rollback` so the run it starts
    says so."""
    note_writes(
        deployment=plan.deployment,
        source="rollback",
        by=who,
        versions=next_versions(plan.diff, plan.current),
        table=table,
        dynamodb=dynamodb,
    )
    result = write_parameters(
        plan.diff, plan.desired, ssm=ssm, prune=True, description=describe_change("rollback", who)
    )
    logger.info(
        "rollback written",
        deployment=plan.deployment,
        target=plan.target,
        written=result.written,
        deleted=result.deleted,
    )
    return result
