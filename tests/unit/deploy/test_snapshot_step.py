"""The Snapshot database step (Deploy workflow): `start` takes the snapshot and records its ARN in the run, `check`
answers not-yet, or available (and prunes); each failure raises the exception the workflow's Catch stops the run
with, and the run's record keeps what was taken."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.unit.deploy.conftest import Deployer
from tests.unit.faults import answer_call, fail_call
from tests.unit.runs.conftest import TABLE
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.snapshot_step import snapshot
from wandb_deployer.errors import AwsRequestFailedError, DatabaseSnapshotError, TransientAwsError
from wandb_deployer.runs.database_snapshot import TAG_KEY
from wandb_deployer.runs.history import read_run, record_run_event
from wandb_deployer.states import SnapshotInput

pytestmark = pytest.mark.unit

REGION = "eu-central-1"  # the deployment's region, not the deployer's
CLUSTER = "wandb"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:deploy:prod-run-1"
STARTED = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


@pytest.fixture
def rds(deployer: Deployer) -> Iterator[Any]:
    rds = boto3.client("rds", region_name=REGION)
    rds.create_db_cluster(
        DBClusterIdentifier=CLUSTER, Engine="aurora-mysql", MasterUsername="wandb", MasterUserPassword="unit-only"
    )
    record_run_event(
        deployment="prod",
        execution_arn=EXECUTION,
        outcome="started",
        table=TABLE,
        dynamodb=deployer.dynamodb,
        started_at=STARTED,
    )
    yield client("rds", REGION)  # the client the step uses, so faults reach it


def request(action: str, **extra: Any) -> SnapshotInput:
    return SnapshotInput.model_validate(
        {
            "action": action,
            "deployment": "prod",
            "region": REGION,
            "execution_arn": EXECUTION,
            "started_at": STARTED,
            "cluster": CLUSTER,
            "reasons": ["app/wandb_version changes"],
            "retention_days": 14,
            **extra,
        }
    )


def recorded(deployer: Deployer) -> Any:
    run = read_run(
        deployment="prod", execution_arn=EXECUTION, table=TABLE, dynamodb=deployer.dynamodb, started_at=STARTED
    )
    assert run is not None
    return run.details.get("database_snapshot")


def test_start_takes_the_snapshot_in_the_deployments_region_and_records_its_arn(deployer: Deployer, rds: Any) -> None:
    result = snapshot(request("start"), deployer.settings)

    assert (result.identifier, result.cluster, result.available) == ("wbd-prod-prod-run-1", CLUSTER, False)
    (taken,) = rds.describe_db_cluster_snapshots(DBClusterSnapshotIdentifier=result.identifier)["DBClusterSnapshots"]
    assert taken["DBClusterSnapshotArn"] == result.arn and f":{REGION}:" in result.arn
    assert recorded(deployer) == {
        "arn": result.arn,
        "identifier": "wbd-prod-prod-run-1",
        "cluster": CLUSTER,
        "reasons": ["app/wandb_version changes"],
        "status": "creating",
    }


def test_check_waits_while_the_snapshot_is_being_created(deployer: Deployer, rds: Any) -> None:
    started = snapshot(request("start"), deployer.settings)
    answer_call(
        rds,
        "DescribeDBClusterSnapshots",
        {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": started.identifier, "Status": "creating"}]},
    )

    result = snapshot(request("check", arn=started.arn), deployer.settings)

    assert result.available is False and result.arn == started.arn
    assert recorded(deployer)["status"] == "creating"


def test_check_of_an_available_snapshot_prunes_the_old_ones_and_records_it(deployer: Deployer, rds: Any) -> None:
    rds.create_db_cluster_snapshot(
        DBClusterSnapshotIdentifier="wbd-prod-old",
        DBClusterIdentifier=CLUSTER,
        Tags=[{"Key": TAG_KEY, "Value": "prod"}],
    )
    started = snapshot(request("start"), deployer.settings)

    result = snapshot(request("check", arn=started.arn), deployer.settings, now=datetime.now(UTC) + timedelta(days=15))

    assert (result.available, result.pruned) == (True, ["wbd-prod-old"])
    assert {"status": "available", "pruned": ["wbd-prod-old"], "arn": started.arn}.items() <= recorded(deployer).items()
    left = rds.describe_db_cluster_snapshots(SnapshotType="manual")["DBClusterSnapshots"]
    assert [s["DBClusterSnapshotIdentifier"] for s in left] == [started.identifier]


def test_a_snapshot_that_failed_stops_the_run(deployer: Deployer, rds: Any) -> None:
    started = snapshot(request("start"), deployer.settings)
    answer_call(
        rds,
        "DescribeDBClusterSnapshots",
        {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": started.identifier, "Status": "failed"}]},
    )

    with pytest.raises(DatabaseSnapshotError, match="is failed"):
        snapshot(request("check", arn=started.arn), deployer.settings)
    assert recorded(deployer)["status"] == "creating"  # the run's record keeps what was asked for


def test_a_missing_cluster_fails_the_start_and_records_nothing(deployer: Deployer, rds: Any) -> None:
    with pytest.raises(DatabaseSnapshotError, match="DBClusterNotFoundFault"):
        snapshot(request("start", cluster="gone"), deployer.settings)
    assert recorded(deployer) is None


def test_access_denied_fails_the_start_and_throttling_is_retried_by_the_workflow(deployer: Deployer, rds: Any) -> None:
    fail_call(rds, "CreateDBClusterSnapshot", "AccessDenied", status=403)
    with pytest.raises(DatabaseSnapshotError, match="AccessDenied"):
        snapshot(request("start"), deployer.settings)

    fail_call(rds, "CreateDBClusterSnapshot", "Throttling")
    with pytest.raises(TransientAwsError):
        snapshot(request("start"), deployer.settings)
    assert recorded(deployer) is None


def test_a_run_record_that_cannot_be_written_fails_the_step(deployer: Deployer, rds: Any) -> None:
    fail_call(client("dynamodb"), "UpdateItem", "AccessDeniedException")

    with pytest.raises(AwsRequestFailedError, match="UpdateItem"):
        snapshot(request("start"), deployer.settings)
