"""Summarise the plan the build saved, and decide whether a human must approve it."""

from __future__ import annotations

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import ApprovalPolicy, Generation
from wandb_deployer.errors import DestructiveRemediationRefusedError
from wandb_deployer.plan.summary import summarise_plan
from wandb_deployer.runs.desired import AppliedState, read_applied
from wandb_deployer.settings import Settings
from wandb_deployer.states import PlanSummary, PlanSummaryInput

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
    summary = summarise_plan(
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
    return summary.model_copy(update={"requires_approval": summary.requires_approval or migration, **migration_fields})
