"""The scheduled drift check: which deployments exist, and what this check found (notify only when it changed)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import list_deployments
from wandb_deployer.drift.record import NOTIFYING_TRANSITIONS, drift_fingerprint, record_drift
from wandb_deployer.errors import PlanNotFoundError
from wandb_deployer.runs.notify import notify
from wandb_deployer.settings import Settings
from wandb_deployer.states import DeploymentList, DriftInput, DriftResult, Finding, HealthResult, WiringResult
from wandb_deployer.verification.license_expiry import claim_notification, read_license_expiry, threshold

logger = Logger(child=True)


def deployments(settings: Settings) -> DeploymentList:
    return DeploymentList(deployments=list_deployments(prefix=settings.parameter_prefix, ssm=client("ssm")))


def _read_json(s3: Any, bucket: str, key: str) -> Any:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return None
        raise PlanNotFoundError(f"cannot read s3://{bucket}/{key}") from exc


def resource_drift(plan: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Addresses and actions of drifted resources (values are never copied out of the plan)."""
    entries = (plan or {}).get("resource_drift") or []
    return [{"address": e["address"], "actions": list(e.get("change", {}).get("actions", []))} for e in entries]


def notify_license_expiry(deployment: str, health: HealthResult | None, settings: Settings) -> bool:
    """Tell people, once per threshold (30 days, 7 days, expired), that the license is running out; True if told."""
    if health is None or health.license_days_left is None:
        return False
    table, dynamodb = settings.deployments_table, client("dynamodb")
    record = read_license_expiry(deployment=deployment, table=table, dynamodb=dynamodb)
    if record is None or record.expires_on is None:
        return False
    expires_on = date.fromisoformat(record.expires_on)
    crossed = threshold(expires_on)
    if crossed is None or not claim_notification(
        deployment=deployment, expires_on=expires_on, crossed=crossed, table=table, dynamodb=dynamodb
    ):
        return False
    notify(
        event="License Expiring",
        deployment=deployment,
        detail={
            "expires_on": record.expires_on,
            "days_left": health.license_days_left,
            "threshold_days": crossed,
            "findings": [f.model_dump() for f in health.findings if f.code.startswith("LICENSE_")],
        },
        sns=client("sns"),
        events=client("events"),
        topic_arn=settings.notifications_topic_arn,
        bus_name=settings.event_bus_name,
    )
    return True


def record(request: DriftInput, settings: Settings) -> DriftResult:
    s3 = client("s3")
    bucket = settings.artifacts_bucket
    drift = resource_drift(_read_json(s3, bucket, f"{request.run_prefix}plan.json"))
    wiring_raw = _read_json(s3, bucket, f"{request.run_prefix}wiring.json")
    findings: list[Finding] = list(WiringResult.model_validate(wiring_raw).findings) if wiring_raw else []
    if request.health is not None and not request.health.healthy:
        # the license's days left change every day: they notify on their own (notify_license_expiry), not as drift
        findings.extend(f for f in request.health.findings if not f.code.startswith("LICENSE_"))
    fingerprint = drift_fingerprint(drift, findings)
    noteworthy = [finding for finding in findings if finding.severity != "info"]
    summary = {
        "resources": [entry["address"] for entry in drift][:50],
        "findings": [finding.code for finding in noteworthy],
        "execution_arn": request.execution_arn,
        # what `wbd drift` and `wbd status` show: the actions Terraform would take, and each finding with its fix
        "resource_changes": drift[:50],
        "finding_details": [finding.model_dump() for finding in noteworthy][:20],
    }
    transition = record_drift(
        deployment=request.deployment,
        fingerprint=fingerprint,
        summary=summary,
        table=settings.deployments_table,
        dynamodb=client("dynamodb"),
    )
    logger.info("drift checked", transition=transition, drifted=fingerprint is not None)
    if transition in NOTIFYING_TRANSITIONS:
        notify(
            event="Drift Resolved" if transition == "resolved" else "Drift Detected",
            deployment=request.deployment,
            detail={"transition": transition, "fingerprint": fingerprint, **summary},
            sns=client("sns"),
            events=client("events"),
            topic_arn=settings.notifications_topic_arn,
            bus_name=settings.event_bus_name,
        )
    notify_license_expiry(request.deployment, request.health, settings)
    drifted = fingerprint is not None
    return DriftResult(
        deployment=request.deployment,
        transition=transition,
        drifted=drifted,
        remediate=drifted and request.drift_action != "notify" and not request.paused,
        fingerprint=fingerprint,
    )
