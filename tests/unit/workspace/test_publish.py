"""Publishing the bundle to the artifacts bucket with SSE-KMS (moto S3 + KMS)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from wandb_deployer.errors import TransientAwsError
from wandb_deployer.workspace import BundlePublishError, publish_bundle

pytestmark = pytest.mark.unit

BUCKET = "wbd-artifacts-123456789012"
KEY = "workspaces/prod/abc.zip"
BUNDLE = b"PK\x05\x06" + b"\x00" * 18


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        key_arn = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        yield {"s3": s3, "kms_key_arn": key_arn}


def test_publish_with_a_customer_key_uses_sse_kms(aws: dict[str, Any]) -> None:
    pointer = publish_bundle(BUNDLE, bucket=BUCKET, key=KEY, kms_key_arn=aws["kms_key_arn"], s3=aws["s3"])

    assert (pointer.bucket, pointer.key) == (BUCKET, KEY)
    assert pointer.version_id
    head = aws["s3"].head_object(Bucket=BUCKET, Key=KEY, VersionId=pointer.version_id)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == aws["kms_key_arn"]
    assert head["ContentType"] == "application/zip"
    assert head["Metadata"]["sha256"] == hashlib.sha256(BUNDLE).hexdigest()
    assert aws["s3"].get_object(Bucket=BUCKET, Key=KEY)["Body"].read() == BUNDLE


def test_publish_without_a_key_uses_the_aws_kms_default(aws: dict[str, Any]) -> None:
    publish_bundle(BUNDLE, bucket=BUCKET, key=KEY, kms_key_arn="", s3=aws["s3"])

    head = aws["s3"].head_object(Bucket=BUCKET, Key=KEY)
    assert head["ServerSideEncryption"] == "aws:kms"


def test_unversioned_bucket_gives_no_version_id() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        pointer = publish_bundle(BUNDLE, bucket=BUCKET, key=KEY, kms_key_arn="", s3=s3)
    assert pointer.version_id is None


def test_missing_bucket_is_a_publish_error() -> None:
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        with pytest.raises(BundlePublishError, match="NoSuchBucket") as caught:
            publish_bundle(BUNDLE, bucket="no-such-bucket", key=KEY, kms_key_arn="", s3=s3)
    assert caught.value.__cause__ is not None


@pytest.mark.parametrize(("code", "status"), [("SlowDown", 503), ("Throttling", 400), ("InternalError", 500)])
def test_throttling_and_server_errors_are_transient(code: str, status: int) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stubber:
        stubber.add_client_error("put_object", service_error_code=code, http_status_code=status)
        with pytest.raises(TransientAwsError) as caught:
            publish_bundle(BUNDLE, bucket=BUCKET, key=KEY, kms_key_arn="", s3=s3)
    assert caught.value.__cause__ is not None


def test_access_denied_is_not_transient() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stubber:
        stubber.add_client_error("put_object", service_error_code="AccessDenied", http_status_code=403)
        with pytest.raises(BundlePublishError, match="AccessDenied"):
            publish_bundle(BUNDLE, bucket=BUCKET, key=KEY, kms_key_arn="", s3=s3)
