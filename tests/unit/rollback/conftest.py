"""Fixtures of the rollback tests: the deployer's resources in moto (as the handler tests have them) and runs that
went through the real load step, so that their records hold what a real run records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.unit.handlers.conftest import LICENSE, PREFIX, deployer  # noqa: F401 (LICENSE re-exported; deployer is a fixture)
from wandb_deployer.deploy.load import load_and_render
from wandb_deployer.runs.history import RunOutcome, record_run_event
from wandb_deployer.settings import get_settings
from wandb_deployer.states import LoadConfigInput, LoadConfigResult, Trigger

TABLE = "deployments"
SECOND_LICENSE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNvbmQtbGljZW5zZSJ9.c2Vjb25kLXNpZ25hdHVyZS11bml0"


@dataclass
class Runs:
    """Runs of one deployment, each loaded by the real load step and ended with the outcome the test says."""

    machine: str
    count: int = 0

    def run(
        self, outcome: RunOutcome, *, deployment: str = "demo", trigger: Trigger = "push"
    ) -> tuple[str, LoadConfigResult]:
        self.count += 1
        name = f"{deployment}-{trigger}-run{self.count}"
        arn = f"{self.machine.replace(':stateMachine:', ':execution:')}:{name}"
        started = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=self.count)
        dynamodb = boto3.client("dynamodb")
        record_run_event(
            deployment=deployment,
            execution_arn=arn,
            outcome="started",
            trigger=trigger,
            started_at=started,
            table=TABLE,
            dynamodb=dynamodb,
        )
        loaded = load_and_render(
            LoadConfigInput(deployment=deployment, execution_name=name, execution_arn=arn, started_at=started),
            get_settings(),
        )
        record_run_event(
            deployment=deployment,
            execution_arn=arn,
            outcome=outcome,
            trigger=trigger,
            started_at=started,
            fingerprint=loaded.fingerprint,
            table=TABLE,
            dynamodb=dynamodb,
        )
        return arn, loaded


@pytest.fixture
def runs(deployer: dict[str, Any]) -> Runs:  # noqa: F811 (the imported fixture, used by name)
    return Runs(machine=deployer["state_machine_arn"])


def ssm_value(name: str, *, decrypt: bool = False) -> dict[str, Any]:
    return dict(boto3.client("ssm").get_parameter(Name=f"{PREFIX}/{name}", WithDecryption=decrypt)["Parameter"])


def put(name: str, value: str, kind: str = "String") -> None:
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type=kind, Overwrite=True)
