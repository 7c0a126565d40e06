"""Summarise the saved plan and decide on approval (Deploy workflow: Summarise plan)."""

from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.deploy.plan_step import summarise
from wandb_deployer.errors import DestructiveRemediationRefusedError
from wandb_deployer.states import PlanSummaryInput

lambda_handler = workflow_step(
    PlanSummaryInput,
    summarise,
    metric="PlanSummarised",
    failure_metrics={DestructiveRemediationRefusedError: "RemediationRefused"},
)
