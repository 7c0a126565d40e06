"""Load + validate + render: the first real step of every run.

Reads the deployment's parameters, validates them against the module release's contract, renders the Terraform workspace
as data, zips it with the buildspec and runner, and publishes the bundle to the artifacts bucket. The returned
`LoadConfigResult` carries pointers and policy only: never the license (CodeBuild resolves it from Parameter Store).
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.config.config_warnings import config_warnings
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.deploy.paths import parameter_name, run_prefix, workspace_key
from wandb_deployer.runs.desired import current_desired_generation
from wandb_deployer.settings import Settings
from wandb_deployer.states import LoadConfigInput, LoadConfigResult
from wandb_deployer.verification.load_balancer import wandb_fqdn
from wandb_deployer.verification.queue_use import wandb_reads_queue
from wandb_deployer.verification.wiring import expects_queue
from wandb_deployer.workspace.bundle import build_bundle
from wandb_deployer.workspace.publish import publish_bundle
from wandb_deployer.workspace.render import render_workspace

logger = Logger(child=True)


def load_and_render(request: LoadConfigInput, settings: Settings) -> LoadConfigResult:
    """Validate the desired config and publish its rendered workspace bundle; raises InvalidConfigError."""
    generation = current_desired_generation(
        deployment=request.deployment, table=settings.deployments_table, dynamodb=client("dynamodb")
    )
    config = load_deployment_config(request.deployment, prefix=settings.parameter_prefix, ssm=client("ssm"))
    rendered = render_workspace(config, state_bucket=settings.state_bucket)
    pointer = publish_bundle(
        build_bundle(rendered),
        bucket=settings.artifacts_bucket,
        key=workspace_key(config.deployment, rendered.fingerprint),
        kms_key_arn=settings.kms_key_arn,
        s3=client("s3"),
    )
    logger.info("workspace rendered", fingerprint=rendered.fingerprint, files=len(rendered.files))
    warnings = config_warnings(config, deployer_egress=settings.health_check_egress_cidrs)
    if warnings:
        logger.warning("config warnings", warnings=warnings)
    deployer = config.deployer
    zone_id = config.infra.get("zone_id")
    return LoadConfigResult(
        deployment=config.deployment,
        fingerprint=rendered.fingerprint,
        workspace=pointer,
        run_prefix=run_prefix(config.deployment, request.execution_name),
        generation=deployer.generation,
        module_version=deployer.module_version,
        terraform_version=deployer.terraform_version,
        approval=deployer.approval,
        drift_action=deployer.drift_action,
        health_timeout_seconds=deployer.health_timeout_seconds,
        license_parameter=(
            parameter_name(settings.parameter_prefix, config.deployment, config.license_section, "license")
            if config.license is not None
            else None
        ),
        expects_queue=expects_queue(config.infra),
        probe=deployer.probe,
        paused=deployer.paused,
        desired_generation=generation,
        warnings=warnings,
        wandb_host=wandb_fqdn(config.infra),
        zone_id=zone_id if isinstance(zone_id, str) else "",
        wandb_reads_queue=bool(
            wandb_reads_queue(deployer.generation, deployer.module_version, deployer.app_module_version)
        ),
    )
