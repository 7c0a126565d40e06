"""The database snapshot before a risky apply, against moto's RDS: taken, tagged, waited for, pruned; and each failure
AWS can answer becomes DatabaseSnapshotError (the run stops before apply), throttling stays retryable."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.faults import answer_call, fail_call
from wandb_deployer.errors import DatabaseSnapshotError, TransientAwsError
from wandb_deployer.runs.database_snapshot import TAG_KEY, prune_snapshots, snapshot_available, start_snapshot

pytestmark = pytest.mark.unit

CLUSTER = "wandb-prod"


@pytest.fixture
def rds() -> Iterator[Any]:
    with mock_aws():
        rds = boto3.client("rds", region_name="us-east-1")
        rds.create_db_cluster(
            DBClusterIdentifier=CLUSTER,
            Engine="aurora-mysql",
            MasterUsername="wandb",
            MasterUserPassword="not-a-real-password",
        )
        yield rds


def _tags(rds: Any, identifier: str) -> dict[str, str]:
    arn = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=identifier)["DBClusterSnapshots"][0][
        "DBClusterSnapshotArn"
    ]
    return {tag["Key"]: tag["Value"] for tag in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def test_a_snapshot_is_taken_of_the_cluster_tagged_with_the_deployment(rds: Any) -> None:
    arn = start_snapshot(rds=rds, cluster=CLUSTER, identifier="wbd-prod-run-1", deployment="prod")

    assert arn.endswith(":cluster-snapshot:wbd-prod-run-1")
    (snapshot,) = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier="wbd-prod-run-1")["DBClusterSnapshots"]
    assert snapshot["DBClusterIdentifier"] == CLUSTER
    assert snapshot["SnapshotType"] == "manual"
    assert _tags(rds, "wbd-prod-run-1") == {TAG_KEY: "prod"}
    assert snapshot_available(rds=rds, identifier="wbd-prod-run-1") is True


def test_a_missing_cluster_fails_the_snapshot(rds: Any) -> None:
    with pytest.raises(DatabaseSnapshotError, match="cluster gone"):
        start_snapshot(rds=rds, cluster="gone", identifier="wbd-prod-run-1", deployment="prod")


@pytest.mark.parametrize("code", ["AccessDenied", "DBClusterSnapshotAlreadyExistsFault", "InvalidDBClusterStateFault"])
def test_a_refused_snapshot_fails_with_what_aws_said(rds: Any, code: str) -> None:
    hit = fail_call(rds, "CreateDBClusterSnapshot", code)

    with pytest.raises(DatabaseSnapshotError, match=code):
        start_snapshot(rds=rds, cluster=CLUSTER, identifier="wbd-prod-run-1", deployment="prod")
    assert len(hit) == 1
    assert rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"] == []


def test_throttling_stays_retryable(rds: Any) -> None:
    fail_call(rds, "CreateDBClusterSnapshot", "Throttling")

    with pytest.raises(TransientAwsError):
        start_snapshot(rds=rds, cluster=CLUSTER, identifier="wbd-prod-run-1", deployment="prod")


def _answer_status(rds: Any, status: str) -> list[dict[str, Any]]:
    return answer_call(
        rds,
        "DescribeDBClusterSnapshots",
        {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": "wbd-prod-run-1", "Status": status}]},
    )


def test_a_snapshot_being_created_is_waited_for(rds: Any) -> None:
    start_snapshot(rds=rds, cluster=CLUSTER, identifier="wbd-prod-run-1", deployment="prod")
    hit = _answer_status(rds, "creating")

    assert snapshot_available(rds=rds, identifier="wbd-prod-run-1") is False
    assert len(hit) == 1


@pytest.mark.parametrize("status", ["failed", "deleting"])
def test_a_failed_snapshot_stops_the_run(rds: Any, status: str) -> None:
    _answer_status(rds, status)

    with pytest.raises(DatabaseSnapshotError, match=f"is {status}"):
        snapshot_available(rds=rds, identifier="wbd-prod-run-1")


def test_a_snapshot_that_is_gone_stops_the_run(rds: Any) -> None:
    with pytest.raises(DatabaseSnapshotError, match="does not exist"):
        snapshot_available(rds=rds, identifier="wbd-prod-never")


def _snapshot(rds: Any, identifier: str, tags: list[dict[str, str]] | None) -> None:
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier=identifier, DBClusterIdentifier=CLUSTER, **({"Tags": tags} if tags else {})
    )


def test_pruning_deletes_only_the_deployments_own_snapshots_past_retention(rds: Any) -> None:
    _snapshot(rds, "wbd-prod-old-1", [{"Key": TAG_KEY, "Value": "prod"}])
    _snapshot(rds, "wbd-prod-old-2", [{"Key": TAG_KEY, "Value": "prod"}])
    _snapshot(rds, "wbd-staging-old", [{"Key": TAG_KEY, "Value": "staging"}])
    _snapshot(rds, "taken-by-a-human", None)
    start_snapshot(rds=rds, cluster=CLUSTER, identifier="wbd-prod-now", deployment="prod")

    # Given every snapshot was taken "now", 15 days on they are all past a 14-day retention
    deleted = prune_snapshots(
        rds=rds,
        cluster=CLUSTER,
        deployment="prod",
        retention_days=14,
        keep="wbd-prod-now",
        now=datetime.now(UTC) + timedelta(days=15),
    )

    assert sorted(deleted) == ["wbd-prod-old-1", "wbd-prod-old-2"]
    manual = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert {s["DBClusterSnapshotIdentifier"] for s in manual} == {"wbd-staging-old", "taken-by-a-human", "wbd-prod-now"}
    automated = rds.describe_db_cluster_snapshots(SnapshotType="automated")["DBClusterSnapshots"]
    assert automated  # RDS's own (automated) snapshots are never the deployer's to prune


def test_pruning_keeps_snapshots_within_retention(rds: Any) -> None:
    _snapshot(rds, "wbd-prod-old-1", [{"Key": TAG_KEY, "Value": "prod"}])

    deleted = prune_snapshots(
        rds=rds,
        cluster=CLUSTER,
        deployment="prod",
        retention_days=14,
        keep="wbd-prod-now",
        now=datetime.now(UTC) + timedelta(days=13),
    )

    assert deleted == []
    assert len(rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]) == 1


def test_a_refused_delete_fails_the_pruning(rds: Any) -> None:
    _snapshot(rds, "wbd-prod-old-1", [{"Key": TAG_KEY, "Value": "prod"}])
    fail_call(rds, "DeleteDBClusterSnapshot", "AccessDenied")

    with pytest.raises(DatabaseSnapshotError, match="deleting snapshot wbd-prod-old-1"):
        prune_snapshots(
            rds=rds,
            cluster=CLUSTER,
            deployment="prod",
            retention_days=1,
            keep="wbd-prod-now",
            now=datetime.now(UTC) + timedelta(days=2),
        )
