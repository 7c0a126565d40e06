"""What the load step records for later operations: the config a rollback needs, and never the license: a run's
steps do not decrypt it (issue 10), so its expiry is read by the health check (tests/unit/verification)."""

from __future__ import annotations

from datetime import date

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import push
from tests.unit.rollback.conftest import TABLE
from tests.unit.verification.test_license_expiry import at, token
from wandb_deployer.deploy.load import load_and_render
from wandb_deployer.settings import get_settings
from wandb_deployer.states import LoadConfigInput
from wandb_deployer.verification.license_expiry import read_license_expiry

pytestmark = pytest.mark.unit


@pytest.mark.usefixtures("deployer")
def test_the_load_step_never_reads_the_license_nor_its_expiry() -> None:
    license_value = token({"sub": "unit-test", "exp": at(date(2027, 3, 1))})
    push(REPO / "examples" / "operator.yaml", license_value=license_value)

    loaded = load_and_render(LoadConfigInput(deployment="demo", execution_name="demo-push-1"), get_settings())

    assert "license_expires_on" not in loaded.model_dump()
    assert read_license_expiry(deployment="demo", table=TABLE, dynamodb=boto3.client("dynamodb")) is None
    assert license_value not in loaded.model_dump_json()
