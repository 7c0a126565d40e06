"""Take a deployment's run lock and clear a stale Terraform state lock (Deploy workflow: Acquire lock)."""

from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.deploy.lock_step import acquire
from wandb_deployer.states import LockInput

lambda_handler = workflow_step(LockInput, acquire, metric="LockAcquired")
