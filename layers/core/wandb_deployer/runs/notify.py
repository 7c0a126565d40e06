"""Notifications: every noteworthy moment of a deployment goes to the SNS topic (people) and EventBridge (automation).

The detail is scrubbed like the run history before it leaves: nothing shaped like a license or an API key is sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal, get_args

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from wandb_deployer.errors import TransientAwsError
from wandb_deployer.runs import aws_failure, iso, scrub_secrets, utc_now

logger = Logger(child=True)

NotificationEvent = Literal[
    "Run Started",
    "Approval Needed",
    "Run Succeeded",
    "Run Failed",
    "Run Rejected",
    "Run Unchanged",
    "Drift Detected",
    "Drift Resolved",
    "Upgrade Rejected",
    "Upgrade Accepted",
    "Rollback Started",
    "Rollback Not Started",
    "License Expiring",
]
NOTIFICATION_EVENTS: tuple[str, ...] = get_args(NotificationEvent)
EVENT_SOURCE = "wandb-deployer"
_SUBJECT_LIMIT = 100


def notification_message(
    *, event: NotificationEvent, deployment: str, detail: Mapping[str, object], now: datetime | None = None
) -> dict[str, Any]:
    """The scrubbed JSON document both channels carry."""
    return {
        "event": event,
        "deployment": deployment,
        "at": iso(utc_now(now)),
        "detail": scrub_secrets(dict(detail)),
    }


def notify(
    *,
    event: NotificationEvent,
    deployment: str,
    detail: Mapping[str, object],
    sns: Any,
    events: Any,
    topic_arn: str,
    bus_name: str,
    now: datetime | None = None,
) -> None:
    """Publish `event` to the SNS topic and put it on the EventBridge bus (an empty topic or bus name skips that one).

    Raises TransientAwsError when EventBridge reports a failed entry (the ASL retries it by name).
    """
    if event not in NOTIFICATION_EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    message = json.dumps(notification_message(event=event, deployment=deployment, detail=detail, now=now), default=str)
    if topic_arn:
        subject = f"W&B deployer {deployment}: {event}"[:_SUBJECT_LIMIT]
        try:
            sns.publish(
                TopicArn=topic_arn,
                Subject=subject,
                Message=message,
                MessageAttributes={
                    "event": {"DataType": "String", "StringValue": event},
                    "deployment": {"DataType": "String", "StringValue": deployment},
                },
            )
        except ClientError as exc:
            raise aws_failure(exc, operation="Publish notification") from exc
    if bus_name:
        try:
            response = events.put_events(
                Entries=[
                    {
                        "Source": EVENT_SOURCE,
                        "DetailType": event,
                        "Detail": message,
                        "EventBusName": bus_name,
                        "Resources": [],
                    }
                ]
            )
        except ClientError as exc:
            raise aws_failure(exc, operation="PutEvents notification") from exc
        if response.get("FailedEntryCount", 0):
            entry = response.get("Entries", [{}])[0]
            logger.warning("notification event rejected", deployment=deployment, code=entry.get("ErrorCode"))
            raise TransientAwsError(f"EventBridge did not accept the {event!r} event: {entry.get('ErrorCode', '')}")
    logger.info("notification sent", deployment=deployment, notification=event, sns=bool(topic_arn), bus=bool(bus_name))
