"""What the load step records for later operations: the license's expiry date (read from the license it validates,
never the license), in the deployment's `LICENSE` record and in the run's result for the health check."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import LICENSE, push
from tests.unit.rollback.conftest import TABLE
from wandb_deployer.deploy.load import load_and_render
from wandb_deployer.settings import get_settings
from wandb_deployer.states import LoadConfigInput
from wandb_deployer.verification.license_expiry import read_license_expiry

pytestmark = pytest.mark.unit


def _part(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def expiring_license(on: date) -> str:
    """A JWS-shaped test token with an `exp` claim (built here: never a real license)."""
    exp = datetime(on.year, on.month, on.day, 8, tzinfo=UTC).timestamp()
    claims = {"sub": "unit-test", "exp": exp}
    return ".".join([_part(b'{"alg":"RS256"}'), _part(json.dumps(claims).encode()), _part(bytes(range(48)))])


@pytest.mark.usefixtures("deployer")
@pytest.mark.parametrize(
    ("license_value", "expected"), [(expiring_license(date(2027, 3, 1)), "2027-03-01"), (LICENSE, None)]
)
def test_the_load_step_passes_on_the_expiry_date_only(license_value: str, expected: str | None) -> None:
    push(REPO / "examples" / "operator.yaml", license_value=license_value)

    loaded = load_and_render(LoadConfigInput(deployment="demo", execution_name="demo-push-1"), get_settings())

    assert loaded.license_expires_on == expected
    record = read_license_expiry(deployment="demo", table=TABLE, dynamodb=boto3.client("dynamodb"))
    assert record is not None and record.expires_on == expected
    assert license_value not in loaded.model_dump_json() and license_value not in record.model_dump_json()
