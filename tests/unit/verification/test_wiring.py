"""The wiring verifier against the module's setup in moto: correct passes clean; each break gives its own finding."""

from __future__ import annotations

import copy
import json
from typing import Any
from unittest.mock import MagicMock

import pytest
from botocore.exceptions import ClientError

from tests.unit.verification.conftest import (
    ACCOUNT,
    BUCKET_ARN,
    NAME,
    ORIGIN,
    QUEUE_ARN,
    REGION,
    Wiring,
    build_module_wiring,
    module_queue_policy,
)
from wandb_deployer.errors import AwsRequestFailedError, TransientAwsError
from wandb_deployer.states import TerraformOutputs, WiringResult
from wandb_deployer.verification import expects_queue, verify_wiring

pytestmark = pytest.mark.unit


def verify(wiring: Wiring, *, origin: str = ORIGIN, account_id: str | None = None, **overrides: Any) -> WiringResult:
    outputs = wiring.outputs.model_copy(update=overrides)
    return verify_wiring(
        outputs=outputs,
        expects_queue=True,
        expected_region=REGION,
        wandb_origin=origin,
        s3=wiring.s3,
        sqs=wiring.sqs,
        account_id=account_id,
    )


def codes(result: WiringResult) -> list[str]:
    return [f.code for f in result.findings]


# -- expects_queue ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("infra", "expected"),
    [
        ({}, True),
        ({"use_internal_queue": False}, True),
        ({"use_internal_queue": "false"}, True),
        ({"use_internal_queue": True}, False),
        ({"use_internal_queue": "true"}, False),
        ({"bucket_name": "my-external-bucket"}, False),
        ({"bucket_name": ""}, True),
    ],
)
def test_expects_queue_only_when_the_module_creates_it(infra: dict[str, object], expected: bool) -> None:
    assert expects_queue(infra) is expected


# -- the module's own setup -----------------------------------------------------------------------------------------
def test_module_setup_passes_with_no_findings(wiring: Wiring) -> None:
    result = verify(wiring)
    assert result.passed
    assert result.expects_queue
    assert result.findings == []


def test_module_setup_passes_with_the_account_given(wiring: Wiring) -> None:
    assert verify(wiring, account_id=ACCOUNT).findings == []


def test_internal_queue_passes_with_an_info_finding(aws: tuple[Any, Any]) -> None:
    s3, sqs = aws
    result = verify_wiring(
        outputs=TerraformOutputs(url=ORIGIN, bucket_name=NAME, bucket_queue_name=None, bucket_region=REGION),
        expects_queue=False,
        expected_region=REGION,
        wandb_origin=ORIGIN,
        s3=s3,
        sqs=sqs,
    )
    assert result.passed
    assert not result.expects_queue
    assert [(f.code, f.severity) for f in result.findings] == [("INTERNAL_QUEUE", "info")]


# -- notification ---------------------------------------------------------------------------------------------------
def test_notification_removed(wiring: Wiring) -> None:
    wiring.s3.put_bucket_notification_configuration(Bucket=NAME, NotificationConfiguration={})
    result = verify(wiring)
    assert codes(result) == ["NOTIFICATION_MISSING"]
    assert not result.passed
    assert result.findings[0].fix_hint


def test_notification_pointed_at_another_queue(wiring: Wiring) -> None:
    other = wiring.sqs.create_queue(QueueName="someone-elses-queue")["QueueUrl"]
    other_arn = wiring.sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    wiring.set_notification({"QueueArn": other_arn, "Events": ["s3:ObjectCreated:*"]})
    result = verify(wiring)
    assert codes(result) == ["NOTIFICATION_WRONG_QUEUE"]
    assert "someone-elses-queue" in result.findings[0].message


def test_notification_limited_by_a_prefix_filter(wiring: Wiring) -> None:
    wiring.set_notification(
        {
            "QueueArn": QUEUE_ARN,
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "media/"}]}},
        }
    )
    assert codes(verify(wiring)) == ["NOTIFICATION_FILTERED"]


def test_notification_with_only_put_events_is_incomplete(wiring: Wiring) -> None:
    wiring.set_notification({"QueueArn": QUEUE_ARN, "Events": ["s3:ObjectCreated:Put"]})
    result = verify(wiring)
    assert codes(result) == ["NOTIFICATION_EVENTS_INCOMPLETE"]
    assert "CompleteMultipartUpload" in result.findings[0].message


