"""One health attempt on the W&B endpoint (Deploy workflow: Check health)."""

from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.deploy.health_step import check
from wandb_deployer.states import HealthInput, HealthResult


def _outcome(result: HealthResult) -> str:
    if result.healthy:
        return "HealthChecked"
    return "HealthDeadlinePassed" if result.give_up else "HealthUnhealthy"


lambda_handler = workflow_step(HealthInput, check, metric=_outcome)
