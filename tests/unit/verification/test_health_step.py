"""The Check health step: the API key and the desired version come from SSM; the attempt counter and the deadline."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import MagicMock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.unit.faults import recorded_calls
from tests.unit.runs.conftest import TABLE, create_deployments_table
from tests.unit.verification.conftest import API_KEY, REGION
from tests.unit.verification.test_license_expiry import at, token
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy import health_step
from wandb_deployer.deploy.health_step import check
from wandb_deployer.errors import AwsRequestFailedError, TransientAwsError
from wandb_deployer.settings import Settings
from wandb_deployer.states import HealthInput
from wandb_deployer.verification.license_expiry import read_license_expiry
from wbd.sandbox.wandb_standin import WandbStandIn

pytestmark = pytest.mark.unit

SETTINGS = Settings(artifacts_bucket="deployer-artifacts", state_bucket="deployer-state", deployments_table="t")
PREFIX = "/wandb-deployer/demo"


@pytest.fixture
def ssm() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


@pytest.fixture
def standin() -> Iterator[WandbStandIn]:
    with WandbStandIn(version="0.52.0", api_key=API_KEY) as running:
        yield running


def request(standin: WandbStandIn, *, generation: str = "legacy", attempt: int = 0) -> HealthInput:
    return HealthInput.model_validate(
        {
            "deployment": "demo",
            "url": standin.url,
            "generation": generation,
            "attempt": attempt,
            "timeout_seconds": 30,
            "interval_seconds": 10,
        }
    )


def codes(findings: Any) -> list[str]:
    return sorted(f.code for f in findings)


def test_legacy_compares_the_running_version_with_app_wandb_version(ssm: Any, standin: WandbStandIn) -> None:
    ssm.put_parameter(Name=f"{PREFIX}/deployer/api_key", Value=API_KEY, Type="SecureString")
    ssm.put_parameter(Name=f"{PREFIX}/app/wandb_version", Value="0.52.0", Type="String")
    healthy = check(request(standin), SETTINGS)
    assert healthy.healthy and healthy.server_version == "0.52.0" and healthy.attempt == 1
    assert codes(healthy.findings) == ["PLAIN_HTTP"]

    ssm.put_parameter(Name=f"{PREFIX}/app/wandb_version", Value="0.53.0", Type="String", Overwrite=True)
    mismatch = check(request(standin), SETTINGS)
    assert not mismatch.healthy and codes(mismatch.findings) == ["PLAIN_HTTP", "VERSION_MISMATCH"]
    assert API_KEY not in mismatch.model_dump_json()


def test_operator_generation_without_a_key_leaves_the_version_unchecked(ssm: Any, standin: WandbStandIn) -> None:
    result = check(request(standin, generation="operator"), SETTINGS)
    assert result.healthy and codes(result.findings) == ["PLAIN_HTTP", "VERSION_UNCHECKED"]


def test_gives_up_when_the_next_attempt_would_pass_the_deadline(ssm: Any, standin: WandbStandIn) -> None:
    standin.set_status(503)
    # 30 s deadline, 10 s apart: attempts 0, 1 and 2, then give up.
    assert [check(request(standin, attempt=n), SETTINGS).give_up for n in range(3)] == [False, False, True]
    standin.set_status(200)
    assert not check(request(standin, attempt=2), SETTINGS).give_up  # healthy never gives up


@pytest.mark.parametrize(
    ("code", "error"), [("ThrottlingException", TransientAwsError), ("AccessDeniedException", AwsRequestFailedError)]
)
def test_ssm_errors_are_sorted(
    monkeypatch: pytest.MonkeyPatch, standin: WandbStandIn, code: str, error: type[Exception]
) -> None:
    ssm = MagicMock()
    ssm.get_parameter.side_effect = ClientError({"Error": {"Code": code, "Message": "no"}}, "GetParameter")
    monkeypatch.setattr(health_step, "client", lambda service: ssm)
    with pytest.raises(error):
        check(request(standin), SETTINGS)


def test_the_operator_generation_reads_the_api_key_and_the_license(ssm: Any, standin: WandbStandIn) -> None:
    calls = recorded_calls(client("ssm"))
    check(request(standin, generation="operator"), SETTINGS)
    assert [params for _, params in calls] == [
        {"Name": f"{PREFIX}/deployer/api_key", "WithDecryption": True},
        {"Name": f"{PREFIX}/infra/license", "WithDecryption": True},
    ]


def test_the_legacy_generation_also_reads_the_desired_version(ssm: Any, standin: WandbStandIn) -> None:
    calls = recorded_calls(client("ssm"))
    result = check(request(standin, generation="legacy", attempt=4), SETTINGS)
    assert [params["Name"] for _, params in calls] == [
        f"{PREFIX}/deployer/api_key",
        f"{PREFIX}/app/wandb_version",
        f"{PREFIX}/app/license",
    ]
    assert result.attempt == 5


@pytest.mark.parametrize(("attempt", "give_up"), [(1, False), (2, True)])
def test_the_deadline_counts_whole_intervals(ssm: Any, standin: WandbStandIn, attempt: int, give_up: bool) -> None:
    # 30 s at 10 s intervals: after attempt 1 the next (2) starts at 20 s < 30 s; after attempt 2, 30 s is the deadline.
    standin.set_status(503)
    assert check(request(standin, attempt=attempt), SETTINGS).give_up is give_up


def test_a_license_expiring_within_30_days_is_a_warning_with_its_days_left(ssm: Any, standin: WandbStandIn) -> None:
    """The health check reads the license itself (a run's steps never decrypt it) and notes only its expiry date."""
    expires_on = (datetime.now(UTC) + timedelta(days=12)).date()
    license_token = token({"sub": "unit-test", "exp": at(expires_on)})
    ssm.put_parameter(Name=f"{PREFIX}/infra/license", Value=license_token, Type="SecureString")
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    create_deployments_table(dynamodb)
    settings = SETTINGS.model_copy(update={"deployments_table": TABLE})
    result = check(request(standin, generation="operator"), settings)
    assert result.healthy and result.license_days_left == 12
    assert codes(result.findings) == ["LICENSE_EXPIRING", "PLAIN_HTTP", "VERSION_UNCHECKED"]
    record = read_license_expiry(deployment="demo", table=TABLE, dynamodb=dynamodb)
    assert record is not None and record.expires_on == expires_on.isoformat()
    assert license_token not in result.model_dump_json() and license_token not in record.model_dump_json()
    ssm.put_parameter(Name=f"{PREFIX}/infra/license", Value="a.b.c", Type="SecureString", Overwrite=True)
    unknown = check(request(standin, generation="operator"), settings)
    assert unknown.license_days_left is None and "LICENSE_EXPIRING" not in codes(unknown.findings)
    record = read_license_expiry(deployment="demo", table=TABLE, dynamodb=dynamodb)
    assert record is not None and record.expires_on is None
