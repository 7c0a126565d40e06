"""Whether W&B consumes its file-storage queue: the age of the oldest message and the visible backlog, as CloudWatch
reports them for the queue (AWS/SQS `ApproximateAgeOfOldestMessage`, `ApproximateNumberOfMessagesVisible`, dimension
`QueueName`; SQS publishes them every minute while the queue is active).

Checked only where W&B reads the queue (`queue_use.wandb_reads_queue`). A queue W&B reads empties within seconds; old
messages or a large backlog mean uploaded files never reach W&B. Pure library: the caller passes the client.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wandb_deployer.states import Finding
from wandb_deployer.verification.aws_calls import aws_call
from wandb_deployer.verification.findings import finding

OLDEST_MESSAGE_LIMIT_SECONDS = 900  # a message older than this was not consumed
VISIBLE_BACKLOG_LIMIT = 10_000  # this many waiting messages: W&B does not keep up
WINDOW_SECONDS = 900  # how far back to look for the newest datapoint (the metrics arrive a few minutes late)
PERIOD_SECONDS = 60
_METRICS = {"age": "ApproximateAgeOfOldestMessage", "visible": "ApproximateNumberOfMessagesVisible"}


def _query(query_id: str, metric: str, queue_name: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": "AWS/SQS",
                "MetricName": metric,
                "Dimensions": [{"Name": "QueueName", "Value": queue_name}],
            },
            "Period": PERIOD_SECONDS,
            "Stat": "Maximum",
        },
        "ReturnData": True,
    }


def latest_queue_metrics(*, queue_name: str, cloudwatch: Any, now: datetime | None = None) -> dict[str, float]:
    """The newest value of each metric within the window (a metric without datapoints is left out)."""
    end = now or datetime.now(UTC)
    answer = aws_call(
        "cloudwatch:GetMetricData",
        cloudwatch.get_metric_data,
        MetricDataQueries=[_query(query_id, metric, queue_name) for query_id, metric in _METRICS.items()],
        StartTime=end - timedelta(seconds=WINDOW_SECONDS),
        EndTime=end,
        ScanBy="TimestampDescending",
    )
    latest: dict[str, float] = {}
    for result in answer.get("MetricDataResults", []):
        pairs = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=False), reverse=True)
        if pairs:
            latest[str(result["Id"])] = float(pairs[0][1])
    return latest


def queue_consumption_findings(*, queue_name: str, cloudwatch: Any, now: datetime | None = None) -> list[Finding]:
    """QUEUE_NOT_CONSUMED when the oldest message or the visible backlog passes its limit; empty otherwise (also when
    CloudWatch has no datapoints yet: nothing to say)."""
    latest = latest_queue_metrics(queue_name=queue_name, cloudwatch=cloudwatch, now=now)
    age, visible = latest.get("age"), latest.get("visible")
    too_old = age is not None and age >= OLDEST_MESSAGE_LIMIT_SECONDS
    too_many = visible is not None and visible >= VISIBLE_BACKLOG_LIMIT
    if not (too_old or too_many):
        return []
    age_text = f"{age:.0f} s" if age is not None else "unknown"
    visible_text = f"{visible:.0f}" if visible is not None else "unknown"
    message = (
        f"queue {queue_name}: oldest message {age_text} old (limit {OLDEST_MESSAGE_LIMIT_SECONDS} s), "
        f"{visible_text} message(s) waiting (limit {VISIBLE_BACKLOG_LIMIT})"
    )
    return [finding("QUEUE_NOT_CONSUMED", message)]
