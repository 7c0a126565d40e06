"""One health attempt on the W&B endpoint (Deploy workflow: Check health)."""

from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.deploy.health_step import check
from wandb_deployer.states import HealthInput

lambda_handler = workflow_step(HealthInput, check, metric="HealthChecked")
