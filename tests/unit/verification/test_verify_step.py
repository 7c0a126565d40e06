"""The Verify wiring step: outputs from the run's artifacts, the check in the deployment's region, evidence kept."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.faults import fail_call, recorded_calls
from tests.unit.verification.conftest import NAME, REGION, Wiring
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.verify_step import read_outputs, verify
from wandb_deployer.errors import AwsRequestFailedError, PlanNotFoundError, WiringCheckFailedError
from wandb_deployer.settings import Settings
from wandb_deployer.states import TerraformOutputs, VerifyInput, WiringResult
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


KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def put_outputs(wiring: Wiring, outputs: dict[str, Any]) -> None:
    document = {name: {"value": value, "type": "string", "sensitive": False} for name, value in outputs.items()}
    wiring.s3.put_object(Bucket=ARTIFACTS, Key=f"{RUN_PREFIX}outputs.json", Body=json.dumps(document).encode())


def test_outputs_keep_known_non_sensitive_values_and_an_empty_queue_is_none(wiring: Wiring, settings: Settings) -> None:
    put_outputs(wiring, {"url": "https://w.example.com", "bucket_name": NAME, "bucket_queue_name": "", "extra": "x"})
    outputs = read_outputs(bucket=ARTIFACTS, run_prefix=RUN_PREFIX, s3=wiring.s3)
    assert outputs == TerraformOutputs(url="https://w.example.com", bucket_name=NAME, bucket_queue_name=None)


def test_missing_outputs_name_where_they_were_expected(wiring: Wiring, settings: Settings) -> None:
    with pytest.raises(PlanNotFoundError) as raised:
        read_outputs(bucket=ARTIFACTS, run_prefix="runs/demo/none/", s3=wiring.s3)
    assert str(raised.value) == f"outputs of the run are missing at s3://{ARTIFACTS}/runs/demo/none/outputs.json"


def test_without_the_probe_nothing_is_written_to_the_bucket(wiring: Wiring, settings: Settings) -> None:
    calls = recorded_calls(client("s3", REGION))
    result = verify(
        VerifyInput(deployment="demo", run_prefix=RUN_PREFIX, expects_queue=True), settings, DEPLOYER_REGION
    )
    assert result.wiring.passed
    assert not [params for name, params in calls if name == "PutObject"]
    assert not wiring.s3.list_objects_v2(Bucket=NAME, Prefix=PROBE_PREFIX).get("Contents")


def test_the_evidence_is_encrypted_with_the_deployer_key(wiring: Wiring, settings: Settings) -> None:
    keyed = settings.model_copy(update={"kms_key_arn": KEY_ARN})
    calls = recorded_calls(client("s3"))
    verify(VerifyInput(deployment="demo", run_prefix=RUN_PREFIX, expects_queue=True), keyed, DEPLOYER_REGION)
    [put] = [params for name, params in calls if name == "PutObject"]
    assert (put["Key"], put["ServerSideEncryption"], put["SSEKMSKeyId"]) == (
        f"{RUN_PREFIX}wiring.json",
        "aws:kms",
        KEY_ARN,
    )


def test_a_broken_wiring_names_the_bucket_and_every_error_code(wiring: Wiring, settings: Settings) -> None:
    wiring.s3.put_bucket_notification_configuration(Bucket=NAME, NotificationConfiguration={})
    wiring.s3.delete_bucket_cors(Bucket=NAME)
    with pytest.raises(WiringCheckFailedError) as raised:
        verify(VerifyInput(deployment="demo", run_prefix=RUN_PREFIX, expects_queue=True), settings, DEPLOYER_REGION)
    assert str(raised.value) == f"S3 -> SQS wiring of {NAME} is broken: NOTIFICATION_MISSING, CORS_MISSING"
    assert not evidence(wiring).passed


def test_an_internal_queue_is_not_probed(wiring: Wiring, settings: Settings) -> None:
    result = verify(
        VerifyInput(deployment="demo", run_prefix=RUN_PREFIX, expects_queue=False, probe=True),
        settings,
        DEPLOYER_REGION,
    )
    assert result.wiring.passed and [f.code for f in result.wiring.findings] == ["INTERNAL_QUEUE"]
    assert not wiring.s3.list_objects_v2(Bucket=NAME, Prefix=PROBE_PREFIX).get("Contents")


def test_evidence_that_cannot_be_stored_fails_the_step(wiring: Wiring, settings: Settings) -> None:
    fail_call(client("s3"), "PutObject", "AccessDenied", status=403)
    with pytest.raises(AwsRequestFailedError, match="s3:PutObject wiring evidence"):
        verify(VerifyInput(deployment="demo", run_prefix=RUN_PREFIX, expects_queue=True), settings, DEPLOYER_REGION)
