"""End a run: mark applied, stop a stray build, release the lock, start the next run (Deploy workflow: Finish run)."""

from wandb_deployer.deploy.finish_step import finish
from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.states import FinishRunInput

lambda_handler = workflow_step(FinishRunInput, finish, metric="RunFinished")
