"""Capture the deployer's notifications in the sandbox: an SQS queue subscribed to the SNS topic (raw delivery)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from wandb_deployer.aws_clients import client
from wbd.sandbox import Sandbox


@dataclass
class NotificationInbox:
    """Every notification published to `NotificationsTopic` since `subscribe`, in arrival order."""

    queue_url: str
    received: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def subscribe(cls, sandbox: Sandbox, name: str = "e2e-notifications") -> NotificationInbox:
        sqs = client("sqs")
        queue_url = str(sqs.create_queue(QueueName=name)["QueueUrl"])
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        client("sns").subscribe(
            TopicArn=str(sandbox.physical("NotificationsTopic")),
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "true"},
        )
        return cls(queue_url=queue_url)

    def drain(self) -> list[dict[str, Any]]:
        """Receive what has arrived (without waiting); returns everything received so far."""
        sqs = client("sqs")
        while True:
            messages = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return list(self.received)
            for message in messages:
                self.received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

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
