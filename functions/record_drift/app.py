"""Record a deployment's drift and notify when it is new, changed or resolved (Drift workflow: Record drift)."""

from wandb_deployer.deploy.drift_step import record
from wandb_deployer.deploy.handler import workflow_step
from wandb_deployer.states import DriftInput

lambda_handler = workflow_step(
    DriftInput, record, metric=lambda result: "DriftDetected" if result.drifted else "DriftClean"
)
