"""Summarise the plan the build saved, and decide whether a human must approve it."""

from __future__ import annotations

from typing import NamedTuple

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import ApprovalPolicy, Generation
from wandb_deployer.deploy.paths import state_key
from wandb_deployer.errors import DestructiveRemediationRefusedError
from wandb_deployer.plan.shape import ShapedChange
from wandb_deployer.plan.snapshot_decision import DatabaseChange, SnapshotDecision, decide_snapshot
from wandb_deployer.plan.summary import PlanDigest, summarise_plan_with_digest
from wandb_deployer.runs import iso
from wandb_deployer.runs.desired import AppliedState, read_applied
from wandb_deployer.settings import Settings
from wandb_deployer.states import PlanSummary, PlanSummaryInput
from wandb_deployer.upgrade.preflight import check_capacity
from wandb_deployer.upgrade.runbook_execution import (
    approvable_from,
    check_step_plan,
    record_preflight,
    record_state_version,
    runs_current_step,
)
from wandb_deployer.upgrade.runbook_record import read_runbook

logger = Logger(child=True)

_STRICTNESS: dict[ApprovalPolicy, int] = {"never": 0, "destructive": 1, "always": 2}


def effective_approval(desired: ApprovalPolicy, applied: AppliedState | None) -> ApprovalPolicy:
    """The stricter of the policy this run loaded and the one the last successful run applied under.

    A change that relaxes the policy cannot relax it for itself: `approval: never` written together with a
    destructive change in one settle window still stops at the gate. The relaxed policy holds from the run after the
    one that applied it (a run without Terraform changes applies it too).
    """
    if applied is None or applied.approval is None:
        return desired
    return max(desired, applied.approval, key=_STRICTNESS.__getitem__)


def migrating_from(applied: AppliedState | None, desired: Generation) -> Generation | None:
    """The generation this run migrates away from: the one last applied, when it differs from the desired one.

    None for a first install, for a run within one generation, and for an applied record written before the
    deployer recorded generations (unknown: the approval policy alone decides, as it did then).
    """
    if applied is None or applied.wandb_generation is None or applied.wandb_generation == desired:
        return None
    return applied.wandb_generation


def summarise(request: PlanSummaryInput, settings: Settings) -> PlanSummary:
    """The approval policy decides, for every trigger; a drift remediation under `remediate-safe` also refuses a
    destructive plan outright (it never waits for a human to approve one: it leaves the repair to a human).

    A migration between generations (legacy -> operator, W&B's documented path) moves the W&B server from the app
    module to the operator and replaces resources that hold data, so it always stops at the gate, whatever the
    policy, `never` included: the migration is applied only once a human approved that exact plan.
    """
    applied = read_applied(deployment=request.deployment, table=settings.deployments_table, dynamodb=client("dynamodb"))
    approval = effective_approval(request.approval, applied)
    if approval != request.approval:
        logger.info("the applied approval policy is stricter and holds for this run", approval=approval)
    summary, digest = summarise_plan_with_digest(
        bucket=settings.artifacts_bucket,
        run_prefix=request.run_prefix,
        approval=approval,
        s3=client("s3"),
        kms_key_arn=settings.kms_key_arn,
    )
    source = migrating_from(applied, request.generation)
    migration = source is not None and summary.has_changes
    if migration:
        logger.info(
            "generation migration stops at the approval gate",
            migrating_from=source,
            migrating_to=request.generation,
            plan_sha256=summary.plan_sha256,
        )
    migration_fields: dict[str, object] = {"migration": migration, "migrating_from": source if migration else None}
    if request.trigger == "drift" and request.drift_action == "remediate-safe" and summary.destructive_count:
        raise DestructiveRemediationRefusedError(
            f"restoring {request.deployment} needs {summary.destructive_count} destructive change(s) "
            f"(plan {summary.plan_sha256}); drift_action remediate-safe leaves that to a human"
        )
    gate = _runbook_step(request, summary, digest, settings)
    snapshot = snapshot_before_apply(request, summary, digest)
    return summary.model_copy(
        update={
            "requires_approval": summary.requires_approval or migration or gate is not None,
            "runbook_step": gate.step if gate else None,
            "approvable_from": gate.approvable_from if gate else None,
            "approvable_reason": gate.approvable_reason if gate else None,
            "snapshot_reasons": snapshot.reasons if snapshot.required else [],
            "snapshot_cluster": snapshot.clusters[0] if snapshot.required else None,
            **migration_fields,
        }
    )


def snapshot_before_apply(request: PlanSummaryInput, summary: PlanSummary, digest: PlanDigest) -> SnapshotDecision:
    """Whether the run snapshots the database before it applies (the W&B module has one Aurora cluster)."""
    decision = decide_snapshot(
        has_changes=summary.has_changes,
        version_keys=request.version_changes,
        destructive=[DatabaseChange(address=c.address, type=c.type, action=c.action) for c in digest.destructive],
        clusters=digest.database_clusters,
    )
    if decision.reasons:
        logger.info(
            "database snapshot before apply" if decision.required else "risky change without a database to snapshot",
            reasons=decision.reasons,
            clusters=decision.clusters,
        )
    return decision


class RunbookGate(NamedTuple):
    """The runbook step a run is, for its approval gate: its name, and the earliest time its plan may be approved."""

    step: str
    approvable_from: str | None = None
    approvable_reason: str | None = None


def _runbook_step(
    request: PlanSummaryInput, summary: PlanSummary, digest: PlanDigest, settings: Settings
) -> RunbookGate | None:
    """When this run is the current step of a running runbook: check its plan against the step's rules (a violation
    stops the runbook and fails the run), record the state's S3 version before the runbook's first apply, and name
    the step (a runbook step always waits for a human) with the earliest time the guide lets it be approved."""
    table, dynamodb = settings.deployments_table, client("dynamodb")
    state = read_runbook(deployment=request.deployment, table=table, dynamodb=dynamodb)
    if state is None or not runs_current_step(state, request.started_at):
        return None
    changes = [ShapedChange(address=c.address, type=c.type, action=c.action) for c in digest.changes]
    state = check_step_plan(
        state,
        changes,
        execution_arn=request.execution_arn,
        plan_sha256=summary.plan_sha256,
        table=table,
        dynamodb=dynamodb,
    )
    if state.step.preflight and summary.has_changes:
        region = state.runbook.region
        results = check_capacity(
            cluster_name=state.runbook.cluster_name,
            ec2=client("ec2", region),
            service_quotas=client("service-quotas", region),
        )
        state = record_preflight(state, results, execution_arn=request.execution_arn, table=table, dynamodb=dynamodb)
    if summary.has_changes:
        record_state_version(
            state,
            bucket=settings.state_bucket,
            key=state_key(request.deployment),
            s3=client("s3"),
            execution_arn=request.execution_arn,
            table=table,
            dynamodb=dynamodb,
        )
    step = f"{state.runbook.transition} {state.position()}: {state.step.title}"
    earliest = approvable_from(state, settings.runbook_aws_auth_wait_seconds)
    if earliest is None:
        return RunbookGate(step)
    logger.info("runbook step approvable from", step=state.step.name, approvable_from=iso(earliest[0]))
    return RunbookGate(step, iso(earliest[0]), earliest[1])
