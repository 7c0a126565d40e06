"""CloudWatch's AWS/SQS metrics, emulated: moto's CloudWatch knows only what was put into it, so each GetMetricData
that asks for a queue's `ApproximateAgeOfOldestMessage` or `ApproximateNumberOfMessagesVisible` (dimension
`QueueName`) first records the queue's current value, read from moto's SQS backend, as SQS publishes it every minute.

Ages are in sandbox time: real seconds times the sandbox's time scale, as Wait states and timeouts are compressed,
so a backlog nobody consumes for 10 real seconds at scale 100 is 1000 seconds old. For the same reason a queue's new
datapoint replaces its earlier ones (a sandbox minute passes in 0.6 real seconds at scale 100; otherwise a real
minute's maximum would hide a recovery).
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import patch

from moto.cloudwatch.models import CloudWatchBackend
from moto.sqs.models import sqs_backends

NAMESPACE = "AWS/SQS"
AGE = "ApproximateAgeOfOldestMessage"
VISIBLE = "ApproximateNumberOfMessagesVisible"


def queue_values(account_id: str, region: str, queue_name: str, time_scale: float) -> dict[str, float] | None:
    """The queue's current age of its oldest message (s) and visible messages, or None when it does not exist."""
    queue = sqs_backends[account_id][region].queues.get(queue_name)
    if queue is None:
        return None
    stamps: list[Any] = [getattr(message, "sent_timestamp", None) for message in queue._messages]
    sent = [float(stamp) for stamp in stamps if stamp is not None]
    now_ms = time.time() * 1000
    oldest = min(sent, default=None)
    age = 0.0 if oldest is None else max(0.0, (now_ms - oldest) / 1000 * time_scale)
    visible = sum(1 for message in queue._messages if message.visible and not message.delayed)
    return {AGE: age, VISIBLE: float(visible)}


def _queue_names(queries: list[dict[str, Any]]) -> set[str]:
    names = set()
    for query in queries:
        metric = query.get("MetricStat", {}).get("Metric", {})
        if metric.get("Namespace") != NAMESPACE or metric.get("MetricName") not in {AGE, VISIBLE}:
            continue
        for dimension in metric.get("Dimensions", []):
            if dimension.get("Name") == "QueueName":
                names.add(str(dimension.get("Value")))
    return names


def _about(datum: Any, queue_name: str) -> bool:
    """Whether a recorded datum is one of this emulation's for `queue_name`."""
    return (
        datum.namespace == NAMESPACE
        and datum.name in {AGE, VISIBLE}
        and any(d.name == "QueueName" and d.value == queue_name for d in datum.dimensions)
    )


def install_queue_metrics(patches: ExitStack, time_scale: float) -> None:
    """Patch moto's CloudWatch so GetMetricData sees the SQS metrics of the queues it asks about."""
    original = CloudWatchBackend.get_metric_data

    def get_metric_data(
        backend: CloudWatchBackend,
        queries: list[dict[str, Any]],
        start_time: datetime,
        end_time: datetime,
        **kwargs: Any,
    ) -> Any:
        # Inside the asked window (the caller's "now" may be a moment before this one).
        stamp = min(datetime.now(UTC).replace(tzinfo=end_time.tzinfo), end_time - timedelta(seconds=1))
        for name in _queue_names(queries):
            values = queue_values(backend.account_id, backend.region_name, name, time_scale)
            if values is None:
                continue
            backend.metric_data = [datum for datum in backend.metric_data if not _about(datum, name)]
            backend.put_metric_data(
                NAMESPACE,
                [
                    {
                        "MetricName": metric,
                        "Dimensions": [{"Name": "QueueName", "Value": name}],
                        "Value": value,
                        "Timestamp": stamp,
                        "Unit": "Seconds" if metric == AGE else "Count",
                    }
                    for metric, value in values.items()
                ],
            )
        return original(backend, queries, start_time, end_time, **kwargs)

    patches.enter_context(patch.object(CloudWatchBackend, "get_metric_data", get_metric_data))
