"""The deployer's runtime settings: read from the environment once, validated, cached.

Every Lambda function gets the same variables from template.yaml (Globals); nothing else reads os.environ.
"""

from __future__ import annotations

import os
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, field_validator


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    artifacts_bucket: str = Field(min_length=3, description="S3 bucket for rendered workspaces, plans, outputs")
    state_bucket: str = Field(min_length=3, description="S3 bucket for Terraform state (one key per deployment)")
    deployments_table: str = Field(min_length=1, description="DynamoDB table: locks, desired state, runs, approvals")
    parameter_prefix: str = Field(default="/wandb-deployer", pattern=r"^/[A-Za-z0-9_.\-/]+[^/]$")
    kms_key_arn: str = Field(default="", description="KMS key for artifacts (empty: the bucket's default key)")
    notifications_topic_arn: str = ""
    event_bus_name: str = "default"
    deploy_state_machine_arn: str = ""
    codebuild_project_name: str = ""
    aws_region: str = "us-east-1"
    approval_timeout_seconds: int = 86400
    # The v8 guide's wait between the migration apply and retiring aws-auth (template parameter
    # RunbookAwsAuthWaitSeconds): the retire step's plan may not be approved earlier.
    runbook_aws_auth_wait_seconds: int = Field(default=3600, ge=0)
    # Where the health checks come from (template parameter HealthCheckEgressCidrs; empty: no fixed address known).
    health_check_egress_cidrs: tuple[str, ...] = ()

    @field_validator("health_check_egress_cidrs", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value


_ENV_NAMES = {
    "artifacts_bucket": "ARTIFACTS_BUCKET",
    "state_bucket": "STATE_BUCKET",
    "deployments_table": "DEPLOYMENTS_TABLE",
    "parameter_prefix": "PARAMETER_PREFIX",
    "kms_key_arn": "KMS_KEY_ARN",
    "notifications_topic_arn": "NOTIFICATIONS_TOPIC_ARN",
    "event_bus_name": "EVENT_BUS_NAME",
    "deploy_state_machine_arn": "DEPLOY_STATE_MACHINE_ARN",
    "codebuild_project_name": "CODEBUILD_PROJECT_NAME",
    "aws_region": "AWS_REGION",
    "approval_timeout_seconds": "APPROVAL_TIMEOUT_SECONDS",
    "runbook_aws_auth_wait_seconds": "RUNBOOK_AWS_AUTH_WAIT_SECONDS",
    "health_check_egress_cidrs": "HEALTH_CHECK_EGRESS_CIDRS",
}


@cache
def get_settings() -> Settings:
    """Validate the environment once per process; a missing variable fails loudly, naming it."""
    values = {field: value for field, env in _ENV_NAMES.items() if (value := os.environ.get(env))}
    return Settings.model_validate(values)
