"""Refresh: read each resource's real current attributes back from the AWS emulator (None: it no longer exists)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from wbd.sandbox.terraform_emulation import database
from wbd.sandbox.terraform_emulation import file_storage as fs
from wbd.sandbox.terraform_emulation.environment import emulator_client
from wbd.sandbox.terraform_emulation.errors import ResourceOperationError
from wbd.sandbox.terraform_emulation.state import ResourceRecord

GONE_CODES = frozenset(
    {
        "404",
        "NoSuchBucket",
        "NoSuchCORSConfiguration",
        "NoSuchPublicAccessBlockConfiguration",
        "ServerSideEncryptionConfigurationNotFoundError",
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        *database.GONE_CODES,
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def normalized_policy(policy: str) -> str:
    """Policies compare as JSON documents, not as strings."""
    try:
        return json.dumps(json.loads(policy), sort_keys=True)
    except ValueError:
        return policy


def queue_url(name: str, region: str) -> str | None:
    try:
        return str(emulator_client("sqs", region).get_queue_url(QueueName=name)["QueueUrl"])
    except ClientError as exc:
        if error_code(exc) in GONE_CODES:
            return None
        raise ResourceOperationError(f"reading queue {name}: {error_code(exc)}") from exc


def _queue(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    url = queue_url(attributes["name"], region)
    if url is None:
        return None
    found = emulator_client("sqs", region).get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        **attributes,
        "id": url,
        "url": url,
        "arn": found.get("QueueArn", attributes.get("arn")),
        "fifo_queue": found.get("FifoQueue", "false") == "true",
        "receive_wait_time_seconds": int(found.get("ReceiveMessageWaitTimeSeconds", 0)),
        "kms_master_key_id": found.get("KmsMasterKeyId"),
    }


def _queue_policy(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    policy = json.loads(attributes["policy"]) if attributes.get("policy") else {}
    statements = policy.get("Statement", [{}])
    resource = str(statements[0].get("Resource", "")) if statements else ""
    url = queue_url(resource.rsplit(":", 1)[-1], region) if resource else None
    if url is None:
        return None
    found = emulator_client("sqs", region).get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
    current = found.get("Attributes", {}).get("Policy")
    if not current:
        return None
    return {**attributes, "id": url, "queue_url": url, "policy": normalized_policy(current)}


def _bucket(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    s3 = emulator_client("s3", region)
    s3.head_bucket(Bucket=attributes["bucket"])
    location = s3.get_bucket_location(Bucket=attributes["bucket"]).get("LocationConstraint") or "us-east-1"
    return {**attributes, "region": location}


def _public_access_block(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    found = emulator_client("s3", region).get_public_access_block(Bucket=attributes["bucket"])
    block = found["PublicAccessBlockConfiguration"]
    return {
        **attributes,
        "block_public_acls": bool(block.get("BlockPublicAcls")),
        "block_public_policy": bool(block.get("BlockPublicPolicy")),
        "ignore_public_acls": bool(block.get("IgnorePublicAcls")),
        "restrict_public_buckets": bool(block.get("RestrictPublicBuckets")),
    }


def _encryption(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    found = emulator_client("s3", region).get_bucket_encryption(Bucket=attributes["bucket"])
    rules = found["ServerSideEncryptionConfiguration"]["Rules"]
    return {
        **attributes,
        "rule": [
            fs.encryption_rule(rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm", ""))
            for rule in rules
        ],
    }


def _cors(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    found = emulator_client("s3", region).get_bucket_cors(Bucket=attributes["bucket"])
    rules = [
        fs.cors_rule(
            methods=rule.get("AllowedMethods", []),
            origins=rule.get("AllowedOrigins", []),
            headers=rule.get("AllowedHeaders", []),
            expose=rule.get("ExposeHeaders", []),
            max_age=rule.get("MaxAgeSeconds"),
        )
        for rule in found.get("CORSRules", [])
    ]
    return {**attributes, "cors_rule": rules} if rules else None


def _filter_value(configuration: dict[str, Any], name: str) -> str:
    rules = configuration.get("Filter", {}).get("Key", {}).get("FilterRules", [])
    return next((str(rule.get("Value", "")) for rule in rules if str(rule.get("Name", "")).lower() == name), "")


def _notification(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    found = emulator_client("s3", region).get_bucket_notification_configuration(Bucket=attributes["bucket"])
    queues = [
        fs.queue_notification(
            str(configuration.get("QueueArn", "")),
            events=list(configuration.get("Events", [])),
            prefix=_filter_value(configuration, "prefix"),
            suffix=_filter_value(configuration, "suffix"),
        )
        for configuration in found.get("QueueConfigurations", [])
    ]
    others = found.get("TopicConfigurations") or found.get("LambdaFunctionConfigurations")
    eventbridge = "EventBridgeConfiguration" in found
    if not queues and not others and not eventbridge:
        return None
    return {**attributes, "eventbridge": eventbridge, "queue": queues}


_READERS = {
    fs.BUCKET: _bucket,
    fs.PUBLIC_ACCESS_BLOCK: _public_access_block,
    fs.ENCRYPTION: _encryption,
    fs.CORS: _cors,
    fs.QUEUE: _queue,
    fs.QUEUE_POLICY: _queue_policy,
    fs.NOTIFICATION: _notification,
    database.CLUSTER: database.read_cluster,
}


def read_actual(record: ResourceRecord, region: str) -> dict[str, Any] | None:
    """The resource's attributes as the emulator has them now, or None when it was deleted outside Terraform."""
    reader = _READERS.get(record.type)
    if reader is None:  # random_pet lives only in state
        return dict(record.attributes)
    try:
        return reader(dict(record.attributes), region)
    except ClientError as exc:
        if error_code(exc) in GONE_CODES:
            return None
        raise ResourceOperationError(f"refreshing {record.address}: {error_code(exc)}") from exc