def test_notification_listing_every_created_event_passes(wiring: Wiring) -> None:
    events = [f"s3:ObjectCreated:{e}" for e in ("Put", "Post", "Copy", "CompleteMultipartUpload")]
    wiring.set_notification({"QueueArn": QUEUE_ARN, "Events": events})
    assert verify(wiring).findings == []


# -- queue ------------------------------------------------------------------------------------------------------------
def test_fifo_queue(aws: tuple[Any, Any]) -> None:
    # moto accepts a FIFO notification target; S3 refuses it ("FIFO queues are not supported"): a broken
    # hand-made setup would never get this far in AWS, but the verifier must still name the cause.
    s3, sqs = aws
    wiring = build_module_wiring(s3, sqs, fifo=True)
    fifo_arn = f"{QUEUE_ARN}.fifo"
    wiring.set_notification({"QueueArn": fifo_arn, "Events": ["s3:ObjectCreated:*"]})
    result = verify(wiring)
    assert codes(result) == ["QUEUE_FIFO"]


def test_queue_missing(wiring: Wiring) -> None:
    wiring.sqs.delete_queue(QueueUrl=wiring.queue_url)
    result = verify(wiring)
    assert codes(result) == ["QUEUE_MISSING"]


def test_bucket_missing(aws: tuple[Any, Any]) -> None:
    s3, sqs = aws
    wiring = build_module_wiring(s3, sqs)
    result = verify(wiring, bucket_name="wandb-file-storage-gone")
    assert codes(result) == ["BUCKET_MISSING", "QUEUE_POLICY_WRONG_SOURCE"]


def test_bucket_in_another_region(wiring: Wiring) -> None:
    result = verify_wiring(
        outputs=wiring.outputs,
        expects_queue=True,
        expected_region="eu-west-1",
        wandb_origin=ORIGIN,
        s3=wiring.s3,
        sqs=wiring.sqs,
    )
    assert "BUCKET_WRONG_REGION" in codes(result)


# -- queue policy ---------------------------------------------------------------------------------------------------
def test_queue_policy_missing(wiring: Wiring) -> None:
    wiring.set_policy(None)
    assert codes(verify(wiring)) == ["QUEUE_POLICY_MISSING"]


def test_queue_policy_with_the_wrong_source_arn(wiring: Wiring) -> None:
    wiring.set_policy(module_queue_policy(source_arn="arn:aws:s3:::another-bucket"))
    assert codes(verify(wiring)) == ["QUEUE_POLICY_WRONG_SOURCE"]


def test_queue_policy_with_the_wrong_account(wiring: Wiring) -> None:
    policy = module_queue_policy()
    policy["Statement"][0]["Condition"]["StringEquals"] = {"aws:SourceAccount": "999999999999"}
    wiring.set_policy(policy)
    assert codes(verify(wiring)) == ["QUEUE_POLICY_WRONG_ACCOUNT"]


def test_queue_policy_overridden_by_a_deny(wiring: Wiring) -> None:
    policy = module_queue_policy()
    policy["Statement"].append(
        {
            "Sid": "NoS3",
            "Effect": "Deny",
            "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "sqs:*",
            "Resource": "*",
        }
    )
    wiring.set_policy(policy)
    result = verify(wiring)
    assert codes(result) == ["QUEUE_POLICY_DENIED"]
    assert "NoS3" in result.findings[0].message


def test_queue_policy_for_any_bucket_passes_with_a_warning(wiring: Wiring) -> None:
    policy = module_queue_policy()
    del policy["Statement"][0]["Condition"]
    wiring.set_policy(policy)
    result = verify(wiring)
    assert result.passed
    assert [(f.code, f.severity) for f in result.findings] == [("QUEUE_POLICY_UNSCOPED", "warning")]


# -- CORS, encryption, public access --------------------------------------------------------------------------------
def _cors(wiring: Wiring, methods: list[str], origins: list[str] | None = None) -> None:
    rule = {"AllowedHeaders": ["*"], "AllowedMethods": methods, "AllowedOrigins": origins or ["*"]}
    wiring.s3.put_bucket_cors(Bucket=NAME, CORSConfiguration={"CORSRules": [rule]})


def test_cors_without_put(wiring: Wiring) -> None:
    _cors(wiring, ["GET", "HEAD"])
    result = verify(wiring)
    assert codes(result) == ["CORS_METHODS"]
    assert result.findings[0].severity == "error"
    assert "PUT" in result.findings[0].message


