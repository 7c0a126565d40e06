"""The live wiring probe: put an object in the W&B bucket and wait for its ObjectCreated event in the queue.

Configuration can look right and still not deliver (a policy condition S3 does not satisfy, an SCP, a KMS key S3 cannot
use), so the probe sends one real event. It writes only under a reserved prefix, deletes only the messages about its own
object, makes other messages visible again at once, and removes its object on every path.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger

from wandb_deployer.states import Finding
from wandb_deployer.verification.aws_calls import aws_call
from wandb_deployer.verification.findings import finding

logger = Logger(child=True)

PROBE_PREFIX = ".wandb-deployer-probe/"
_MAX_WAIT_SECONDS = 20  # SQS long polling maximum


def _is_probe_event(body: str, bucket: str, key: str) -> bool:
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return False
    if not isinstance(event, dict):
        return False
    for record in event.get("Records", []) if isinstance(event.get("Records"), list) else []:
        s3 = record.get("s3", {}) if isinstance(record, dict) else {}
        if (
            str(record.get("eventName", "")).startswith("ObjectCreated:")
            and s3.get("bucket", {}).get("name") == bucket
            and unquote_plus(str(s3.get("object", {}).get("key", ""))) == key
        ):
            return True
    return False


def _await_event(*, sqs: Any, queue_url: str, bucket: str, key: str, deadline: float) -> bool:
    """Receive until our event arrives or the deadline passes; only our messages are deleted."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        received = aws_call(
            "sqs:ReceiveMessage",
            sqs.receive_message,
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=max(0, min(_MAX_WAIT_SECONDS, int(remaining))),
            VisibilityTimeout=30,
        )
        found = False
        for message in received.get("Messages", []):
            handle = message["ReceiptHandle"]
            if _is_probe_event(str(message.get("Body", "")), bucket, key):
                aws_call("sqs:DeleteMessage", sqs.delete_message, QueueUrl=queue_url, ReceiptHandle=handle)
                found = True
            else:
                # Not ours (a W&B upload, an s3:TestEvent): hand it back to its consumer immediately.
                aws_call(
                    "sqs:ChangeMessageVisibility",
                    sqs.change_message_visibility,
                    QueueUrl=queue_url,
                    ReceiptHandle=handle,
                    VisibilityTimeout=0,
                )
        if found:
            return True
        if not received.get("Messages"):
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def probe_wiring(
    *, bucket: str, queue_url: str, s3: Any, sqs: Any, timeout_seconds: float = 20, wandb_reads_queue: bool = False
) -> Finding | None:
    """Send one real ObjectCreated event through the wiring; a PROBE_NO_EVENT finding when none arrives in time.

    Where W&B reads the queue (`wandb_reads_queue`), W&B may receive and delete the probe's event first: a missing
    event then proves nothing, and the finding is a warning, not an error."""
    key = f"{PROBE_PREFIX}{uuid.uuid4()}"
    deadline = time.monotonic() + timeout_seconds
    written: dict[str, Any] = {}
    try:
        written = aws_call(
            "s3:PutObject",
            s3.put_object,
            Bucket=bucket,
            Key=key,
            Body=b"wandb-deployer wiring probe; safe to delete\n",
            ContentType="text/plain",
        )
        arrived = _await_event(sqs=sqs, queue_url=queue_url, bucket=bucket, key=key, deadline=deadline)
    finally:
        # With the version id the object is gone for good, even in a versioned bucket (no delete marker left behind).
        version = {"VersionId": written["VersionId"]} if written.get("VersionId") else {}
        aws_call(
            "s3:DeleteObject",
            s3.delete_object,
            not_found=("NoSuchKey", "NoSuchBucket", "NoSuchVersion"),
            Bucket=bucket,
            Key=key,
            **version,
        )
    logger.info("wiring probe finished", bucket=bucket, probe_key=key, arrived=arrived)
    if arrived:
        return None
    message = f"no ObjectCreated event for s3://{bucket}/{key} within {timeout_seconds:g} s"
    if wandb_reads_queue:
        return finding("PROBE_NO_EVENT", f"{message}; W&B reads this queue and may have taken it", severity="warning")
    return finding("PROBE_NO_EVENT", message)
