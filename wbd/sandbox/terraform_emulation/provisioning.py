"""Creating, updating and deleting the modelled resources in the AWS emulator, then reading them back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from wbd.sandbox.terraform_emulation import database, eks
from wbd.sandbox.terraform_emulation import file_storage as fs
from wbd.sandbox.terraform_emulation.environment import emulator_client
from wbd.sandbox.terraform_emulation.errors import ResourceOperationError
from wbd.sandbox.terraform_emulation.refresh import GONE_CODES, error_code, queue_url, read_actual
from wbd.sandbox.terraform_emulation.state import ResourceRecord


def _queue_url_or_fail(name: str, region: str) -> str:
    url = queue_url(name, region)
    if url is None:
        raise ResourceOperationError(f"queue {name} does not exist")
    return url


def _put_bucket(attributes: dict[str, Any], region: str) -> None:
    s3 = emulator_client("s3", region)
    bucket_region = attributes.get("region") or region
    try:
        s3.head_bucket(Bucket=attributes["bucket"])
    except ClientError:
        extra = (
            {} if bucket_region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": bucket_region}}
        )
        s3.create_bucket(Bucket=attributes["bucket"], **extra)


def _put_public_access_block(attributes: dict[str, Any], region: str) -> None:
    emulator_client("s3", region).put_public_access_block(
        Bucket=attributes["bucket"],
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": attributes["block_public_acls"],
            "BlockPublicPolicy": attributes["block_public_policy"],
            "IgnorePublicAcls": attributes["ignore_public_acls"],
            "RestrictPublicBuckets": attributes["restrict_public_buckets"],
        },
    )


def _put_encryption(attributes: dict[str, Any], region: str) -> None:
    rules = [
        {
            "ApplyServerSideEncryptionByDefault": {
                "SSEAlgorithm": rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
            },
            "BucketKeyEnabled": rule["bucket_key_enabled"],
        }
        for rule in attributes["rule"]
    ]
    emulator_client("s3", region).put_bucket_encryption(
        Bucket=attributes["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )


def _put_cors(attributes: dict[str, Any], region: str) -> None:
    rules = [
        {
            "AllowedHeaders": rule["allowed_headers"],
            "AllowedMethods": rule["allowed_methods"],
            "AllowedOrigins": rule["allowed_origins"],
            "ExposeHeaders": rule["expose_headers"],
            "MaxAgeSeconds": rule["max_age_seconds"],
        }
        for rule in attributes["cors_rule"]
    ]
    emulator_client("s3", region).put_bucket_cors(Bucket=attributes["bucket"], CORSConfiguration={"CORSRules": rules})


def _put_queue(attributes: dict[str, Any], region: str) -> None:
    sqs = emulator_client("sqs", region)
    settings = {"ReceiveMessageWaitTimeSeconds": str(attributes["receive_wait_time_seconds"])}
    url = queue_url(attributes["name"], region)
    if url is None:
        sqs.create_queue(QueueName=attributes["name"], Attributes=settings)
    else:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=settings)


def _policy_queue_name(attributes: dict[str, Any]) -> str:
    return str(json.loads(attributes["policy"])["Statement"][0]["Resource"]).rsplit(":", 1)[-1]


def _put_queue_policy(attributes: dict[str, Any], region: str) -> None:
    url = _queue_url_or_fail(_policy_queue_name(attributes), region)
    emulator_client("sqs", region).set_queue_attributes(QueueUrl=url, Attributes={"Policy": attributes["policy"]})


def _put_notification(attributes: dict[str, Any], region: str) -> None:
    configurations = []
    for queue in attributes["queue"]:
        configuration: dict[str, Any] = {"QueueArn": queue["queue_arn"], "Events": queue["events"]}
        rules = [
            {"Name": name, "Value": queue[f"filter_{name}"]} for name in ("prefix", "suffix") if queue[f"filter_{name}"]
        ]
        if rules:
            configuration["Filter"] = {"Key": {"FilterRules": rules}}
        configurations.append(configuration)
    emulator_client("s3", region).put_bucket_notification_configuration(
        Bucket=attributes["bucket"], NotificationConfiguration={"QueueConfigurations": configurations}
    )


def _delete_bucket(attributes: dict[str, Any], region: str) -> None:
    emulator_client("s3", region).delete_bucket(Bucket=attributes["bucket"])


def _delete_public_access_block(attributes: dict[str, Any], region: str) -> None:
    emulator_client("s3", region).delete_public_access_block(Bucket=attributes["bucket"])


def _delete_encryption(attributes: dict[str, Any], region: str) -> None:
    emulator_client("s3", region).delete_bucket_encryption(Bucket=attributes["bucket"])


def _delete_cors(attributes: dict[str, Any], region: str) -> None:
    emulator_client("s3", region).delete_bucket_cors(Bucket=attributes["bucket"])


def _delete_queue(attributes: dict[str, Any], region: str) -> None:
    url = queue_url(attributes["name"], region)
    if url is not None:
        emulator_client("sqs", region).delete_queue(QueueUrl=url)


def _delete_queue_policy(attributes: dict[str, Any], region: str) -> None:
    url = queue_url(_policy_queue_name(attributes), region)
    if url is not None:
        emulator_client("sqs", region).set_queue_attributes(QueueUrl=url, Attributes={"Policy": ""})


def _delete_notification(attributes: dict[str, Any], region: str) -> None:
    emulator_client("s3", region).put_bucket_notification_configuration(
        Bucket=attributes["bucket"], NotificationConfiguration={}
    )


def _nothing(attributes: dict[str, Any], region: str) -> None:
    """random_pet exists only in state."""


Operation = Callable[[dict[str, Any], str], None]
_PUT: dict[str, Operation] = {
    fs.PET: _nothing,
    fs.MODULE_INPUTS: _nothing,
    fs.BUCKET: _put_bucket,
    fs.PUBLIC_ACCESS_BLOCK: _put_public_access_block,
    fs.ENCRYPTION: _put_encryption,
    fs.CORS: _put_cors,
    fs.QUEUE: _put_queue,
    fs.QUEUE_POLICY: _put_queue_policy,
    fs.NOTIFICATION: _put_notification,
    database.CLUSTER: database.put_cluster,
}
_DELETE: dict[str, Operation] = {
    fs.PET: _nothing,
    fs.MODULE_INPUTS: _nothing,
    fs.BUCKET: _delete_bucket,
    fs.PUBLIC_ACCESS_BLOCK: _delete_public_access_block,
    fs.ENCRYPTION: _delete_encryption,
    fs.CORS: _delete_cors,
    fs.QUEUE: _delete_queue,
    fs.QUEUE_POLICY: _delete_queue_policy,
    fs.NOTIFICATION: _delete_notification,
    database.CLUSTER: database.delete_cluster,
}


def _state_only(record: ResourceRecord) -> Operation:
    """The EKS plan-shape emulation's records live in state only (eks.py); any other type is a bug."""
    if record.type not in eks.TYPES:
        raise KeyError(record.type)
    return _nothing


def put_resource(record: ResourceRecord, region: str) -> ResourceRecord:
    """Create or update the resource to the record's attributes; returns it as read back (computed values known)."""
    try:
        (_PUT.get(record.type) or _state_only(record))(dict(record.attributes), region)
        actual = read_actual(record, region)
    except ClientError as exc:
        raise ResourceOperationError(f"creating or updating {record.address}: {error_code(exc)}") from exc
    if actual is None:
        raise ResourceOperationError(f"{record.address} cannot be read back after it was written")
    return record.with_attributes(actual)


def delete_resource(record: ResourceRecord, region: str) -> None:
    """Delete the resource; one already gone counts as deleted (as the AWS provider does)."""
    try:
        (_DELETE.get(record.type) or _state_only(record))(dict(record.attributes), region)
    except ClientError as exc:
        if error_code(exc) in GONE_CODES:
            return
        raise ResourceOperationError(f"deleting {record.address}: {error_code(exc)}") from exc
