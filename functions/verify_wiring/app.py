"""Read the Terraform outputs and verify the S3 -> SQS wiring (Deploy and Drift workflows: Verify wiring)."""

from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.deploy.verify_step import verify
from wandb_deployer.errors import WiringCheckFailedError
from wandb_deployer.states import VerifyInput

lambda_handler = workflow_step(
    VerifyInput, verify, metric="WiringVerified", failure_metrics={WiringCheckFailedError: "WiringBroken"}
)
