"""One health attempt on the W&B endpoint; the workflow waits and retries until the deployment's deadline."""

from __future__ import annotations

from typing import Any

from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.paths import parameter_name
from wandb_deployer.settings import Settings
from wandb_deployer.states import HealthInput, HealthResult
from wandb_deployer.verification.aws_calls import aws_call
from wandb_deployer.verification.health import check_health


def _optional_parameter(name: str, ssm: Any) -> str | None:
    """The parameter's value (decrypted), None when it does not exist; throttling is retryable, access denied is not."""
    found = aws_call(
        "ssm:GetParameter", ssm.get_parameter, not_found=("ParameterNotFound",), Name=name, WithDecryption=True
    )
    return None if found is None else str(found["Parameter"]["Value"])


def check(request: HealthInput, settings: Settings) -> HealthResult:
    ssm = client("ssm")
    prefix = settings.parameter_prefix
    api_key = _optional_parameter(parameter_name(prefix, request.deployment, "deployer", "api_key"), ssm)
    desired_version = (
        _optional_parameter(parameter_name(prefix, request.deployment, "app", "wandb_version"), ssm)
        if request.generation == "legacy"
        else None
    )
    result = check_health(
        url=request.url,
        generation=request.generation,
        attempt=request.attempt,
        api_key=api_key,
        desired_version=desired_version,
    )
    next_attempt = request.attempt + 1
    give_up = not result.healthy and next_attempt * request.interval_seconds >= request.timeout_seconds
    return result.model_copy(update={"attempt": next_attempt, "give_up": give_up})
