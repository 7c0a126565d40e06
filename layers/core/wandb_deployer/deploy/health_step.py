"""One health attempt on the W&B endpoint; the workflow waits and retries until the deployment's deadline.

An attempt checks the endpoints (HTTP, TLS, version); when they fail it asks AWS for the load balancer's view (a W&B
that admits only allowed_inbound_cidr is healthy but out of the deployer's reach); once W&B is healthy it checks that
W&B consumes its file-storage queue where the release makes W&B read one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from wandb_deployer.aws_clients import client
from wandb_deployer.config.model import Generation
from wandb_deployer.deploy.paths import parameter_name
from wandb_deployer.settings import Settings
from wandb_deployer.states import HealthInput, HealthResult
from wandb_deployer.verification.aws_calls import aws_call
from wandb_deployer.verification.health import check_health
from wandb_deployer.verification.license_expiry import (
    days_left,
    license_expiry,
    license_findings,
    record_license_expiry,
)
from wandb_deployer.verification.load_balancer import load_balancer_health
from wandb_deployer.verification.queue_consumption import queue_consumption_findings
from wandb_deployer.verification.reach import judge_reach


def _optional_parameter(name: str, ssm: Any) -> str | None:
    """The parameter's value (decrypted), None when it does not exist; throttling is retryable, access denied is not."""
    found = aws_call(
        "ssm:GetParameter", ssm.get_parameter, not_found=("ParameterNotFound",), Name=name, WithDecryption=True
    )
    return None if found is None else str(found["Parameter"]["Value"])


def assess_health(
    *,
    url: str,
    generation: Generation,
    attempt: int,
    api_key: str | None,
    desired_version: str | None,
    wandb_host: str = "",
    zone_id: str = "",
    region: str = "",
    queue_name: str | None = None,
    reads_queue: bool = False,
    aws: Callable[..., Any] = client,
) -> HealthResult:
    """The endpoints' health, corrected by the load balancer's view, plus W&B's use of its queue (`wbd verify` too:
    it passes its own `aws(service, region)` client factory, bound to the operator's region and profile)."""
    result = check_health(
        url=url, generation=generation, attempt=attempt, api_key=api_key, desired_version=desired_version
    )
    if not result.healthy and wandb_host and zone_id:
        balancer = load_balancer_health(
            host=wandb_host, zone_id=zone_id, route53=aws("route53"), elbv2=aws("elbv2", region or None)
        )
        result = judge_reach(result, balancer, wandb_host)
    if result.healthy and reads_queue and queue_name:
        found = queue_consumption_findings(queue_name=queue_name, cloudwatch=aws("cloudwatch", region or None))
        if found:
            result = result.model_copy(update={"findings": [*result.findings, *found], "healthy": False})
    return result


def _license_expiry(request: HealthInput, settings: Settings, ssm: Any) -> date | None:
    """The license's `exp` (None: no license or no readable expiry), read here where verification runs: a run's steps
    never decrypt the license. The first attempt of a run notes it (a date or none) for `wbd status` and the daily
    notification."""
    section = "app" if request.generation == "legacy" else "infra"
    token = _optional_parameter(parameter_name(settings.parameter_prefix, request.deployment, section, "license"), ssm)
    expires_on = license_expiry(token) if token else None
    if request.attempt == 0 and token is not None:
        record_license_expiry(
            deployment=request.deployment,
            expires_on=expires_on,
            table=settings.deployments_table,
            dynamodb=client("dynamodb"),
        )
    return expires_on


def check(request: HealthInput, settings: Settings) -> HealthResult:
    ssm = client("ssm")
    prefix = settings.parameter_prefix
    api_key = _optional_parameter(parameter_name(prefix, request.deployment, "deployer", "api_key"), ssm)
    desired_version = (
        _optional_parameter(parameter_name(prefix, request.deployment, "app", "wandb_version"), ssm)
        if request.generation == "legacy"
        else None
    )
    result = assess_health(
        url=request.url,
        generation=request.generation,
        attempt=request.attempt,
        api_key=api_key,
        desired_version=desired_version,
        wandb_host=request.wandb_host,
        zone_id=request.zone_id,
        region=request.region,
        queue_name=request.queue_name,
        reads_queue=request.reads_queue,
    )
    next_attempt = request.attempt + 1
    give_up = not result.healthy and next_attempt * request.interval_seconds >= request.timeout_seconds
    expires_on = _license_expiry(request, settings, ssm)
    return result.model_copy(
        update={
            "attempt": next_attempt,
            "give_up": give_up,
            "findings": [*result.findings, *license_findings(expires_on)],
            "license_days_left": days_left(expires_on) if expires_on else None,
        }
    )
