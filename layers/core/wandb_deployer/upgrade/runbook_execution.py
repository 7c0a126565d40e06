"""Running a runbook: each step is one ordinary deploy run, started by writing the step's parameter changes to SSM.

- start: the upgrade request records the runbook (refused when one is running) and writes the first step's changes;
- plan: the run of the current step (a run started after the step's changes were written) has its plan checked
  against the step's rules; a violation stops the runbook with the guide's diagnosis, and nothing is applied;
  before the runbook's first apply the Terraform state's S3 version is recorded; the step always needs a human's
  approval;
- end: a step whose run succeeded (or found nothing to change) is done and the next step's changes are written (its
  SSM change events start the next run); a failed or rejected run stops the runbook.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.config.parameters import read_parameters
from wandb_deployer.errors import RunbookPreflightFailedError, RunbookRuleViolationError, RunbookStagingError
from wandb_deployer.plan.shape import RuleViolation, ShapedChange, check_plan_shape
from wandb_deployer.runs import aws_failure, error_code, iso, parse_iso, utc_now
from wandb_deployer.runs.change_source import note_writes
from wandb_deployer.upgrade.preflight import PreflightResult
from wandb_deployer.upgrade.runbook_record import RunbookState, StateVersion, new_runbook_state, save_runbook
from wandb_deployer.upgrade.runbooks import Runbook, RunbookStep

logger = Logger(child=True)

SUCCESSFUL_OUTCOMES = frozenset({"succeeded", "no-changes"})


def write_step_changes(
    step: RunbookStep, *, deployment: str, prefix: str, ssm: Any, by: str, table: str, dynamodb: Any
) -> list[str]:
    """Write one step's parameter changes in order; returns the full names changed. What SSM holds is listed without
    decryption (no secret is read); a staged secret must be in place (the operator copied it), its source is deleted."""
    base = f"{prefix}/{deployment}"
    description = f"wandb-deployer runbook step {step.name} (requested by {by})"[:1024]
    held = read_parameters(deployment, prefix=prefix, ssm=ssm, decrypt=False)
    for change in step.changes:
        if change.staged_from and f"{base}/{change.name}" not in held:
            raise RunbookStagingError(
                f"runbook step {step.name}: {change.name} is not staged: copy {change.staged_from} to it "
                "(`wbd upgrade` does) and request again; nothing was written"
            )
    puts = [f"{base}/{c.name}" for c in step.changes if c.value is not None]
    versions = {name: (held[name].version or 0) + 1 if name in held else 1 for name in puts}
    note_writes(deployment=deployment, source="upgrade", by=by, versions=versions, table=table, dynamodb=dynamodb)
    changed: list[str] = []
    for change in step.changes:
        name = f"{base}/{change.name}"
        try:
            if change.staged_from:
                if _delete(ssm, f"{base}/{change.staged_from}"):
                    changed.append(f"{base}/{change.staged_from}")
            elif change.value is not None:
                ssm.put_parameter(Name=name, Value=change.value, Type="String", Overwrite=True, Description=description)
                changed.append(name)
            elif _delete(ssm, name):
                changed.append(name)
        except ClientError as exc:
            raise aws_failure(exc, operation=f"runbook step {step.name}: {change.name}") from exc
    logger.info("runbook step written", deployment=deployment, step=step.name, parameters=changed)
    return changed


def _delete(ssm: Any, name: str) -> bool:
    try:
        ssm.delete_parameter(Name=name)
    except ClientError as exc:
        if error_code(exc) == "ParameterNotFound":
            return False
        raise
    return True


def start_runbook(
    runbook: Runbook,
    *,
    requested_by: str,
    request_id: str | None,
    prefix: str,
    ssm: Any,
    table: str,
    dynamodb: Any,
    now: datetime | None = None,
) -> RunbookState:
    """Record the runbook (RunbookConflictError when one is running) and write its first step's changes."""
    state = save_runbook(
        new_runbook_state(runbook, requested_by=requested_by, request_id=request_id, now=now),
        table=table,
        dynamodb=dynamodb,
        now=now,
    )
    try:
        write_step_changes(
            runbook.steps[0],
            deployment=runbook.deployment,
            prefix=prefix,
            ssm=ssm,
            by=requested_by,
            table=table,
            dynamodb=dynamodb,
        )
    except RunbookStagingError as exc:
        stop_runbook(state, reason=str(exc), outcome="rejected", table=table, dynamodb=dynamodb, now=now)
        raise
    return state


