"""Restoring a stopped or aborted runbook (`wbd runbook <deployment> --restore`): the Terraform state version recorded
before its first apply, and the configuration of the last good run before it, through the same gated path.

Run with the operator's own credentials only: no function of the deployer may read the state (it holds the license
and the database password), and a copy of one of its versions reads it. In order, each refusing with
RunbookRestoreRefusedError before anything changes:

1. plan: the runbook is stopped or aborted and recorded a state version that still exists; no step that moves EKS
   may have applied (AWS refuses an EKS downgrade: the guide's forward fix applies); no run holds the deployment lock
   and no Terraform lock object (`<state key>.tflock`, the S3 backend's `use_lockfile`) exists; the newest succeeded
   run that started before the runbook applied the runbook's from-version, and rolling back to its config passes the
   upgrade guards with one allowance only (`RestoreAllowance`: exactly that module release and generation);
2. pause the deployment (`deployer/paused = true`), then check the locks again (a run that started meanwhile: the
   pause is undone and the restore refused);
3. copy the recorded version over the state object (a new current version, written SSE-KMS with the deployer's key,
   which the state bucket's policy demands; the newer versions stay in the bucket);
4. record the last good run as the applied one (the state is what it applied: the next run's guards compare with it)
   and write its config back to SSM, noted as `rollback`;
5. record the restore on the runbook (status `restored`).

It does not resume the deployment: the operator looks, then resumes (`deployer/paused` false); the run that starts
validates, plans against the restored state and stops at the approval gate as deployer/approval says.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from wandb_deployer.config.model import Generation
from wandb_deployer.errors import RollbackRefusedError, RollbackUnavailableError, RunbookRestoreRefusedError
from wandb_deployer.runs import aws_failure, epoch, error_code, iso, parse_iso, utc_now
from wandb_deployer.runs.config_snapshot import read_snapshot
from wandb_deployer.runs.desired import mark_applied, read_applied
from wandb_deployer.runs.history import RunRecord, list_runs
from wandb_deployer.runs.lock import execution_is_running, read_lock
from wandb_deployer.runs.rollback import (
    PAUSED_KEY,
    RUN_DEPTH,
    RestoreAllowance,
    RollbackPlan,
    plan_rollback,
    run_config,
    write_rollback,
)
from wandb_deployer.upgrade.runbook_record import RestoreRecord, RunbookState, StateVersion, save_runbook

logger = Logger(child=True)

RESTORABLE = frozenset({"stopped", "aborted"})
EKS_PARAMETER = "infra/eks_cluster_version"
_MISSING = frozenset({"404", "NoSuchKey", "NoSuchVersion", "NotFound"})


class RestorePlan(BaseModel):
    """What a restore does, decided before anything changes."""

    model_config = ConfigDict(frozen=True)

    state: RunbookState
    version: StateVersion
    version_id: str  # the recorded version (never None here)
    current_version_id: str | None  # the state object's version now (what the copy replaces; it stays in the bucket)
    kms_key_arn: str
    target: RunRecord
    rollback: RollbackPlan


def _refuse(state: RunbookState, why: str) -> RunbookRestoreRefusedError:
    transition = state.runbook.transition
    return RunbookRestoreRefusedError(f"runbook {transition} of {state.deployment}: {why}; nothing changed")


def eks_steps_applied(state: RunbookState) -> list[str]:
    """The steps that move EKS and may have applied: succeeded, or written and not proven unapplied (a rejected
    approval, a plan-shape violation, a failed pre-flight stop a step before its apply). A step whose run was in flight
    when the runbook was aborted stays `running` in the record although its run may have applied: it counts."""
    found = []
    for step, record in zip(state.runbook.steps, state.steps, strict=True):
        if not any(change.name == EKS_PARAMETER for change in step.changes) or record.status == "pending":
            continue
        failed_preflight = any("FAILED" in line for line in record.preflight)
        stopped_before_apply = record.status == "stopped" and (
            record.outcome == "rejected" or bool(record.violations) or failed_preflight
        )
        if not stopped_before_apply:
            found.append(f"{step.name} ({record.status})")
    return found


def _lock_holder(deployment: str, *, table: str, dynamodb: Any, sfn: Any, now: datetime) -> str | None:
    """The run holding the deployment lock (its lease running, or its execution still running), else None."""
    lock = read_lock(deployment=deployment, table=table, dynamodb=dynamodb)
    if lock is None:
        return None
    if lock.lease_until >= epoch(now) or execution_is_running(execution_arn=lock.owner, sfn=sfn):
        return lock.owner.rsplit(":", 1)[-1]
    return None


def _object_exists(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, Any] | None:
    arguments = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    try:
        return dict(s3.head_object(**arguments))
    except ClientError as exc:
        if error_code(exc) in _MISSING:
            return None
        raise aws_failure(exc, operation="HeadObject terraform state") from exc


def _check_locks(state: RunbookState, version: StateVersion, *, s3: Any, table: str, dynamodb: Any, sfn: Any) -> None:
    holder = _lock_holder(state.deployment, table=table, dynamodb=dynamodb, sfn=sfn, now=utc_now())
    if holder is not None:
        raise _refuse(
            state,
            f"run {holder} holds the deployment lock: let it end (wbd watch {state.deployment}; reject a pending "
            f"approval with wbd reject {state.deployment}) and restore then",
        )
    if _object_exists(s3, version.bucket, f"{version.key}.tflock") is not None:
        raise _refuse(
            state,
            f"the Terraform state lock s3://{version.bucket}/{version.key}.tflock exists: a build holds the state "
            "(or left its lock); let it end, or remove a stale lock once no build runs",
        )


def deployer_key(s3: Any, bucket: str) -> str | None:
    """The KMS key the state bucket encrypts with by default (the deployer's key; its policy demands it on writes)."""
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return None
        raise aws_failure(exc, operation="GetBucketEncryption state bucket") from exc
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
            return str(default["KMSMasterKeyID"])
    return None


def last_good_run(state: RunbookState, *, table: str, dynamodb: Any) -> RunRecord | None:
    """The newest succeeded run with a recorded config that started before the runbook did."""
    started = parse_iso(state.started_at)
    for run in list_runs(deployment=state.deployment, table=table, dynamodb=dynamodb, limit=RUN_DEPTH):
        if run.outcome == "succeeded" and parse_iso(run.started_at) < started and run_config(run) is not None:
            return run
    return None


def from_generation(state: RunbookState) -> Generation:
    return "legacy" if state.runbook.transition == "legacy-to-operator" else "operator"


def plan_restore(
    state: RunbookState, *, prefix: str, ssm: Any, s3: Any, sfn: Any, table: str, dynamodb: Any, who: str
) -> RestorePlan:
    """Everything a restore checks before it changes anything (RunbookRestoreRefusedError names what failed)."""
    name = state.deployment
    if state.status == "running":
        raise _refuse(
            state,
            f"it is running ({state.position()}): abort it first (wbd runbook {name} --abort; a pending approval: "
            f"wbd reject {name})",
        )
    if state.status == "completed":
        raise _refuse(
            state,
            f"it completed: {name} is on {state.runbook.to_module_version} and its state moved on; a completed "
            "runbook is not restored (the guide's forward fix applies)",
        )
    if state.status == "restored":
        restored = state.restore
        when = f" at {restored.at} by {restored.by}" if restored else ""
        raise _refuse(state, f"it was already restored{when}")
    version = state.state_version
    if version is None:
        raise _refuse(state, "no state version was recorded: the runbook never reached an apply, nothing to restore")
    if version.version_id is None:
        raise _refuse(
            state, f"s3://{version.bucket}/{version.key} did not exist before the runbook: no earlier state to restore"
        )
    applied_eks = eks_steps_applied(state)
    if applied_eks:
        raise _refuse(
            state,
            f"step {', '.join(applied_eks)} moves EKS and may have applied: AWS refuses an EKS downgrade, so the "
            "state cannot go back before it; restoring is not possible (fix forward as the upgrade guide says)",
        )
    _check_locks(state, version, s3=s3, table=table, dynamodb=dynamodb, sfn=sfn)
    if _object_exists(s3, version.bucket, version.key, version.version_id) is None:
        raise _refuse(state, f"version {version.version_id} of s3://{version.bucket}/{version.key} is gone")
    current = _object_exists(s3, version.bucket, version.key)
    key_arn = deployer_key(s3, version.bucket)
    if key_arn is None:
        raise _refuse(state, f"the state bucket {version.bucket} has no default KMS key to write the state with")
    target = last_good_run(state, table=table, dynamodb=dynamodb)
    if target is None:
        raise _refuse(
            state, f"no run succeeded before the runbook started ({state.started_at}): no configuration to go back to"
        )
    applied = read_applied(deployment=name, table=table, dynamodb=dynamodb)
    baseline = (
        read_snapshot(deployment=name, fingerprint=applied.fingerprint, table=table, dynamodb=dynamodb)
        if applied is not None
        else None
    )
    allowance = RestoreAllowance(
        module_version=state.runbook.from_module_version,
        generation=from_generation(state),
        applied_values=baseline.values if baseline is not None else None,
    )
    try:
        rollback = plan_rollback(
            target, prefix=prefix, ssm=ssm, table=table, dynamodb=dynamodb, who=who, restoring=allowance
        )
    except RollbackRefusedError as exc:
        raise _refuse(
            state, f"the upgrade guards refuse the config of run {target.execution_name}: " + "; ".join(exc.reasons)
        ) from exc
    except RollbackUnavailableError as exc:
        raise _refuse(state, str(exc)) from exc
    held = rollback.desired.get(f"{prefix.rstrip('/')}/{name}/deployer/module_version")
    module = held.value if held is not None else None
    if module != state.runbook.from_module_version:
        raise _refuse(
            state,
            f"run {target.execution_name}, the last good run before the runbook, applied module {module}, not the "
            f"runbook's {state.runbook.from_module_version}: the recorded state does not match its configuration",
        )
    return RestorePlan(
        state=state,
        version=version,
        version_id=version.version_id,
        current_version_id=str(current.get("VersionId")) if current and current.get("VersionId") else None,
        kms_key_arn=key_arn,
        target=target,
        rollback=rollback,
    )


def _set_paused(ssm: Any, name: str, value: str, who: str) -> None:
    try:
        ssm.put_parameter(
            Name=name,
            Value=value,
            Type="String",
            Overwrite=True,
            Description=f"wandb-deployer runbook restore by {who}"[:1024],
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="PutParameter deployer/paused") from exc


def _paused_value(ssm: Any, name: str) -> str | None:
    try:
        return str(ssm.get_parameter(Name=name)["Parameter"]["Value"])
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return None
        raise aws_failure(exc, operation="GetParameter deployer/paused") from exc


def apply_restore(
    plan: RestorePlan,
    *,
    prefix: str,
    ssm: Any,
    s3: Any,
    sfn: Any,
    table: str,
    dynamodb: Any,
    who: str,
    now: datetime | None = None,
) -> RunbookState:
    """Pause, copy the recorded state version back, record the last good run as applied, write its config back and
    record the restore on the runbook. Returns the runbook as saved."""
    state, version = plan.state, plan.version
    paused_name = f"{prefix.rstrip('/')}/{state.deployment}/{PAUSED_KEY}"
    before = _paused_value(ssm, paused_name)
    was_paused = (before or "").strip().lower() == "true"
    if not was_paused:
        _set_paused(ssm, paused_name, "true", who)
    try:
        _check_locks(state, version, s3=s3, table=table, dynamodb=dynamodb, sfn=sfn)
    except RunbookRestoreRefusedError:
        if not was_paused:  # put the pause back as it was: the restore changed nothing
            if before is None:
                ssm.delete_parameter(Name=paused_name)
            else:
                _set_paused(ssm, paused_name, before, who)
        raise
    try:
        copied = s3.copy_object(
            Bucket=version.bucket,
            Key=version.key,
            CopySource={"Bucket": version.bucket, "Key": version.key, "VersionId": plan.version_id},
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=plan.kms_key_arn,
            MetadataDirective="COPY",
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="CopyObject terraform state version") from exc
    new_version = copied.get("VersionId")
    logger.info(
        "runbook state restored",
        deployment=state.deployment,
        restored_version=plan.version_id,
        new_version=new_version,
    )
    recorded = run_config(plan.target)
    assert recorded is not None  # plan_rollback found it
    applied = read_applied(deployment=state.deployment, table=table, dynamodb=dynamodb)
    mark_applied(
        deployment=state.deployment,
        fingerprint=recorded.fingerprint,
        execution_arn=plan.target.execution_arn,
        table=table,
        dynamodb=dynamodb,
        wandb_generation=from_generation(state),  # the target applied the runbook's from-version (checked)
        allow_downgrade=applied.allow_downgrade if applied else None,
        approval=applied.approval if applied else None,
        now=now,
    )
    if plan.rollback.has_changes:
        write_rollback(plan.rollback, ssm=ssm, table=table, dynamodb=dynamodb, who=who)
    record = RestoreRecord(
        restored_version_id=plan.version_id,
        new_version_id=str(new_version) if new_version else None,
        previous_version_id=plan.current_version_id,
        target_run=plan.target.execution_name,
        module_version=state.runbook.from_module_version,
        by=who,
        at=iso(utc_now(now)),
        was_paused=was_paused,
    )
    return save_runbook(
        state.model_copy(update={"status": "restored", "restore": record}), table=table, dynamodb=dynamodb, now=now
    )
