"""Summarise the plan the build saved, and decide whether a human must approve it."""

from __future__ import annotations

from wandb_deployer.aws_clients import client
from wandb_deployer.errors import DestructiveRemediationRefusedError
from wandb_deployer.plan.summary import summarise_plan
from wandb_deployer.settings import Settings
from wandb_deployer.states import PlanSummary, PlanSummaryInput


def summarise(request: PlanSummaryInput, settings: Settings) -> PlanSummary:
    """The approval policy decides; a drift remediation under `remediate-safe` never applies a destructive change.

    A migration between generations (legacy -> operator) replaces data-holding resources, so under the default policy
    `destructive` it always stops at the gate; `never` is the operator's explicit, recorded choice.
    """
    summary = summarise_plan(
        bucket=settings.artifacts_bucket,
        run_prefix=request.run_prefix,
        approval=request.approval,
        s3=client("s3"),
        kms_key_arn=settings.kms_key_arn,
    )
    if request.trigger == "drift" and request.drift_action == "remediate-safe":
        if summary.destructive_count:
            raise DestructiveRemediationRefusedError(
                f"restoring {request.deployment} needs {summary.destructive_count} destructive change(s) "
                f"(plan {summary.plan_sha256}); drift_action remediate-safe leaves that to a human"
            )
        return summary.model_copy(update={"requires_approval": False})
    return summary
