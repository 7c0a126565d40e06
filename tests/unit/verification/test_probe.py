"""The live wiring probe in moto: a real event comes through; nothing is left behind on any path."""

from __future__ import annotations

import json
from typing import Any
from unittest.mock import MagicMock

import pytest
from botocore.exceptions import ClientError

from tests.unit.verification.conftest import NAME, Wiring
from wandb_deployer.errors import TransientAwsError
from wandb_deployer.verification import PROBE_PREFIX, probe_wiring

pytestmark = pytest.mark.unit

WANDB_UPLOAD_EVENT = {
    "Records": [
        {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": NAME}, "object": {"key": "wandb/run-1/files/output.log"}},
        }
    ]
}
TEST_EVENT = {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": NAME}


def objects_left(wiring: Wiring) -> list[str]:
    versions = wiring.s3.list_object_versions(Bucket=NAME)
    return [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers", [])]


def bodies_left(wiring: Wiring) -> list[dict[str, Any]]:
    """Messages in the queue, without the s3:TestEvent S3 (and moto) sends when a notification is configured."""
    received = wiring.sqs.receive_message(QueueUrl=wiring.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    bodies = [json.loads(m["Body"]) for m in received.get("Messages", [])]
    return [b for b in bodies if b.get("Event") != "s3:TestEvent"]


def probe(wiring: Wiring, s3: Any = None, sqs: Any = None, timeout: float = 5) -> Any:
    return probe_wiring(
        bucket=NAME, queue_url=wiring.queue_url, s3=s3 or wiring.s3, sqs=sqs or wiring.sqs, timeout_seconds=timeout
    )


def test_probe_receives_its_event_and_cleans_up(wiring: Wiring) -> None:
    assert probe(wiring) is None
    assert objects_left(wiring) == []
    assert bodies_left(wiring) == []


def test_probe_leaves_other_messages_for_wandb(wiring: Wiring) -> None:
    wiring.sqs.purge_queue(QueueUrl=wiring.queue_url)
    for body in (WANDB_UPLOAD_EVENT, TEST_EVENT, "not json"):
        wiring.sqs.send_message(QueueUrl=wiring.queue_url, MessageBody=json.dumps(body) if body != "not json" else body)
    assert probe(wiring) is None
    received = wiring.sqs.receive_message(QueueUrl=wiring.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    left = sorted(m["Body"] for m in received.get("Messages", []))
    assert left == sorted([json.dumps(WANDB_UPLOAD_EVENT), json.dumps(TEST_EVENT), "not json"])  # visible again at once


def test_probe_in_a_versioned_bucket_leaves_no_versions(wiring: Wiring) -> None:
    wiring.s3.put_bucket_versioning(Bucket=NAME, VersioningConfiguration={"Status": "Enabled"})
    assert probe(wiring) is None
    assert objects_left(wiring) == []


def test_probe_without_notification_reports_no_event(wiring: Wiring) -> None:
    wiring.s3.put_bucket_notification_configuration(Bucket=NAME, NotificationConfiguration={})
    found = probe(wiring, timeout=1)
    assert found is not None
    assert (found.code, found.severity) == ("PROBE_NO_EVENT", "error")
    assert PROBE_PREFIX in found.message
    assert objects_left(wiring) == []
    assert bodies_left(wiring) == []


def test_a_missing_event_on_a_queue_wandb_reads_is_only_a_warning(wiring: Wiring) -> None:
    # W&B (legacy generation: bucket_queue = sqs://<queue>) may receive and delete the probe's event first.
    wiring.s3.put_bucket_notification_configuration(Bucket=NAME, NotificationConfiguration={})
    found = probe_wiring(
        bucket=NAME, queue_url=wiring.queue_url, s3=wiring.s3, sqs=wiring.sqs, timeout_seconds=1, wandb_reads_queue=True
    )
    assert found is not None
    assert (found.code, found.severity) == ("PROBE_NO_EVENT", "warning")
    assert "W&B reads this queue" in found.message


def test_probe_ignores_events_for_other_keys(wiring: Wiring) -> None:
    wiring.set_notification(
        {
            "QueueArn": wiring.sqs.get_queue_attributes(QueueUrl=wiring.queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"],
            "Events": ["s3:ObjectCreated:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "media/"}]}},
        }
    )
    wiring.s3.put_object(Bucket=NAME, Key="media/other.png", Body=b"x")  # an event that is not the probe's
    assert probe(wiring, timeout=1) is not None
    assert [b["Records"][0]["s3"]["object"]["key"] for b in bodies_left(wiring)] == ["media%2Fother.png"]


def test_probe_removes_its_object_when_receiving_fails(wiring: Wiring) -> None:
    sqs = MagicMock(wraps=wiring.sqs)
    sqs.receive_message.side_effect = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "ReceiveMessage",
    )
    with pytest.raises(TransientAwsError):
        probe(wiring, sqs=sqs)
    assert objects_left(wiring) == []
