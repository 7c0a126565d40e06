"""Capture the deployer's notifications in the sandbox: an SQS queue subscribed to the SNS topic (raw delivery)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from wandb_deployer.aws_clients import client
from wbd.sandbox import Sandbox


def queue_on_topic(sandbox: Sandbox, name: str) -> str:
    """A queue subscribed to the deployer's SNS topic with raw delivery (as a subscriber would); returns its URL."""
    sqs = client("sqs")
    queue_url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
    client("sns").subscribe(
        TopicArn=str(sandbox.physical("NotificationsTopic")),
        Protocol="sqs",
        Endpoint=queue_arn(queue_url),
        Attributes={"RawMessageDelivery": "true"},
    )
    return queue_url


def queue_arn(queue_url: str) -> str:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return str(attributes["QueueArn"])


def receive_all(queue_url: str) -> list[str]:
    """The bodies of every message delivered so far (received and deleted), oldest first."""
    sqs = client("sqs")
    bodies: list[str] = []
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


@dataclass
class NotificationInbox:
    """Every notification published to `NotificationsTopic` since `subscribe`, in arrival order."""

    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def subscribe(cls, sandbox: Sandbox, name: str = "e2e-notifications") -> NotificationInbox:
        return cls(queue_url=queue_on_topic(sandbox, name))

    def drain(self) -> list[dict[str, Any]]:
        """Receive what has arrived (without waiting); returns everything received so far."""
        self.received += [json.loads(body) for body in receive_all(self.queue_url)]
        return list(self.received)

    def events(self, deployment: str | None = None) -> list[str]:
        """The `event` names received (optionally of one deployment), in order."""
        return [n["event"] for n in self.drain() if deployment is None or n["deployment"] == deployment]

    def wait_for(self, event: str, count: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Poll until `count` notifications named `event` arrived; returns them."""
        deadline = time.monotonic() + timeout
        while True:
            found = [n for n in self.drain() if n["event"] == event]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(found)} of {count} {event!r} notifications after {timeout} s")
            time.sleep(0.05)
