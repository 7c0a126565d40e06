"""The verify and health steps in detail: which outputs they read, when the probe runs, how the evidence is stored,
which parameters they read, and the AWS failures they meet."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.faults import fail_call, recorded_calls
from tests.unit.verification.conftest import NAME, REGION, Wiring
from tests.unit.verification.test_health_step import PREFIX, SETTINGS, request
from tests.unit.verification.test_health_step import ssm as ssm_fixture  # noqa: F401  (pytest finds it as `ssm`)
from tests.unit.verification.test_health_step import standin as standin_fixture  # noqa: F401
from tests.unit.verification.test_verify_step import ARTIFACTS, DEPLOYER_REGION, RUN_PREFIX, evidence
from tests.unit.verification.test_verify_step import settings as settings_fixture  # noqa: F401
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.health_step import check
from wandb_deployer.deploy.verify_step import read_outputs, verify
from wandb_deployer.errors import AwsRequestFailedError, PlanNotFoundError, WiringCheckFailedError
from wandb_deployer.settings import Settings
from wandb_deployer.states import TerraformOutputs, VerifyInput
from wandb_deployer.verification.probe import PROBE_PREFIX
from wbd.sandbox.wandb_standin import WandbStandIn

pytestmark = pytest.mark.unit

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


# --- health step ---------------------------------------------------------------------------------------------------


def test_the_operator_generation_reads_only_the_api_key(ssm: Any, standin: WandbStandIn) -> None:
    calls = recorded_calls(client("ssm"))
    check(request(standin, generation="operator"), SETTINGS)
    assert [params for _, params in calls] == [{"Name": f"{PREFIX}/deployer/api_key", "WithDecryption": True}]


def test_the_legacy_generation_also_reads_the_desired_version(ssm: Any, standin: WandbStandIn) -> None:
    calls = recorded_calls(client("ssm"))
    result = check(request(standin, generation="legacy", attempt=4), SETTINGS)
    assert [params["Name"] for _, params in calls] == [f"{PREFIX}/deployer/api_key", f"{PREFIX}/app/wandb_version"]
    assert result.attempt == 5


@pytest.mark.parametrize(("attempt", "give_up"), [(1, False), (2, True)])
def test_the_deadline_counts_whole_intervals(ssm: Any, standin: WandbStandIn, attempt: int, give_up: bool) -> None:
    # 30 s at 10 s intervals: after attempt 1 the next (2) starts at 20 s < 30 s; after attempt 2, 30 s is the deadline.
    standin.set_status(503)
    assert check(request(standin, attempt=attempt), SETTINGS).give_up is give_up
