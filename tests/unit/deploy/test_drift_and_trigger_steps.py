"""The drift check's record step (what drifted, what it tells, whether to remediate) and the parameter-change trigger
(the desired state moves, one run starts, a pause holds, names outside the layout are ignored, AWS failures)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import EVENTS
from tests.unit.deploy.conftest import ARTIFACTS, Deployer
from tests.unit.faults import fail_call, recorded_calls
from tests.unit.runs.conftest import TABLE
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.drift_step import deployments, record, resource_drift
from wandb_deployer.deploy.trigger_step import TriggerOutcome, on_parameter_change
from wandb_deployer.drift.record import drift_fingerprint, read_drift
from wandb_deployer.errors import AwsRequestFailedError, PlanNotFoundError, TransientAwsError
from wandb_deployer.events import ParameterStoreChangeEvent
from wandb_deployer.runs.desired import read_desired
from wandb_deployer.runs.lock import acquire_lock, read_lock
from wandb_deployer.states import DeploymentList, DriftInput, DriftResult, Finding, HealthResult, WiringResult

pytestmark = pytest.mark.unit

PREFIX = "runs/prod/drift-1/"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-drift:drift-1"
NOTIFICATION = "module.wandb.module.file_storage.aws_s3_bucket_notification.file_storage"
POLICY = "module.wandb.module.file_storage.aws_sqs_queue_policy.file_storage"
BROKEN = Finding(code="NOTIFICATION_MISSING", severity="error", message="bucket b sends no events", fix_hint="")
NOTE = Finding(code="INTERNAL_QUEUE", severity="info", message="internal queue", fix_hint="")
UNHEALTHY = Finding(code="HEALTH_READY", severity="error", message="/ready answered 503", fix_hint="")


def put_json(deployer: Deployer, key: str, document: Any) -> None:
    deployer.s3.put_object(Bucket=ARTIFACTS, Key=PREFIX + key, Body=json.dumps(document).encode())


def drifted_plan(*addresses: str) -> dict[str, Any]:
    entries = [
        {"address": address, "change": {"actions": ["update"], "before": {"secret": "x"}}} for address in addresses
    ]
    return {"format_version": "1.2", "resource_drift": entries}


def check(
    deployer: Deployer, *, action: Any = "notify", paused: bool = False, health: HealthResult | None = None
) -> DriftResult:
    request = DriftInput(
        deployment="prod",
        execution_arn=EXECUTION,
        run_prefix=PREFIX,
        drift_action=action,
        paused=paused,
        health=health,
    )
    return record(request, deployer.settings)


def notices(calls: list[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    return [json.loads(params["Message"]) for name, params in calls if name == "Publish"]


# --- drift record -----------------------------------------------------------------------------------------------------


def test_a_clean_check_records_clean_and_tells_nobody(deployer: Deployer) -> None:
    sns = recorded_calls(client("sns"))

    result = check(deployer, action="remediate")

    assert result == DriftResult(deployment="prod", transition="clean", drifted=False, remediate=False)
    assert notices(sns) == []
    state = read_drift(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert state is not None and state.status == "clean"


def test_new_drift_is_told_with_what_drifted_and_what_broke(deployer: Deployer) -> None:
    put_json(deployer, "plan.json", drifted_plan(NOTIFICATION, POLICY))
    put_json(
        deployer, "wiring.json", WiringResult(expects_queue=True, passed=False, findings=[BROKEN, NOTE]).model_dump()
    )
    health = HealthResult(healthy=False, attempt=3, findings=[UNHEALTHY])
    sns = recorded_calls(client("sns"))

    result = check(deployer, health=health)

    drift = [{"address": NOTIFICATION, "actions": ["update"]}, {"address": POLICY, "actions": ["update"]}]
    fingerprint = drift_fingerprint(drift, [BROKEN, NOTE, UNHEALTHY])
    assert fingerprint is not None
    assert result == DriftResult(
        deployment="prod", transition="new", drifted=True, remediate=False, fingerprint=fingerprint
    )
    [notice] = notices(sns)
    assert (notice["event"], notice["deployment"]) == ("Drift Detected", "prod")
    assert notice["detail"] == {
        "transition": "new",
        "fingerprint": fingerprint,
        "resources": [NOTIFICATION, POLICY],
        "findings": ["NOTIFICATION_MISSING", "HEALTH_READY"],
        "execution_arn": EXECUTION,
        "resource_changes": drift,
        "finding_details": [BROKEN.model_dump(), UNHEALTHY.model_dump()],
    }


def test_findings_of_a_healthy_endpoint_are_not_drift(deployer: Deployer) -> None:
    healthy = HealthResult(healthy=True, attempt=1, findings=[UNHEALTHY.model_copy(update={"severity": "warning"})])
    assert check(deployer, health=healthy).drifted is False


def test_the_same_drift_again_is_quiet_and_its_end_is_told(deployer: Deployer) -> None:
    put_json(deployer, "plan.json", drifted_plan(NOTIFICATION))
    first = check(deployer)
    sns = recorded_calls(client("sns"))

    again = check(deployer)
    deployer.s3.delete_object(Bucket=ARTIFACTS, Key=PREFIX + "plan.json")
    resolved = check(deployer)

    assert (first.transition, again.transition, resolved.transition) == ("new", "unchanged", "resolved")
    assert again.fingerprint == first.fingerprint and resolved.fingerprint is None
    [notice] = notices(sns)
    assert (notice["event"], notice["detail"]["transition"]) == ("Drift Resolved", "resolved")
    assert notice["detail"]["resources"] == [] and notice["detail"]["fingerprint"] is None


@pytest.mark.parametrize(
    ("action", "paused", "remediate"),
    [
        ("notify", False, False),
        ("remediate-safe", False, True),
        ("remediate", False, True),
        ("remediate-safe", True, False),
    ],
)
def test_drift_is_remediated_by_policy_and_never_while_paused(
    deployer: Deployer, action: Any, paused: bool, remediate: bool
) -> None:
    put_json(deployer, "plan.json", drifted_plan(NOTIFICATION))
    assert check(deployer, action=action, paused=paused).remediate is remediate


def test_the_notice_names_at_most_fifty_resources(deployer: Deployer) -> None:
    addresses = [f"module.wandb.aws_iam_role.r{index:03}" for index in range(60)]
    put_json(deployer, "plan.json", drifted_plan(*addresses))
    sns = recorded_calls(client("sns"))

    check(deployer)

    [notice] = notices(sns)
    assert notice["detail"]["resources"] == addresses[:50]


@pytest.mark.parametrize("key", ["plan.json", "wiring.json"])
@pytest.mark.parametrize(("code", "status"), [("AccessDenied", 403), ("SlowDown", 503)])
def test_an_unreadable_artifact_fails_the_check(deployer: Deployer, key: str, code: str, status: int) -> None:
    fail_call(client("s3"), "GetObject", code, status=status, when=lambda params: params["Key"] == PREFIX + key)

    with pytest.raises(PlanNotFoundError) as raised:
        check(deployer)

    assert str(raised.value) == f"cannot read s3://{ARTIFACTS}/{PREFIX}{key}"
    assert read_drift(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb) is None


def test_resource_drift_keeps_addresses_and_actions_only() -> None:
    plan = {
        "resource_drift": [{"address": "a", "change": {"actions": ["delete"], "before": {"p": "s"}}}, {"address": "b"}]
    }
    assert resource_drift(plan) == [{"address": "a", "actions": ["delete"]}, {"address": "b", "actions": []}]
    assert resource_drift(None) == [] and resource_drift({"resource_drift": None}) == []


def test_deployments_are_listed_from_the_parameter_prefix(deployer: Deployer) -> None:
    ssm = client("ssm")
    for name in ("/wandb-deployer/prod/infra/size", "/wandb-deployer/dev/infra/size", "/elsewhere/x/infra/size"):
        ssm.put_parameter(Name=name, Value="small", Type="String")

    assert deployments(deployer.settings) == DeploymentList(deployments=["dev", "prod"])


# --- trigger ----------------------------------------------------------------------------------------------------------

SIZE = "/wandb-deployer/prod/infra/size"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:wandb-deployer-trigger"


def change(settings: Any, name: str = SIZE) -> str | None:
    """The trigger step for AWS's sample `Parameter Store Change` event (tests/events), renamed to `name`."""
    sample = json.loads((EVENTS / "ssm_parameter_change.json").read_text())
    sample["detail"]["name"] = name
    outcome = on_parameter_change(ParameterStoreChangeEvent.model_validate(sample), settings, function_arn=FUNCTION)
    assert outcome.ignored is None
    return outcome.execution_arn


