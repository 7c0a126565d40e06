"""The Verify wiring step: outputs from the run's artifacts, the check in the deployment's region, evidence kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.verification.conftest import NAME, REGION, Wiring
from wandb_deployer.deploy.verify_step import verify
from wandb_deployer.errors import PlanNotFoundError, WiringCheckFailedError
from wandb_deployer.settings import Settings
from wandb_deployer.states import VerifyInput, WiringResult
from wandb_deployer.verification.probe import PROBE_PREFIX

pytestmark = pytest.mark.unit

ARTIFACTS = "deployer-artifacts"
RUN_PREFIX = "runs/demo/run-1/"
DEPLOYER_REGION = "eu-west-1"  # the deployer runs in another region than the W&B deployment (us-east-1)


@pytest.fixture
def settings(wiring: Wiring, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):  # the Lambda's region: where default clients point
        monkeypatch.setenv(name, DEPLOYER_REGION)
    wiring.s3.create_bucket(Bucket=ARTIFACTS)
    outputs: dict[str, Any] = {
        "url": {"value": "https://wandb.example.com", "type": "string", "sensitive": False},
        "bucket_name": {"value": NAME, "type": "string", "sensitive": False},
        "bucket_queue_name": {"value": NAME, "type": "string", "sensitive": False},
        "bucket_region": {"value": REGION, "type": "string", "sensitive": False},
        "database_password": {"value": "not-for-payloads", "type": "string", "sensitive": True},
    }
    wiring.s3.put_object(Bucket=ARTIFACTS, Key=f"{RUN_PREFIX}outputs.json", Body=json.dumps(outputs).encode())
    return Settings(
        artifacts_bucket=ARTIFACTS,
        state_bucket="deployer-state",
        deployments_table="deployments",
        aws_region=DEPLOYER_REGION,
    )


def request(*, probe: bool = False) -> VerifyInput:
    return VerifyInput(deployment="demo", run_prefix=RUN_PREFIX, expects_queue=True, probe=probe)


def evidence(wiring: Wiring) -> WiringResult:
    body = wiring.s3.get_object(Bucket=ARTIFACTS, Key=f"{RUN_PREFIX}wiring.json")["Body"].read()
    return WiringResult.model_validate_json(body)


def test_verifies_in_the_deployments_region_and_keeps_the_evidence(wiring: Wiring, settings: Settings) -> None:
    # Given a deployer in eu-west-1 and the W&B bucket + queue in us-east-1 (the module output bucket_region),
    result = verify(request(probe=True), settings, DEPLOYER_REGION)

    # then the queue is found where it lives, the probe ran and left nothing behind, and the evidence is saved.
    assert result.wiring.passed and result.wiring.findings == []
    assert result.outputs.bucket_queue_name == NAME
    assert "not-for-payloads" not in result.model_dump_json()
    assert evidence(wiring) == result.wiring
    assert not wiring.s3.list_objects_v2(Bucket=NAME, Prefix=PROBE_PREFIX).get("Contents")


def test_broken_wiring_fails_the_step_with_its_codes_and_keeps_the_evidence(wiring: Wiring, settings: Settings) -> None:
    wiring.s3.put_bucket_notification_configuration(Bucket=NAME, NotificationConfiguration={})
    with pytest.raises(WiringCheckFailedError, match="NOTIFICATION_MISSING"):
        verify(request(probe=True), settings, DEPLOYER_REGION)
    kept = evidence(wiring)
    assert not kept.passed and [f.code for f in kept.findings] == ["NOTIFICATION_MISSING"]


def test_missing_outputs_are_a_missing_plan(wiring: Wiring, settings: Settings) -> None:
    with pytest.raises(PlanNotFoundError):
        verify(request().model_copy(update={"run_prefix": "runs/demo/never-applied/"}), settings, DEPLOYER_REGION)
