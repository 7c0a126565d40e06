"""A Parameter Store change under the prefix: record the new desired state and start a run unless one is running.

Only a change that happened starts a run: the EventBridge rule's pattern admits Create, Update and Delete without an
`exception`, from the deployer's own account and region, and this step checks the same again (a rule edited by hand, an
event replayed from an archive, a bus that forwards other accounts' events), counting each ignored event by reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import SECRET_KEYS, parse_parameter_name
from wandb_deployer.deploy.paths import parameter_name
from wandb_deployer.errors import InvalidDeploymentNameError
from wandb_deployer.events import ParameterStoreChangeEvent
from wandb_deployer.runs import aws_failure
from wandb_deployer.runs.change_source import change_source
from wandb_deployer.runs.desired import record_desired_change, start_run_unless_running
from wandb_deployer.settings import Settings
from wandb_deployer.states import Trigger

logger = Logger(child=True)

# The operations that change a parameter's value. LabelParameterVersion only names a version (AWS's documented
# operations: Create, Update, Delete, LabelParameterVersion); the deployer always reads the latest value.
DEPLOYING_OPERATIONS = frozenset({"Create", "Update", "Delete"})
IgnoreReason = Literal["other-account", "other-region", "failed-operation", "operation", "outside-layout"]


@dataclass(frozen=True)
class TriggerOutcome:
    """The started execution's ARN (None: left to the running one, or paused), or why the event was ignored."""

    execution_arn: str | None = None
    ignored: IgnoreReason | None = None


def function_home(function_arn: str) -> tuple[str, str]:
    """(account id, region) of the running function, from its ARN `arn:<partition>:lambda:<region>:<account>:...`."""
    parts = function_arn.split(":")
    if len(parts) < 5 or not parts[3] or not parts[4]:
        raise ValueError(f"not a Lambda function ARN: {function_arn!r}")
    return parts[4], parts[3]


def ignore_reason(event: ParameterStoreChangeEvent, *, account_id: str, region: str) -> IgnoreReason | None:
    """Why this event must start no run, or None when it is a change of the deployer's own parameters."""
    if event.account != account_id:
        return "other-account"
    if event.region != region:
        return "other-region"
    if event.detail.exception is not None:
        return "failed-operation"
    if event.detail.operation not in DEPLOYING_OPERATIONS:
        return "operation"
    return None


def _is_paused(deployment: str, prefix: str, ssm: Any) -> bool:
    try:
        value = ssm.get_parameter(Name=parameter_name(prefix, deployment, "deployer", "paused"))["Parameter"]["Value"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ParameterNotFound":
            return False
        raise aws_failure(exc, operation="GetParameter deployer/paused") from exc
    return str(value).strip().lower() == "true"


def _current_version(name: str, ssm: Any) -> int | None:
    """The parameter's version now (its value is not decrypted); None once it is deleted, or when it cannot be read:
    the version only names the run's trigger, and a change must start its run whatever its name."""
    try:
        return int(ssm.get_parameter(Name=name, WithDecryption=False)["Parameter"]["Version"])
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code != "ParameterNotFound":
            logger.warning("changed parameter's version unreadable; trigger parameter-change", code=code)
        return None


def on_parameter_change(event: ParameterStoreChangeEvent, settings: Settings, *, function_arn: str) -> TriggerOutcome:
    """Start (or coalesce into) a run for a change of the deployer's own parameters; ignore anything else.

    The run's trigger is `push` or `upgrade` when a deployer writer noted this version of the parameter (see
    `runs.change_source`), `parameter-change` otherwise."""
    account_id, region = function_home(function_arn)
    change = event.detail
    reason = ignore_reason(event, account_id=account_id, region=region)
    if reason is None:
        try:
            parsed = parse_parameter_name(change.name, settings.parameter_prefix)
        except InvalidDeploymentNameError:
            reason = "outside-layout"
    if reason is not None:
        logger.warning(
            "parameter change ignored",
            reason=reason,
            parameter=change.name,
            operation=change.operation,
            failed=change.exception is not None,
            event_account=event.account,
            event_region=event.region,
        )
        return TriggerOutcome(ignored=reason)
    dynamodb = client("dynamodb")
    source = change_source(
        deployment=parsed.deployment,
        parameter_name=change.name,
        # The function's role may not read the license or the API key, not even encrypted: their writes are changes.
        version=None if (parsed.section, parsed.key) in SECRET_KEYS else _current_version(change.name, client("ssm")),
        table=settings.deployments_table,
        dynamodb=dynamodb,
    )
    trigger: Trigger = source or "parameter-change"
    record_desired_change(
        deployment=parsed.deployment,
        parameter_name=change.name,
        table=settings.deployments_table,
        dynamodb=dynamodb,
        source=trigger,
    )
    # A paused deployment starts nothing; `start_run_unless_running` notes the pause next to the pending change.
    execution_arn = start_run_unless_running(
        deployment=parsed.deployment,
        trigger=trigger,
        state_machine_arn=settings.deploy_state_machine_arn,
        sfn=client("stepfunctions"),
        dynamodb=dynamodb,
        table=settings.deployments_table,
        paused=_is_paused(parsed.deployment, settings.parameter_prefix, client("ssm")),
    )
    return TriggerOutcome(execution_arn=execution_arn)
