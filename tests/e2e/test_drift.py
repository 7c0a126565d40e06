"""Drift (issue 6): a deleted bucket notification is detected by the scheduled check, notified once, remediated per
the deployment's `drift_action`, and notified as resolved."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import MODULE_QUEUE, OPERATOR_EXAMPLE
from tests.e2e.notification_capture import NotificationInbox
from wandb_deployer.aws_clients import client
from wbd.sandbox_driver import DEPLOY_MACHINE, SandboxDriver

pytestmark = pytest.mark.e2e

SCHEDULE = "DriftStateMachineDailyDriftCheck"


def check_drift(deployer: SandboxDriver) -> dict[str, Any]:
    """Fire the daily schedule now and wait for the drift check; returns the deployment's result of the check."""
    (execution,) = deployer.sandbox.fire_schedule(SCHEDULE)
    described = deployer.wait_for_status(execution)
    assert described["status"] == "SUCCEEDED", described
    (result,) = json.loads(described["output"])["results"]
    failures = [
        (event["taskFailedEventDetails"]["error"], event["taskFailedEventDetails"].get("cause", "")[:300])
        for event in deployer.sandbox.history(execution)
        if event["type"] == "TaskFailed"
    ]
    assert not result.get("failed"), f"the drift check of {result['deployment']} failed: {failures}"
    return dict(result)


def file_storage_bucket(deployer: SandboxDriver, deployment: str) -> str:
    """The W&B bucket the (emulated) module created, from the outputs of the deployment's last run."""
    run = deployer.runs(deployment)[0]
    key = f"runs/{deployment}/{run.execution_name}/outputs.json"
    body = client("s3").get_object(Bucket=deployer.artifacts_bucket, Key=key)["Body"].read()
    return str(json.loads(body)["bucket_name"]["value"])


def queue_notifications(bucket: str) -> list[dict[str, Any]]:
    return list(client("s3").get_bucket_notification_configuration(Bucket=bucket).get("QueueConfigurations", []))


def delete_notification(bucket: str) -> None:
    client("s3").put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})


def test_deleted_notification_is_notified_once_remediated_per_policy_and_resolved(deployer: SandboxDriver) -> None:
    inbox = NotificationInbox.subscribe(deployer.sandbox)
    deployment = deployer.push(OPERATOR_EXAMPLE, infra=MODULE_QUEUE)
    deployer.wait_until_idle()
    bucket = file_storage_bucket(deployer, deployment)
    assert queue_notifications(bucket)

    # Given someone deleted the W&B bucket's notification configuration (drift_action = notify),
    delete_notification(bucket)

    # when the scheduled check runs twice,
    first, second = check_drift(deployer), check_drift(deployer)

    # then the drift is detected and notified once, and nothing is changed under the notify policy.
    assert (first["drift"]["value"]["transition"], second["drift"]["value"]["transition"]) == ("new", "unchanged")
    assert first["drift"]["value"]["remediate"] is False and "remediation" not in second
    detected = inbox.wait_for("Drift Detected")
    assert len(detected) == 1 and detected[0]["deployment"] == deployment
    assert any("notification" in address for address in detected[0]["detail"]["resources"])
    assert not queue_notifications(bucket)
    assert deployer.status(deployment).drift is not None and deployer.status(deployment).drift.status == "drifted"
    runs_before = len(deployer.runs(deployment))

    # Given the policy becomes remediate-safe (that change deploys, and restores the wiring as a side effect)
    # and the same notification is deleted again,
    deployer.put(deployment, "deployer/drift_action", "remediate-safe")
    deployer.wait_until_idle()
    assert queue_notifications(bucket)
    delete_notification(bucket)

    # when the check runs,
    remediating = check_drift(deployer)
    remediation = deployer.wait_for_new_execution(DEPLOY_MACHINE)
    deployer.wait_until_idle()

    # then the same drift is not notified again, and a deploy run triggered by drift restores the notification,
    assert remediating["drift"]["value"]["transition"] == "unchanged"
    assert remediating["remediation"]["execution_arn"] == remediation
    run = deployer.runs(deployment)[0]
    assert (run.execution_arn, run.trigger, run.outcome) == (remediation, "drift", "succeeded")
    assert len(deployer.runs(deployment)) == runs_before + 2
    (restored,) = queue_notifications(bucket)
    assert restored["Events"] == ["s3:ObjectCreated:*"]

    # and the next check notifies that the drift is resolved.
    resolved = check_drift(deployer)
    assert resolved["drift"]["value"]["transition"] == "resolved"
    inbox.wait_for("Drift Resolved")
    assert inbox.events(deployment).count("Drift Detected") == 1
    assert inbox.events(deployment).count("Drift Resolved") == 1
    assert deployer.status(deployment).drift is not None and deployer.status(deployment).drift.status == "clean"