def runs_current_step(state: RunbookState | None, started_at: datetime | None) -> bool:
    """Whether a run that started at `started_at` is the run of the runbook's current step."""
    if state is None or state.status != "running" or started_at is None:
        return False
    written = state.record.written_at
    return written is not None and utc_now(started_at) >= parse_iso(written)


def stop_runbook(
    state: RunbookState,
    *,
    reason: str,
    table: str,
    dynamodb: Any,
    execution_arn: str | None = None,
    violations: Iterable[str] = (),
    preflight: Iterable[str] = (),
    outcome: str = "failed",
    now: datetime | None = None,
) -> RunbookState:
    record = state.record.model_copy(
        update={
            "status": "stopped",
            "execution_arn": execution_arn or state.record.execution_arn,
            "outcome": outcome,
            "violations": list(violations) or state.record.violations,
            "preflight": list(preflight) or state.record.preflight,
            "reason": reason,
        }
    )
    stopped = state.with_step(record, status="stopped", reason=f"{state.position()}: {reason}")
    logger.warning("runbook stopped", deployment=state.deployment, step=state.step.name, reason=reason)
    return save_runbook(stopped, table=table, dynamodb=dynamodb, now=now)


def check_step_plan(
    state: RunbookState,
    changes: Iterable[ShapedChange],
    *,
    execution_arn: str,
    plan_sha256: str,
    table: str,
    dynamodb: Any,
) -> RunbookState:
    """Check the step's plan against its rules: stop the runbook and raise RunbookRuleViolationError on a violation,
    else note the plan with the step."""
    violations: list[RuleViolation] = check_plan_shape(changes, state.step.rules)
    if violations:
        lines = [violation.message() for violation in violations]
        stop_runbook(
            state,
            reason=f"the plan breaks {len(violations)} rule(s) of the step (nothing was applied)",
            execution_arn=execution_arn,
            violations=lines,
            table=table,
            dynamodb=dynamodb,
        )
        raise RunbookRuleViolationError(
            f"runbook {state.runbook.transition}, {state.position()}: plan {plan_sha256} stopped: " + " | ".join(lines)
        )
    record = state.record.model_copy(update={"execution_arn": execution_arn, "plan_sha256": plan_sha256})
    return save_runbook(state.with_step(record), table=table, dynamodb=dynamodb)


def record_state_version(
    state: RunbookState, *, bucket: str, key: str, s3: Any, execution_arn: str, table: str, dynamodb: Any
) -> RunbookState:
    """Before the runbook's first apply: the state object's current S3 version (kept once, never overwritten)."""
    if state.state_version is not None:
        return state
    try:  # listed, never read: the state holds the license and the database password
        listed = s3.list_object_versions(Bucket=bucket, Prefix=key, MaxKeys=10)
    except ClientError as exc:
        raise aws_failure(exc, operation="ListObjectVersions terraform state") from exc
    latest = [v for v in listed.get("Versions", []) if v.get("Key") == key and v.get("IsLatest")]
    deleted = any(m.get("Key") == key and m.get("IsLatest") for m in listed.get("DeleteMarkers", []))
    version_id = str(latest[0].get("VersionId") or "null") if latest and not deleted else None
    version = StateVersion(
        bucket=bucket, key=key, version_id=version_id, recorded_at=iso(utc_now()), execution_arn=execution_arn
    )
    logger.info("runbook state version recorded", deployment=state.deployment, version_id=version_id)
    return save_runbook(state.model_copy(update={"state_version": version}), table=table, dynamodb=dynamodb)


