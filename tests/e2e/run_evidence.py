"""What the e2e tests look at after runs: the notifications people and automation received, and every place a secret
could leak to (execution history, function and build logs, artifacts, notifications)."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.notification_capture import queue_arn, queue_on_topic, receive_all
from wandb_deployer.aws_clients import client
from wbd.sandbox_driver import DEPLOY_MACHINE, SandboxDriver

# The only artifact allowed to hold the license: Terraform saves variable values in its saved plan, and apply needs
# that file byte for byte. The deployer keeps it KMS-encrypted under the deployer key (checked by the secrets test).
SAVED_PLAN = "plan.tfplan"


def unique_license() -> str:
    """A fake license in the shape of a W&B license (a compact JWS) that no other text can contain by chance."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    marker = uuid.uuid4().hex
    return ".".join([part({"alg": "none", "typ": "JWT"}), part({"sub": f"e2e-{marker}"}), f"sig{marker}"])


def license_markers(license_value: str) -> list[str]:
    """The whole license and its distinctive parts (payload, signature): a leak of either counts."""
    return [license_value, *license_value.split(".")[1:]]


@dataclass
class NotificationCapture:
    """SQS queues subscribed to the deployer's SNS topic and to a rule on its EventBridge bus (as subscribers are)."""

    topic_queue_url: str
    bus_queue_url: str
    from_topic: list[dict[str, Any]] = field(default_factory=list)
    from_bus: list[dict[str, Any]] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)

    @classmethod
    def subscribe(cls, deployer: SandboxDriver) -> NotificationCapture:
        topic_queue = queue_on_topic(deployer.sandbox, "e2e-notifications-topic")
        bus_queue = str(client("sqs").create_queue(QueueName="e2e-notifications-bus")["QueueUrl"])
        bus = str(deployer.sandbox.physical("EventBus"))
        events = client("events")
        events.put_rule(
            Name="e2e-notifications", EventBusName=bus, EventPattern=json.dumps({"source": ["wandb-deployer"]})
        )
        events.put_targets(
            Rule="e2e-notifications", EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn(bus_queue)}]
        )
        return cls(topic_queue_url=topic_queue, bus_queue_url=bus_queue)

    def collect(self) -> None:
        """Move everything delivered so far into `from_topic` / `from_bus` (and `raw`, the bodies as received)."""
        for url, into in ((self.topic_queue_url, self.from_topic), (self.bus_queue_url, self.from_bus)):
            for body in receive_all(url):
                self.raw.append(body)
                into.append(json.loads(body))

    def wait_for_text(self, text: str, timeout: float = 10.0) -> bool:
        """True once a delivered message contains `text` (False after `timeout` s)."""
        deadline = time.monotonic() + timeout
        while True:
            self.collect()
            if any(text in body for body in self.raw):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)

    def events(self, name: str, deployment: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The `name` notifications of `deployment` as (topic messages, bus events), after waiting briefly for both."""
        deadline = time.monotonic() + 10
        while True:
            self.collect()
            topic = [m for m in self.from_topic if m.get("event") == name and m.get("deployment") == deployment]
            bus = [
                e
                for e in self.from_bus
                if e.get("detail-type") == name and e.get("detail", {}).get("deployment") == deployment
            ]
            if (topic and bus) or time.monotonic() > deadline:
                return topic, bus
            time.sleep(0.1)


def _readable(key: str, body: bytes) -> list[tuple[str, bytes]]:
    """An artifact and, when it is a zip (a workspace bundle), each of its members."""
    parts = [(key, body)]
    if body[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(body)) as bundle:
            parts += [(f"{key}!{name}", bundle.read(name)) for name in bundle.namelist()]
    return parts


def license_leaks(deployer: SandboxDriver, license_value: str, notifications: NotificationCapture | None) -> list[str]:
    """Where the license appears: execution histories, run history and every item of the deployments table, function
    and build logs, artifacts (except the saved plan), notifications. Returns the places (never the value); empty
    when it appears nowhere."""
    markers = license_markers(license_value)

    def leaks(text: str) -> bool:
        return any(marker in text for marker in markers)

    found: list[str] = []
    deployments: set[str] = set()
    for machine in (DEPLOY_MACHINE, "DriftStateMachine"):
        for execution in deployer.executions(machine):
            arn = str(execution["executionArn"])
            described = deployer.describe(arn)
            deployments.add(str(json.loads(described.get("input") or "{}").get("deployment", "")))
            if leaks(json.dumps(deployer.sandbox.history(arn), default=str) + json.dumps(described, default=str)):
                found.append(f"execution {arn}")
    for deployment in sorted(deployments - {""}):
        records = [run.model_dump(mode="json") for run in deployer.runs(deployment)]
        if leaks(json.dumps(records) + deployer.status(deployment).model_dump_json()):
            found.append(f"run history of {deployment}")
    table_items = [
        item
        for page in client("dynamodb").get_paginator("scan").paginate(TableName=deployer.table)
        for item in page.get("Items", [])
    ]
    if leaks(json.dumps(table_items)):  # config snapshots, write notes, upgrade answers, approvals, drift
        found.append("deployments table")
    if leaks(deployer.sandbox.all_logs()):
        found.append("function or build logs")
    for key, body in deployer.artifacts().items():
        if key.rsplit("/", 1)[-1] == SAVED_PLAN:
            continue
        for name, content in _readable(key, body):
            if leaks(content.decode("utf-8", errors="replace")):
                found.append(f"artifact {name}")
    if notifications is not None:
        notifications.collect()
        if any(leaks(body) for body in notifications.raw):
            found.append("notifications")
    return found
