"""Fixtures for verification: the W&B module's S3 -> SQS wiring built in moto exactly as the module builds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from wandb_deployer.states import TerraformOutputs

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
NAME = "wandb-file-storage-happy-pet"
BUCKET_ARN = f"arn:aws:s3:::{NAME}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{NAME}"
ORIGIN = "https://wandb.example.com"
API_KEY = "local-3f9c1e7a2b5d4c8e9f0a1b2c3d4e5f6a7b8c9d0e"  # a fake W&B API key (40 hex after the prefix)


def module_queue_policy(source_arn: str = BUCKET_ARN, queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """The queue policy of terraform-aws-wandb's file_storage module."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ],
    }


@dataclass
class Wiring:
    s3: Any
    sqs: Any
    queue_url: str
    outputs: TerraformOutputs

    def set_policy(self, policy: dict[str, Any] | None) -> None:
        self.sqs.set_queue_attributes(
            QueueUrl=self.queue_url, Attributes={"Policy": json.dumps(policy) if policy is not None else ""}
        )

    def set_notification(self, *configs: dict[str, Any]) -> None:
        self.s3.put_bucket_notification_configuration(
            Bucket=NAME, NotificationConfiguration={"QueueConfigurations": list(configs)}
        )


def build_module_wiring(s3: Any, sqs: Any, *, fifo: bool = False) -> Wiring:
    """Bucket, Standard queue (long polling 10 s), policy, notification, CORS, SSE, public access block."""
    queue_name = f"{NAME}.fifo" if fifo else NAME
    attributes = {"ReceiveMessageWaitTimeSeconds": "10"}
    if fifo:
        attributes["FifoQueue"] = "true"
    queue_url = sqs.create_queue(QueueName=queue_name, Attributes=attributes)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url, Attributes={"Policy": json.dumps(module_queue_policy(queue_arn=queue_arn))}
    )
    s3.create_bucket(Bucket=NAME)
    s3.put_bucket_cors(
        Bucket=NAME,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedHeaders": ["*"],
                    "AllowedMethods": ["GET", "HEAD", "PUT"],
                    "AllowedOrigins": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 3000,
                }
            ]
        },
    )
    s3.put_bucket_encryption(
        Bucket=NAME,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/11111111-2222-3333-4444-555555555555",
                    }
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=NAME,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    wiring = Wiring(
        s3=s3,
        sqs=sqs,
        queue_url=queue_url,
        outputs=TerraformOutputs(
            url="https://wandb.example.com", bucket_name=NAME, bucket_queue_name=queue_name, bucket_region=REGION
        ),
    )
    wiring.set_notification({"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]})
    return wiring


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    with mock_aws():
        yield boto3.client("s3", region_name=REGION), boto3.client("sqs", region_name=REGION)


@pytest.fixture
def wiring(aws: tuple[Any, Any]) -> Wiring:
    s3, sqs = aws
    return build_module_wiring(s3, sqs)