def test_cors_without_head_is_a_warning(wiring: Wiring) -> None:
    _cors(wiring, ["GET", "PUT"])
    result = verify(wiring)
    assert result.passed
    assert [(f.code, f.severity) for f in result.findings] == [("CORS_METHODS", "warning")]


def test_cors_missing(wiring: Wiring) -> None:
    wiring.s3.delete_bucket_cors(Bucket=NAME)
    assert codes(verify(wiring)) == ["CORS_MISSING"]


def test_cors_for_another_origin(wiring: Wiring) -> None:
    _cors(wiring, ["GET", "HEAD", "PUT"], ["https://other.example.com"])
    assert codes(verify(wiring)) == ["CORS_ORIGIN"]


def test_cors_for_the_wandb_origin_or_a_wildcard_host_passes(wiring: Wiring) -> None:
    _cors(wiring, ["GET", "HEAD", "PUT"], ["https://*.example.com"])
    assert verify(wiring, origin="https://wandb.example.com/some/path").findings == []


def test_bucket_unencrypted(wiring: Wiring) -> None:
    wiring.s3.delete_bucket_encryption(Bucket=NAME)
    assert codes(verify(wiring)) == ["BUCKET_UNENCRYPTED"]


def test_bucket_with_public_policy(wiring: Wiring) -> None:
    wiring.s3.delete_public_access_block(Bucket=NAME)
    public = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"{BUCKET_ARN}/*"}],
    }
    wiring.s3.put_bucket_policy(Bucket=NAME, Policy=json.dumps(public))
    assert codes(verify(wiring)) == ["BUCKET_PUBLIC"]


def test_bucket_with_public_acl(wiring: Wiring) -> None:
    wiring.s3.delete_public_access_block(Bucket=NAME)
    wiring.s3.put_bucket_acl(Bucket=NAME, ACL="public-read")
    assert codes(verify(wiring)) == ["BUCKET_PUBLIC"]


def test_bucket_without_access_block_but_private_passes(wiring: Wiring) -> None:
    wiring.s3.delete_public_access_block(Bucket=NAME)
    assert verify(wiring).findings == []


# -- AWS errors -------------------------------------------------------------------------------------------------------
def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


@pytest.mark.parametrize(
    ("code", "status", "error"), [("SlowDown", 503, TransientAwsError), ("AccessDenied", 403, AwsRequestFailedError)]
)
def test_aws_errors_are_wrapped(wiring: Wiring, code: str, status: int, error: type[Exception]) -> None:
    s3 = MagicMock(wraps=wiring.s3)
    s3.get_bucket_cors.side_effect = _client_error(code, status)
    with pytest.raises(error) as raised:
        verify_wiring(
            outputs=wiring.outputs,
            expects_queue=True,
            expected_region=REGION,
            wandb_origin=ORIGIN,
            s3=s3,
            sqs=wiring.sqs,
        )
    assert isinstance(raised.value.__cause__, ClientError)
    assert "s3:GetBucketCors" in str(raised.value)


def test_sqs_throttling_is_transient(wiring: Wiring) -> None:
    sqs = MagicMock(wraps=wiring.sqs)
    sqs.get_queue_attributes.side_effect = _client_error("ThrottlingException", 400)
    with pytest.raises(TransientAwsError):
        verify_wiring(
            outputs=wiring.outputs,
            expects_queue=True,
            expected_region=REGION,
            wandb_origin=ORIGIN,
            s3=wiring.s3,
            sqs=sqs,
        )


def test_result_is_a_small_payload(wiring: Wiring) -> None:
    wiring.set_policy(None)
    dumped = verify(wiring).model_dump(mode="json")
    assert set(dumped) == {"expects_queue", "passed", "findings"}
    assert copy.deepcopy(dumped)["findings"][0]["fix_hint"].startswith("the queue policy needs")


@pytest.mark.parametrize(
    "queue_output", [NAME, f"sqs://{NAME}", f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{NAME}"]
)
def test_queue_output_forms(wiring: Wiring, queue_output: str) -> None:
    assert verify(wiring, bucket_queue_name=queue_output).findings == []


def test_no_queue_output_while_a_queue_is_expected(wiring: Wiring) -> None:
    result = verify(wiring, bucket_queue_name=None)
    assert codes(result) == ["QUEUE_MISSING"]