def finish_step(
    state: RunbookState,
    *,
    outcome: str,
    execution_arn: str,
    reason: str | None,
    prefix: str,
    ssm: Any,
    table: str,
    dynamodb: Any,
    now: datetime | None = None,
) -> RunbookState:
    """The end of the current step's run: the next step starts (its changes are written), the runbook completes, or
    (a failed, rejected or timed-out run) it stops."""
    if outcome not in SUCCESSFUL_OUTCOMES:
        return stop_runbook(
            state,
            reason=reason or f"the step's run ended {outcome}",
            execution_arn=execution_arn,
            outcome=outcome,
            table=table,
            dynamodb=dynamodb,
            now=now,
        )
    done = state.record.model_copy(update={"status": "succeeded", "execution_arn": execution_arn, "outcome": outcome})
    state = state.with_step(done)
    if state.current + 1 >= len(state.steps):
        logger.info("runbook completed", deployment=state.deployment, transition=state.runbook.transition)
        return save_runbook(state.model_copy(update={"status": "completed"}), table=table, dynamodb=dynamodb, now=now)
    following = state.model_copy(update={"current": state.current + 1})
    started = following.record.model_copy(update={"status": "running", "written_at": iso(utc_now(now))})
    saved = save_runbook(following.with_step(started), table=table, dynamodb=dynamodb, now=now)
    write_step_changes(
        saved.step,
        deployment=state.deployment,
        prefix=prefix,
        ssm=ssm,
        by=f"runbook {state.runbook.transition}",
        table=table,
        dynamodb=dynamodb,
    )
    return saved


def approvable_from(state: RunbookState, wait_seconds: int) -> tuple[datetime, str] | None:
    """The earliest time the current step's plan may be approved, and why; None when the step has no wait.

    The step waits `wait_seconds` after the run of the step it names (`approve_after`) ended: finish_step stamps the
    following step's `written_at` when a step's run ends, so that is the end, whatever steps ran in between (the
    retire-aws-auth step counts from the module step, the EKS step between them included). Rounded up to the whole
    second, the precision it is shown with."""
    step = state.step
    if step.approve_after is None:
        return None
    names = [each.name for each in state.runbook.steps]
    position = names.index(step.approve_after) if step.approve_after in names else state.current
    ended = state.steps[position + 1].written_at if position < state.current else None
    if ended is None:  # not an earlier step (_check_contract refuses such a runbook): count from this step's start
        logger.warning("runbook wait counted from the step's start", step=step.name, after=step.approve_after)
        ended = state.record.written_at or iso(utc_now())
    earliest = parse_iso(ended) + timedelta(seconds=wait_seconds)
    earliest = earliest.replace(microsecond=0) + timedelta(seconds=1 if earliest.microsecond else 0)
    reason = (
        f"{wait_seconds} s (RunbookAwsAuthWaitSeconds) after the {step.approve_after} step's run ended at "
        f"{ended[:19]}Z: {step.approve_wait_reason}"
    )
    return earliest, reason


def record_preflight(
    state: RunbookState, results: list[PreflightResult], *, execution_arn: str, table: str, dynamodb: Any
) -> RunbookState:
    """Keep the step's pre-flight results; a failed check stops the runbook (RunbookPreflightFailedError) before its
    plan can be approved or applied."""
    lines = [result.line() for result in results]
    failed = [result for result in results if not result.passed]
    if failed:
        stop_runbook(
            state,
            reason=f"{len(failed)} pre-flight check(s) failed (nothing was applied)",
            execution_arn=execution_arn,
            preflight=lines,
            table=table,
            dynamodb=dynamodb,
        )
        raise RunbookPreflightFailedError(
            f"runbook {state.runbook.transition}, {state.position()}: " + " | ".join(r.line() for r in failed)
        )
    record = state.record.model_copy(update={"preflight": lines})
    return save_runbook(state.with_step(record), table=table, dynamodb=dynamodb)
