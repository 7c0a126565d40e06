"""Whether W&B consumes its file-storage queue: CloudWatch's AWS/SQS metrics of the queue against the limits; where the
module release makes W&B read the queue at all (the table read from the modules' sources)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import MagicMock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.unit.verification.conftest import REGION
from wandb_deployer.errors import TransientAwsError
from wandb_deployer.verification.queue_consumption import (
    OLDEST_MESSAGE_LIMIT_SECONDS,
    VISIBLE_BACKLOG_LIMIT,
    latest_queue_metrics,
    queue_consumption_findings,
)
from wandb_deployer.verification.queue_use import wandb_reads_queue
from wbd.sandbox.queue_metrics import install_queue_metrics

pytestmark = pytest.mark.unit

QUEUE = "wandb-file-storage-happy-pet"


@pytest.fixture
def cloudwatch() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("cloudwatch", region_name=REGION)


def publish(cloudwatch: Any, metric: str, value: float, minutes_ago: float = 1, queue: str = QUEUE) -> None:
    """A datapoint as SQS publishes it (moto accepts the AWS/ namespace that AWS reserves for itself)."""
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "QueueName", "Value": queue}],
                "Value": value,
                "Timestamp": datetime.now(UTC) - timedelta(minutes=minutes_ago),
            }
        ],
    )


def test_no_datapoints_is_nothing_to_say(cloudwatch: Any) -> None:
    assert queue_consumption_findings(queue_name=QUEUE, cloudwatch=cloudwatch) == []


def test_a_queue_that_empties_is_consumed(cloudwatch: Any) -> None:
    publish(cloudwatch, "ApproximateAgeOfOldestMessage", 4)
    publish(cloudwatch, "ApproximateNumberOfMessagesVisible", 12)
    assert queue_consumption_findings(queue_name=QUEUE, cloudwatch=cloudwatch) == []


def test_an_old_message_means_the_queue_is_not_consumed(cloudwatch: Any) -> None:
    publish(cloudwatch, "ApproximateAgeOfOldestMessage", OLDEST_MESSAGE_LIMIT_SECONDS + 300)
    publish(cloudwatch, "ApproximateNumberOfMessagesVisible", 3)
    (found,) = queue_consumption_findings(queue_name=QUEUE, cloudwatch=cloudwatch)
    assert (found.code, found.severity) == ("QUEUE_NOT_CONSUMED", "error")
    assert f"oldest message {OLDEST_MESSAGE_LIMIT_SECONDS + 300} s old" in found.message
    assert "3 message(s) waiting" in found.message and QUEUE in found.message


def test_a_large_backlog_means_w_and_b_does_not_keep_up(cloudwatch: Any) -> None:
    publish(cloudwatch, "ApproximateNumberOfMessagesVisible", VISIBLE_BACKLOG_LIMIT)
    (found,) = queue_consumption_findings(queue_name=QUEUE, cloudwatch=cloudwatch)
    assert "oldest message unknown old" in found.message and f"{VISIBLE_BACKLOG_LIMIT} message(s)" in found.message


def test_the_newest_datapoint_decides_and_other_queues_do_not_count(cloudwatch: Any) -> None:
    publish(cloudwatch, "ApproximateAgeOfOldestMessage", OLDEST_MESSAGE_LIMIT_SECONDS * 2, minutes_ago=10)
    publish(cloudwatch, "ApproximateAgeOfOldestMessage", 2, minutes_ago=2)
    publish(cloudwatch, "ApproximateAgeOfOldestMessage", OLDEST_MESSAGE_LIMIT_SECONDS * 3, queue="someone-elses")
    assert latest_queue_metrics(queue_name=QUEUE, cloudwatch=cloudwatch) == {"age": 2.0}
    assert queue_consumption_findings(queue_name=QUEUE, cloudwatch=cloudwatch) == []


def test_throttled_metrics_are_retried() -> None:
    error = ClientError({"Error": {"Code": "Throttling", "Message": "slow down"}}, "GetMetricData")
    with pytest.raises(TransientAwsError):
        queue_consumption_findings(queue_name=QUEUE, cloudwatch=MagicMock(get_metric_data=MagicMock(side_effect=error)))


# -- the sandbox's emulation of the metrics (it serves the e2e tests) -----------------------------------------------
def test_the_sandbox_reports_a_queues_backlog_and_age_in_sandbox_time() -> None:
    with mock_aws(), ExitStack() as patches:
        install_queue_metrics(patches, time_scale=1000.0)
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        for body in ("a", "b"):
            sqs.send_message(QueueUrl=url, MessageBody=body)
        cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        latest = latest_queue_metrics(queue_name=QUEUE, cloudwatch=cloudwatch)
        assert latest["visible"] == 2.0 and latest["age"] >= 0
        sqs.purge_queue(QueueUrl=url)
        assert latest_queue_metrics(queue_name=QUEUE, cloudwatch=cloudwatch) == {"age": 0.0, "visible": 0.0}


# -- which releases make W&B read the queue ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("generation", "module_version", "app_module_version", "reads"),
    [
        ("legacy", "1.0.0", "1.0.0", True),
        ("legacy", "2.8.0", "1.14.1", True),
        ("legacy", "3.4.2", "1.14.1", True),
        ("operator", "4.0.0", "", False),
        ("operator", "7.18.2", "", False),
        ("operator", "8.0.0", "", False),
        ("operator", "8.0.1", "", None),  # not a release read here: nothing is claimed
        ("legacy", "2.8.0", "2.0.0", None),
        ("legacy", "4.0.0", "1.14.1", None),
        ("operator", "3.4.2", "", None),
        ("operator", "latest", "", None),
        ("legacy", "2.0.5", "1.14.1", None),  # not a release of wandb/wandb/aws (the contract)
        ("legacy", "2.8.0", "1.14.2", None),  # not a release of wandb/wandb/kubernetes
    ],
)
def test_wandb_reads_the_queue_only_where_the_module_passes_it(
    generation: Any, module_version: str, app_module_version: str, reads: bool | None
) -> None:
    assert wandb_reads_queue(generation, module_version, app_module_version) is reads
