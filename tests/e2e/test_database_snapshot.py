"""Snapshot before risk in the sandbox (issue 13): a W&B version upgrade snapshots the Aurora cluster before its apply
and the run records the snapshot's ARN; a change that is not risky for the data takes none; a snapshot that fails
stops the run before its apply.

The database is the Terraform emulation's Aurora cluster (`WBD_SANDBOX_EMULATE_DATABASE`, database.py): the module's
`aws_rds_cluster`, held by the AWS emulator, so the deployer's RDS calls (and their IAM grants) are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import LEGACY_EXAMPLE, REPO
from tests.e2e.run_evidence import NotificationCapture, unique_license
from wandb_deployer.aws_clients import client
from wandb_deployer.plan.snapshot_decision import snapshot_identifier
from wbd.sandbox_driver import SandboxDriver, running_deployer

pytestmark = pytest.mark.e2e

CLUSTER = "wandb"  # infra/namespace of the legacy example: the module names the cluster after it
REGION = "eu-central-1"  # deployer/region of the legacy example


@pytest.fixture
def deployer(tmp_path: Path) -> Iterator[SandboxDriver]:
    with running_deployer(REPO, time_scale=100.0, work_dir=tmp_path / "deployer", emulate_database=True) as driver:
        yield driver


def manual_snapshots() -> dict[str, dict[str, object]]:
    found = client("rds", REGION).describe_db_cluster_snapshots(DBClusterIdentifier=CLUSTER, SnapshotType="manual")
    return {str(s["DBClusterSnapshotIdentifier"]): s for s in found["DBClusterSnapshots"]}


def test_a_wandb_upgrade_is_snapshotted_before_apply_and_a_no_data_change_is_not(deployer: SandboxDriver) -> None:
    notifications = NotificationCapture.subscribe(deployer)
    # Given the legacy example deployed (its first install has no database to snapshot yet)
    deployment = deployer.push(LEGACY_EXAMPLE, license_value=unique_license(), deployer={"approval": "never"})
    deployer.wait_until_idle()
    (installed,) = deployer.runs(deployment)
    assert installed.outcome == "succeeded", (installed.error, installed.reason)
    assert "database_snapshot" not in installed.details
    assert client("rds", REGION).describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"]
    assert manual_snapshots() == {}

    # When a change that is no version and touches no database is applied, no snapshot is taken
    deployer.put(deployment, "deployer/health_timeout_seconds", "1700")
    deployer.wait_until_idle()
    plain = deployer.runs(deployment)[0]
    assert plain.outcome in ("succeeded", "no-changes") and "database_snapshot" not in plain.details
    assert manual_snapshots() == {}

    # When the W&B version changes
    deployer.put(deployment, "app/wandb_version", "0.52.0")
    deployer.wait_until_idle()

    # Then the run snapshotted the cluster before it applied, and its record holds the snapshot's ARN
    upgraded = deployer.runs(deployment)[0]
    assert upgraded.outcome == "succeeded", upgraded
    recorded = upgraded.details["database_snapshot"]
    (identifier,) = manual_snapshots()
    assert identifier == snapshot_identifier(deployment, upgraded.execution_name)
    assert identifier.startswith(f"wbd-{deployment}-")
    snapshot = manual_snapshots()[identifier]
    assert recorded["arn"] == snapshot["DBClusterSnapshotArn"]
    assert recorded["status"] == "available" and recorded["cluster"] == CLUSTER
    assert recorded["reasons"] == ["app/wandb_version changes"]
    tags = client("rds", REGION).list_tags_for_resource(ResourceName=str(snapshot["DBClusterSnapshotArn"]))
    assert {"Key": "wandb-deployer:deployment", "Value": deployment} in tags["TagList"]
    # and the snapshot came before the apply
    history = client("stepfunctions").get_execution_history(executionArn=upgraded.execution_arn, maxResults=1000)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]
    assert entered.index("Snapshot database") < entered.index("Apply")
    assert not notifications.events("Run Failed", deployment)[0]


def test_a_failed_snapshot_stops_the_run_before_apply(deployer: SandboxDriver) -> None:
    notifications = NotificationCapture.subscribe(deployer)
    # Given the legacy example deployed, with every change approved by a human
    deployment = deployer.push(LEGACY_EXAMPLE, license_value=unique_license(), deployer={"approval": "always"})
    first = deployer.wait_for_approval(deployment).pending_approval
    assert first is not None
    deployer.answer(deployment, first.plan_sha256, approve=True)
    deployer.wait_until_idle()

    # When a W&B upgrade waits at the gate, which says a snapshot will be taken
    deployer.put(deployment, "app/wandb_version", "0.52.0")
    pending = deployer.wait_for_approval(deployment).pending_approval
    assert pending is not None
    (approval_needed, _) = notifications.events("Approval Needed", deployment)
    assert approval_needed[-1]["detail"]["snapshot"] == (
        f"a snapshot of database cluster {CLUSTER} is taken before the apply: app/wandb_version changes"
    )
    # and the cluster is gone by the time it is approved (the snapshot cannot be taken)
    client("rds", REGION).delete_db_cluster(DBClusterIdentifier=CLUSTER, SkipFinalSnapshot=True)
    deployer.answer(deployment, pending.plan_sha256, approve=True)
    deployer.wait_until_idle()

    # Then the run failed before its apply, released the lock and notified
    failed = deployer.runs(deployment)[0]
    assert (failed.outcome, failed.error) == ("failed", "DatabaseSnapshotError"), failed
    assert "DBClusterNotFoundFault" in str(failed.reason)  # the cluster was gone (not a missing grant)
    history = client("stepfunctions").get_execution_history(executionArn=failed.execution_arn, maxResults=1000)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history["events"] if "stateEnteredEventDetails" in e]
    assert "Snapshot database" in entered and "Apply" not in entered
    assert deployer.status(deployment).lock is None
    (run_failed, _) = notifications.events("Run Failed", deployment)
    assert run_failed and run_failed[-1]["detail"]["error"] == "DatabaseSnapshotError"
