"""Load + validate + render: the first real step of every run.

Reads the deployment's parameters, validates them against the module release's contract, renders the Terraform workspace
as data, zips it with the buildspec and runner, and publishes the bundle to the artifacts bucket. The returned
`LoadConfigResult` carries pointers and policy only: never the license (CodeBuild resolves it from Parameter Store).

A deploy run also compares the config with the one last applied (its snapshot): the run's record says which
parameters changed (secrets masked), and the upgrade guards refuse an unsafe version change whatever wrote it (a push,
a hand edit, an upgrade), unless deployer/allow_downgrade grants it once.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from wandb_deployer.aws_clients import client
from wandb_deployer.config.config_warnings import config_warnings
from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import config_from_parameters, read_parameters
from wandb_deployer.deploy.paths import parameter_name, run_prefix, workspace_key
from wandb_deployer.errors import VersionChangeRefusedError
from wandb_deployer.plan.snapshot_decision import version_changes
from wandb_deployer.runs.config_snapshot import (
    config_changes,
    read_snapshot,
    snapshot_types,
    snapshot_values,
    store_snapshot,
)
from wandb_deployer.runs.desired import AppliedState, current_desired_generation, read_applied
from wandb_deployer.runs.history import record_run_details
from wandb_deployer.runs.rollback import recorded_config
from wandb_deployer.settings import Settings
from wandb_deployer.states import LoadConfigInput, LoadConfigResult
from wandb_deployer.upgrade.guards import guard_config_change
from wandb_deployer.upgrade.runbook_record import read_runbook
from wandb_deployer.upgrade.runbooks import transition_by_hand
from wandb_deployer.verification.load_balancer import wandb_fqdn
from wandb_deployer.verification.queue_use import wandb_reads_queue
from wandb_deployer.verification.wiring import expects_queue
from wandb_deployer.workspace.bundle import build_bundle
from wandb_deployer.workspace.publish import BundlePublishError, publish_bundle
from wandb_deployer.workspace.render import render_workspace

logger = Logger(child=True)


def downgrade_allowed(config: DeploymentConfig, applied: AppliedState | None) -> bool:
    """deployer/allow_downgrade grants one applied run: a value the last applied run did not already consume."""
    token = config.allow_downgrade
    return bool(token) and (applied is None or applied.allow_downgrade != token)


def _changes_since(applied: AppliedState | None, has_snapshot: bool) -> str:
    if applied is None:
        return "nothing applied yet"
    if not has_snapshot:
        return "unknown (the last apply predates config snapshots)"
    return applied.execution_arn.rsplit(":", 1)[-1]


def _compare_with_applied(
    request: LoadConfigInput,
    config: DeploymentConfig,
    values: dict[str, str],
    recorded: dict[str, object],
    settings: Settings,
    dynamodb: Any,
) -> list[str]:
    """Record the config (`recorded`: what a rollback to this run needs) and what changed since the last applied one;
    raise VersionChangeRefusedError for an unsafe version change (after recording it, so the run's record shows
    both). Returns the risky version keys that changed (a database snapshot is taken before such a run applies)."""
    table = settings.deployments_table
    applied = read_applied(deployment=config.deployment, table=table, dynamodb=dynamodb)
    baseline = (
        read_snapshot(deployment=config.deployment, fingerprint=applied.fingerprint, table=table, dynamodb=dynamodb)
        if applied is not None
        else None
    )
    allowed = downgrade_allowed(config, applied)
    reasons = (
        guard_config_change(baseline.values, config, allow_downgrade=allowed)
        if request.check_versions and baseline is not None
        else []
    )
    if request.check_versions and baseline is not None:
        by_hand = transition_by_hand(baseline.values, config)
        running = read_runbook(deployment=config.deployment, table=table, dynamodb=dynamodb) if by_hand else None
        if by_hand and (running is None or running.status != "running"):  # a runbook's steps cross it on purpose
            reasons.append(by_hand)
    if request.execution_arn is not None:
        details: dict[str, object] = {
            "changes_since": _changes_since(applied, baseline is not None),
            "config": recorded,
        }
        if applied is None or baseline is not None:  # against nothing, every parameter is new
            changes = config_changes(baseline.values if baseline else None, values)
            details["changes"] = [change.model_dump() for change in changes]
        if allowed:
            details["allow_downgrade"] = True
        if reasons:
            details["refused"] = reasons
        record_run_details(
            deployment=config.deployment,
            execution_arn=request.execution_arn,
            started_at=request.started_at,
            details=details,
            table=table,
            dynamodb=dynamodb,
        )
    if reasons:
        logger.warning("version change refused", reasons=reasons)
        raise VersionChangeRefusedError(config.deployment, reasons)
    return version_changes(baseline.values if baseline is not None else None, values)


def load_and_render(request: LoadConfigInput, settings: Settings) -> LoadConfigResult:
    """Validate the desired config and publish its rendered workspace bundle; raises InvalidConfigError and
    VersionChangeRefusedError."""
    dynamodb = client("dynamodb")
    generation = current_desired_generation(
        deployment=request.deployment, table=settings.deployments_table, dynamodb=dynamodb
    )
    ssm = client("ssm")
    parameters = read_parameters(request.deployment, prefix=settings.parameter_prefix, ssm=ssm, decrypt=False)
    config = config_from_parameters(request.deployment, parameters, prefix=settings.parameter_prefix, ssm=ssm)
    rendered = render_workspace(
        config,
        state_bucket=settings.state_bucket,
        state_kms_key_arn=settings.kms_key_arn,
        parameter_prefix=settings.parameter_prefix,
    )
    values = snapshot_values(config)
    store_snapshot(
        deployment=config.deployment,
        fingerprint=rendered.fingerprint,
        values=values,
        types=snapshot_types(config),
        table=settings.deployments_table,
        dynamodb=dynamodb,
    )
    recorded = recorded_config(
        fingerprint=rendered.fingerprint,
        parameters=parameters,
        deployment=config.deployment,
        prefix=settings.parameter_prefix,
    )
    changed_versions = _compare_with_applied(request, config, values, recorded.model_dump(), settings, dynamodb)
    pointer = publish_bundle(
        build_bundle(rendered),
        bucket=settings.artifacts_bucket,
        key=workspace_key(config.deployment, rendered.fingerprint),
        kms_key_arn=settings.kms_key_arn,
        s3=client("s3"),
    )
    if pointer.version_id is None:
        # Builds start from exactly this version of the bundle (StartBuild's sourceVersion), never from whatever the
        # key holds by then.
        raise BundlePublishError(f"artifacts bucket {settings.artifacts_bucket!r} is not versioned: no bundle version")
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
            if config.license is not None or f"{config.license_section}/license" in config.secret_versions
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
        allow_downgrade=config.allow_downgrade,
        on_unhealthy=deployer.on_unhealthy,
        version_changes=changed_versions,
        snapshot_retention_days=deployer.snapshot_retention_days,
        region=deployer.region,
    )
