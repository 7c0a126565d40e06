"""Creating the stack's data resources in the emulator: buckets, tables, topics, queues, buses, keys, parameters, logs.

Each creator takes the stack (for resolving properties and naming), the logical id and the template resource, and
returns what it created: the Ref value and the GetAtt attributes.
"""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from wbd.sandbox.emulator import emulator_client
from wbd.sandbox.stack_records import ProvisionedResource

if TYPE_CHECKING:
    from wbd.sandbox.provisioning import Stack

_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "FifoQueue",
    "ContentBasedDeduplication",
    "SqsManagedSseEnabled",
)


def bucket(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    s3 = emulator_client("s3")
    name = props.get("BucketName") or stack.physical_name(logical_id, 63, lower=True)
    s3.create_bucket(Bucket=name)
    if "VersioningConfiguration" in props:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration=props["VersioningConfiguration"])
    rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
    if rules:
        api_rules = [
            {"ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"]}
            | ({"BucketKeyEnabled": bool(rule["BucketKeyEnabled"])} if "BucketKeyEnabled" in rule else {})
            for rule in rules
            if "ServerSideEncryptionByDefault" in rule
        ]
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": api_rules})
    if "PublicAccessBlockConfiguration" in props:
        s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"])
    attributes = {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.{stack.region}.amazonaws.com",
    }
    return ProvisionedResource(logical_id, resource["Type"], name, attributes)


def table(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    name = props.get("TableName") or stack.physical_name(logical_id, 255)
    request: dict[str, Any] = {
        key: props[key]
        for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")
        if key in props
    }
    request["BillingMode"] = props.get("BillingMode", "PROVISIONED")
    if "ProvisionedThroughput" in props:
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    dynamodb = emulator_client("dynamodb")
    table = dynamodb.create_table(TableName=name, **request)["TableDescription"]
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)
    attributes = {
        "Arn": table["TableArn"],
        "StreamArn": table.get("LatestStreamArn", f"{table['TableArn']}/stream/none"),
    }
    return ProvisionedResource(logical_id, resource["Type"], name, attributes)


def simple_table(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    declaration = {
        "Type": resource["Type"],
        "Properties": {
            "TableName": props.get("TableName") or stack.physical_name(logical_id, 255),
            "KeySchema": [{"AttributeName": key["Name"], "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": key["Name"], "AttributeType": kind}],
            "BillingMode": "PAY_PER_REQUEST",
        },
    }
    return table(stack, logical_id, declaration)


def topic(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    name = props.get("TopicName") or stack.physical_name(logical_id, 256)
    attributes = {"KmsMasterKeyId": props["KmsMasterKeyId"]} if props.get("KmsMasterKeyId") else {}
    arn = emulator_client("sns").create_topic(Name=name, Attributes=attributes)["TopicArn"]
    return ProvisionedResource(logical_id, resource["Type"], arn, {"TopicArn": arn, "TopicName": name})


def queue(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    fifo = str(props.get("FifoQueue", "")).lower() == "true"
    name = props.get("QueueName") or stack.physical_name(logical_id, 75 if fifo else 80)
    if fifo and not name.endswith(".fifo"):
        name += ".fifo"
    attributes = {
        key: str(props[key]).lower() if isinstance(props[key], bool) else str(props[key])
        for key in _QUEUE_ATTRIBUTES
        if key in props
    }
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    sqs = emulator_client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return ProvisionedResource(logical_id, resource["Type"], url, {"Arn": arn, "QueueName": name, "QueueUrl": url})


def event_bus(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    name = stack.props(resource)["Name"]
    arn = emulator_client("events").create_event_bus(Name=name)["EventBusArn"]
    return ProvisionedResource(logical_id, resource["Type"], name, {"Arn": arn, "Name": name})


def kms_key(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    request: dict[str, Any] = {key: props[key] for key in ("Description", "KeyUsage", "KeySpec") if key in props}
    if "KeyPolicy" in props:
        request["Policy"] = json.dumps(props["KeyPolicy"])
    kms = emulator_client("kms")
    key = kms.create_key(**request)["KeyMetadata"]
    if props.get("EnableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return ProvisionedResource(logical_id, resource["Type"], key["KeyId"], {"Arn": key["Arn"], "KeyId": key["KeyId"]})


def kms_alias(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    emulator_client("kms").create_alias(AliasName=props["AliasName"], TargetKeyId=props["TargetKeyId"])
    return ProvisionedResource(logical_id, resource["Type"], props["AliasName"])


def parameter(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    name = props.get("Name") or f"CFN-{logical_id}-{uuid.uuid4().hex[:12].upper()}"
    request: dict[str, Any] = {"Name": name, "Value": str(props["Value"]), "Type": props.get("Type", "String")}
    for key in ("Description", "Tier", "AllowedPattern", "DataType"):
        if key in props:
            request[key] = props[key]
    if props.get("Tags"):
        request["Tags"] = [{"Key": key, "Value": str(value)} for key, value in props["Tags"].items()]
    emulator_client("ssm").put_parameter(**request)
    attributes = {"Type": request["Type"], "Value": request["Value"]}
    return ProvisionedResource(logical_id, resource["Type"], name, attributes)


def log_group(stack: Stack, logical_id: str, resource: dict[str, Any]) -> ProvisionedResource:
    props = stack.props(resource)
    name = props.get("LogGroupName") or stack.physical_name(logical_id, 512)
    logs = emulator_client("logs")
    logs.create_log_group(logGroupName=name)
    if "RetentionInDays" in props:
        logs.put_retention_policy(logGroupName=name, retentionInDays=int(props["RetentionInDays"]))
    return ProvisionedResource(logical_id, resource["Type"], name, {"Arn": stack.arn("logs", f"log-group:{name}:*")})