def test_a_parameter_change_moves_the_desired_state_and_starts_one_run(deployer: Deployer) -> None:
    arn = change(deployer.settings)

    assert arn is not None
    [execution] = deployer.executions()
    assert execution["executionArn"] == arn and execution["name"].startswith("prod-parameter-change-")
    desired = read_desired(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert (desired.generation, desired.parameter_name, desired.pending) == (1, SIZE, True)
    lock = read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert lock is not None and lock.owner == arn


def test_a_change_during_a_run_is_recorded_and_left_to_that_run(deployer: Deployer) -> None:
    running = deployer.start("running")
    acquire_lock(deployment="prod", execution_arn=running, table=TABLE, dynamodb=deployer.dynamodb, sfn=deployer.sfn)

    assert change(deployer.settings) is None

    assert [e["executionArn"] for e in deployer.executions()] == [running]
    assert read_desired(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb).generation == 1


@pytest.mark.parametrize(("value", "paused"), [("true", True), (" TRUE ", True), ("false", False), ("yes", False)])
def test_only_a_true_pause_holds_the_run(deployer: Deployer, value: str, paused: bool) -> None:
    client("ssm").put_parameter(Name="/wandb-deployer/prod/deployer/paused", Value=value, Type="String")

    arn = change(deployer.settings)

    assert (arn is None) is paused
    desired = read_desired(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb)
    assert desired.pending is True and (desired.paused_at is not None) is paused


@pytest.mark.parametrize("name", ["/wandb-deployer/Not A Name/infra/size", "/other-prefix/prod/infra/size"])
def test_a_name_outside_the_layout_changes_nothing(deployer: Deployer, name: str) -> None:
    dynamodb = recorded_calls(client("dynamodb"))

    sample = json.loads((EVENTS / "ssm_parameter_change.json").read_text())
    sample["detail"]["name"] = name
    event = ParameterStoreChangeEvent.model_validate(sample)
    outcome = on_parameter_change(event, deployer.settings, function_arn=FUNCTION)

    assert outcome == TriggerOutcome(execution_arn=None, ignored="outside-layout")
    assert dynamodb == [] and deployer.executions() == []


@pytest.mark.parametrize(
    ("code", "error"), [("ThrottlingException", TransientAwsError), ("AccessDeniedException", AwsRequestFailedError)]
)
def test_a_pause_that_cannot_be_read_fails_the_trigger_and_starts_nothing(
    deployer: Deployer, code: str, error: type[Exception]
) -> None:
    fail_call(client("ssm"), "GetParameter", code, when=lambda params: params["Name"].endswith("/deployer/paused"))

    with pytest.raises(error, match="deployer/paused"):
        change(deployer.settings)

    assert deployer.executions() == []
    assert read_desired(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb).generation == 1


def test_a_version_that_cannot_be_read_names_the_run_a_parameter_change_and_starts_it(deployer: Deployer) -> None:
    fail_call(client("ssm"), "GetParameter", "ThrottlingException", when=lambda params: params["Name"] == SIZE)

    arn = change(deployer.settings)

    assert arn is not None and arn.rsplit(":", 1)[-1].startswith("prod-parameter-change-")


def test_a_start_that_fails_releases_the_reservation(deployer: Deployer) -> None:
    fail_call(client("stepfunctions"), "StartExecution", "ExecutionLimitExceeded")

    with pytest.raises(AwsRequestFailedError, match="StartExecution"):
        change(deployer.settings)

    assert read_lock(deployment="prod", table=TABLE, dynamodb=deployer.dynamodb) is None


# --- license expiry ---------------------------------------------------------------------------------------------------


def test_the_daily_check_tells_of_an_expiring_license_once_per_threshold_and_not_as_drift(deployer: Deployer) -> None:
    from datetime import UTC, datetime, timedelta

    from wandb_deployer.verification.license_expiry import license_findings, record_license_expiry

    def health_with_license(days: int) -> HealthResult:
        expires_on = (datetime.now(UTC) + timedelta(days=days)).date()
        record_license_expiry(deployment="prod", expires_on=expires_on, table=TABLE, dynamodb=deployer.dynamodb)
        # unhealthy too: the license's warning must still stay out of the drift fingerprint
        findings = [UNHEALTHY, *license_findings(expires_on)]
        return HealthResult(healthy=False, attempt=1, findings=findings, license_days_left=days)

    sns = recorded_calls(client("sns"))
    first = check(deployer, health=health_with_license(20))
    again = check(deployer, health=health_with_license(20))  # the next day's check of the same license
    week = check(deployer, health=health_with_license(6))  # (another license, 6 days left: its own thresholds)

    told = [n for n in notices(sns) if n["event"] == "License Expiring"]
    assert [(n["detail"]["threshold_days"], n["detail"]["days_left"]) for n in told] == [(30, 20), (7, 6)]
    assert told[0]["detail"]["findings"][0]["code"] == "LICENSE_EXPIRING"
    assert first.fingerprint == again.fingerprint == week.fingerprint == drift_fingerprint([], [UNHEALTHY])
    assert again.transition == "unchanged"
