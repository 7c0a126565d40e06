"""Notifications reach both SNS and EventBridge, scrubbed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import Stubber

from tests.unit.runs.conftest import REGION
from tests.unit.runs.secrets import FAKE_LICENSE
from wandb_deployer.errors import TransientAwsError
from wandb_deployer.runs import MASK
from wandb_deployer.runs.notify import notify

pytestmark = pytest.mark.unit

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def channels(aws):
    """A topic with a queue subscribed (to read what SNS published) and a bus with a rule into a second queue."""
    sns, sqs, events = (boto3.client(name, region_name=REGION) for name in ("sns", "sqs", "events"))
    topic = sns.create_topic(Name="wbd-notifications")["TopicArn"]
    topic_queue = sqs.create_queue(QueueName="topic-reader")["QueueUrl"]
    topic_queue_arn = sqs.get_queue_attributes(QueueUrl=topic_queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=topic_queue_arn, Attributes={"RawMessageDelivery": "true"})
    events.create_event_bus(Name="wbd-bus")
    bus_queue = sqs.create_queue(QueueName="bus-reader")["QueueUrl"]
    bus_queue_arn = sqs.get_queue_attributes(QueueUrl=bus_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName="wbd-bus", EventPattern=json.dumps({"source": ["wandb-deployer"]}))
    events.put_targets(Rule="all", EventBusName="wbd-bus", Targets=[{"Id": "q", "Arn": bus_queue_arn}])
    return {
        "sns": sns,
        "events": events,
        "sqs": sqs,
        "topic": topic,
        "topic_queue": topic_queue,
        "bus_queue": bus_queue,
    }


def _messages(sqs, queue_url: str) -> list[str]:
    return [m["Body"] for m in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])]


def test_notification_goes_to_the_topic_and_the_bus(channels):
    notify(
        event="Run Failed",
        deployment="prod",
        detail={"error": "HealthCheckFailedError", "cause": f"license {FAKE_LICENSE} expired", "license": FAKE_LICENSE},
        sns=channels["sns"],
        events=channels["events"],
        topic_arn=channels["topic"],
        bus_name="wbd-bus",
        now=NOW,
    )

    [published] = _messages(channels["sqs"], channels["topic_queue"])
    message = json.loads(published)
    assert message["event"] == "Run Failed" and message["deployment"] == "prod"
    assert message["detail"] == {"error": "HealthCheckFailedError", "cause": f"license {MASK} expired", "license": MASK}
    [delivered] = _messages(channels["sqs"], channels["bus_queue"])
    event = json.loads(delivered)
    assert event["source"] == "wandb-deployer" and event["detail-type"] == "Run Failed"
    assert event["detail"]["detail"]["error"] == "HealthCheckFailedError"
    assert FAKE_LICENSE not in published + delivered


def test_empty_topic_or_bus_skips_that_channel(channels):
    notify(
        event="Drift Resolved",
        deployment="prod",
        detail={},
        sns=channels["sns"],
        events=channels["events"],
        topic_arn="",
        bus_name="wbd-bus",
    )

    assert _messages(channels["sqs"], channels["topic_queue"]) == []
    assert len(_messages(channels["sqs"], channels["bus_queue"])) == 1


def test_failed_event_entry_is_a_retryable_error(channels):
    with Stubber(channels["events"]) as stubber:
        stubber.add_response(
            "put_events",
            {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]},
        )
        with pytest.raises(TransientAwsError, match="ThrottlingException"):
            notify(
                event="Run Started",
                deployment="prod",
                detail={},
                sns=channels["sns"],
                events=channels["events"],
                topic_arn="",
                bus_name="wbd-bus",
            )


def test_unknown_event_is_refused(channels):
    with pytest.raises(ValueError, match="unknown notification"):
        notify(
            event="Something Else",  # type: ignore[arg-type]
            deployment="prod",
            detail={},
            sns=channels["sns"],
            events=channels["events"],
            topic_arn=channels["topic"],
            bus_name="wbd-bus",
        )
