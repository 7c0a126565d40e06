"""The deploy workflow's gates and failure paths in the sandbox (issue 4): approval bound to the exact plan, rejection
and timeout, failed plan and apply, the legacy generation and its migration to the operator generation.

Every test ends with a scan for the license in everything its runs produced (see run_evidence.license_leaks).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import LEGACY_EXAMPLE, MODULE_QUEUE, OPERATOR_EXAMPLE, REPO
from tests.e2e.run_evidence import NotificationCapture, license_leaks, unique_license
from wandb_deployer.aws_clients import client
from wandb_deployer.errors import PlanMismatchError
from wbd.sandbox_driver import SandboxDriver, running_deployer

pytestmark = pytest.mark.e2e

OTHER_PLAN = "0" * 64


@pytest.fixture
def short_approvals(tmp_path: Path) -> Iterator[SandboxDriver]:
    """The deployer with the template's shortest approval timeout (300 s, 3 s in the sandbox's compressed time)."""
    parameters = {"ApprovalTimeoutSeconds": "300"}
    with running_deployer(REPO, time_scale=100.0, work_dir=tmp_path / "deployer", parameters=parameters) as driver:
        yield driver


def buckets(prefix: str) -> set[str]:
    return {b["Name"] for b in client("s3").list_buckets()["Buckets"] if b["Name"].startswith(prefix)}


def queues(prefix: str) -> set[str]:
    urls = client("sqs").list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    return {url.rsplit("/", 1)[-1] for url in urls}


def state_locks(deployer: SandboxDriver) -> list[str]:
    listed = client("s3").list_objects_v2(Bucket=str(deployer.sandbox.physical("StateBucket")))
    return [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith(".tflock")]


def states_entered(deployer: SandboxDriver, execution_arn: str) -> list[str]:
    history = deployer.sandbox.history(execution_arn)
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]


def state_output(deployer: SandboxDriver, execution_arn: str, state: str) -> dict[str, Any]:
    """The output of `state` in the execution's history (what the next states were given)."""
    for event in deployer.sandbox.history(execution_arn):
        details = event.get("stateExitedEventDetails")
        if details and details["name"] == state:
            return dict(json.loads(details["output"]))
    raise AssertionError(f"{state} never ran in {execution_arn}")


def test_a_destructive_change_is_applied_only_after_approval_of_that_exact_plan(deployer: SandboxDriver) -> None:
    # Given the operator example deployed (policy: approval for destructive changes)
    notifications = NotificationCapture.subscribe(deployer)
    license_value = unique_license()
    deployment = deployer.push(OPERATOR_EXAMPLE, license_value=license_value, infra=MODULE_QUEUE)
    deployer.wait_until_idle()
    (old_bucket,) = buckets("wandb-demo-file-storage-")
    assert queues("wandb-demo-file-storage-") == {old_bucket}

    # When the namespace changes, the bucket and the queue must be replaced: the run waits for a human.
    deployer.put(deployment, "infra/namespace", "wandb-blue")
    pending = deployer.wait_for_approval(deployment).pending_approval
    assert pending is not None
    assert pending.counts.replace >= 2
    assert "module.wandb_infra.module.file_storage.aws_s3_bucket.file_storage" in pending.destructive
    (approval_needed,), (approval_event,) = notifications.events("Approval Needed", deployment)
    assert approval_needed["detail"]["plan_sha256"] == pending.plan_sha256
    assert approval_event["detail"]["detail"]["plan_sha256"] == pending.plan_sha256

    # Then an approval naming another plan is refused, and the run keeps waiting with nothing applied;
    with pytest.raises(PlanMismatchError):
        deployer.answer(deployment, OTHER_PLAN, approve=True)
    still = deployer.status(deployment).pending_approval
    assert still is not None and still.plan_sha256 == pending.plan_sha256
    assert deployer.describe(pending.execution_arn)["status"] == "RUNNING"
    assert buckets("wandb-demo-file-storage-") == {old_bucket}

    # approving that exact sha256 applies exactly that plan: new bucket and queue, the old ones gone.
    deployer.answer(deployment, pending.plan_sha256, approve=True)
    deployer.wait_until_idle()
    latest = deployer.runs(deployment)[0]
    assert (latest.execution_arn, latest.outcome) == (pending.execution_arn, "succeeded")
    assert latest.details["plan_sha256"] == pending.plan_sha256
    assert state_output(deployer, pending.execution_arn, "Wait for approval")["approved_plan"] == {
        "sha256": pending.plan_sha256,
        "approved_by": "arn:aws:iam::123456789012:user/wbd-sandbox-operator",  # the approver's AWS identity
    }
    (new_bucket,) = buckets("wandb-blue-file-storage-")
    assert queues("wandb-blue-file-storage-") == {new_bucket}
    assert not buckets("wandb-demo-file-storage-") and not queues("wandb-demo-file-storage-")
    status = deployer.status(deployment)
    assert status.lock is None and status.pending_approval is None
    assert not license_leaks(deployer, license_value, notifications)


def test_a_rejected_or_timed_out_approval_ends_cleanly(short_approvals: SandboxDriver) -> None:
    deployer = short_approvals
    notifications = NotificationCapture.subscribe(deployer)
    license_value = unique_license()

    # Given a first install under the policy `always`, waiting for approval
    deployment = deployer.push(OPERATOR_EXAMPLE, license_value=license_value, deployer={"approval": "always"})
    pending = deployer.wait_for_approval(deployment).pending_approval
    assert pending is not None

    # the scheduled approval check (invoked by its schedule's role, reading on its function's role) measures how
    # long it has waited: what the ApprovalWaiting alarm reads,
    deployer.sandbox.fire_schedule("ApprovalAgeFunctionApprovalCheck")
    answer = client("lambda").invoke(FunctionName=str(deployer.sandbox.physical("ApprovalAgeFunction")), Payload=b"{}")
    measured = json.loads(answer["Payload"].read())
    assert [(w["deployment"], w["execution_arn"]) for w in measured["waiting"]] == [(deployment, pending.execution_arn)]
    assert measured["oldest_seconds"] >= 0 and "FunctionError" not in answer

    # When a human rejects it, the run ends `rejected`: nothing applied, lock released, people told.
    deployer.answer(deployment, pending.plan_sha256, approve=False, reason="not during the freeze")
    deployer.wait_until_idle()
    rejected = deployer.runs(deployment)[0]
    assert (rejected.execution_arn, rejected.outcome, rejected.error) == (
        pending.execution_arn,
        "rejected",
        "ApprovalRejectedError",
    )
    assert deployer.describe(pending.execution_arn)["status"] == "SUCCEEDED"
    status = deployer.status(deployment)
    assert status.lock is None and status.applied is None and status.pending_approval is None
    assert not buckets("wandb-demo-file-storage-")
    topic, bus = notifications.events("Run Rejected", deployment)
    assert len(topic) == len(bus) == 1

    assert rejected.details["approval"]["decision"] == "rejected"
    assert rejected.details["approval"]["reason"] == "not during the freeze"

    # When the next run's approval is never answered, it times out (300 s; 3 s here): recorded as timed out (not
    # rejected) with its deadline, and otherwise ends the same way.
    deployer.put(deployment, "deployer/health_timeout_seconds", "1700")
    waiting = deployer.wait_for_approval(deployment).pending_approval
    assert waiting is not None and waiting.execution_arn != pending.execution_arn
    deployer.wait_until_idle()
    timed_out = deployer.runs(deployment)[0]
    assert (timed_out.execution_arn, timed_out.outcome, timed_out.error) == (
        waiting.execution_arn,
        "timed-out",
        "States.Timeout",
    )
    assert timed_out.details["approval"]["decision"] == "timed-out"
    assert timed_out.details["approval"]["deadline"] == waiting.deadline
    assert timed_out.reason and "deadline" in timed_out.reason
    status = deployer.status(deployment)
    assert status.lock is None and status.applied is None and status.pending_approval is None
    assert not buckets("wandb-demo-file-storage-")
    topic, bus = notifications.events("Run Rejected", deployment)
    assert len(topic) == len(bus) == 2
    assert not license_leaks(deployer, license_value, notifications)


def test_a_failed_plan_or_apply_is_recorded_notified_and_leaves_no_lock(deployer: SandboxDriver) -> None:
    notifications = NotificationCapture.subscribe(deployer)
    license_value = unique_license()

    # Given Terraform's plan will fail, when the example is pushed,
    deployer.sandbox.faults.arm("terraform.plan_error")
    deployment = deployer.push(OPERATOR_EXAMPLE, license_value=license_value)
    deployer.wait_until_idle()

    # then the run is recorded failed with its error, people and automation are told, and no lock is left.
    plan_failed = deployer.runs(deployment)[0]
    assert plan_failed.outcome == "failed" and plan_failed.error == "States.TaskFailed"
    assert plan_failed.cause
    assert deployer.describe(plan_failed.execution_arn)["status"] == "FAILED"
    assert deployer.status(deployment).lock is None and not state_locks(deployer)
    (topic,), (bus,) = notifications.events("Run Failed", deployment)
    assert topic["detail"]["execution_arn"] == bus["detail"]["detail"]["execution_arn"] == plan_failed.execution_arn
    assert topic["detail"]["error"] == "States.TaskFailed"
    assert not buckets("wandb-demo-file-storage-")

    # Given Terraform's apply will fail (after taking the state lock), when the next change runs,
    deployer.sandbox.faults.arm("terraform.apply_error")
    deployer.put(deployment, "deployer/health_timeout_seconds", "1700")
    deployer.wait_until_idle()

    # then that run too is failed, told, and leaves neither the deployment lock nor Terraform's state lock.
    apply_failed = deployer.runs(deployment)[0]
    assert apply_failed.execution_arn != plan_failed.execution_arn
    assert apply_failed.outcome == "failed" and apply_failed.error == "States.TaskFailed"
    assert "Apply" in states_entered(deployer, apply_failed.execution_arn)
    assert "Apply" not in states_entered(deployer, plan_failed.execution_arn)
    status = deployer.status(deployment)
    assert status.lock is None and status.applied is None and not state_locks(deployer)
    topic_messages, bus_events = notifications.events("Run Failed", deployment)
    assert {m["detail"]["execution_arn"] for m in topic_messages} == {
        plan_failed.execution_arn,
        apply_failed.execution_arn,
    }
    assert len(bus_events) == 2
    assert not license_leaks(deployer, license_value, notifications)


def test_legacy_deploys_and_its_migration_to_the_operator_always_waits_for_approval(deployer: SandboxDriver) -> None:
    license_value = unique_license()

    # Given the legacy generation (aws 2.8.0 + kubernetes 1.x) deployed under the policy `never`
    deployment = deployer.push(LEGACY_EXAMPLE, license_value=license_value, deployer={"approval": "never"})
    deployer.wait_until_idle()
    runs = deployer.runs(deployment)
    assert runs and all(run.outcome == "succeeded" for run in runs)
    applied = deployer.status(deployment).applied
    assert applied is not None and applied.wandb_generation == "legacy"
    (legacy_bucket,) = buckets("wandb-file-storage-")

    # When the operator follows W&B's migration (paused while editing): operator generation, aws 8.x, the license
    # as infra/license, the app module's parameters removed; then resumes,
    deployer.put(deployment, "deployer/paused", "true")
    deployer.put(deployment, "deployer/generation", "operator")
    deployer.put(deployment, "deployer/module_version", "8.0.0")
    deployer.put(deployment, "infra/kubernetes_legacy_cluster_creator_admin", "true")
    deployer.put(deployment, "infra/license", license_value, type_="SecureString")
    client("ssm").delete_parameters(
        Names=[f"/wandb-deployer/{deployment}/{key}" for key in ("app/license", "app/wandb_version")]
        + [f"/wandb-deployer/{deployment}/deployer/app_module_version"]
    )
    deployer.put(deployment, "deployer/paused", "false")

    # then the migration stops at the approval gate although the policy is `never`, and says why;
    pending = deployer.wait_for_approval(deployment).pending_approval
    assert pending is not None
    plan = state_output(deployer, pending.execution_arn, "Summarise plan")["plan"]["value"]
    assert plan["migration"] is True and plan["migrating_from"] == "legacy"
    assert plan["requires_approval"] is True
    assert buckets("wandb-file-storage-") == {legacy_bucket}

    # once approved, it applies: the operator generation is what is recorded as applied.
    deployer.answer(deployment, pending.plan_sha256, approve=True)
    deployer.wait_until_idle()
    latest = deployer.runs(deployment)[0]
    assert (latest.execution_arn, latest.outcome) == (pending.execution_arn, "succeeded")
    status = deployer.status(deployment)
    assert status.applied is not None and status.applied.wandb_generation == "operator"
    assert status.lock is None
    assert not license_leaks(deployer, license_value, None)


def wait_for_another_approval(deployer: SandboxDriver, deployment: str, after: str) -> str:
    """The execution ARN of the next run of `deployment` that waits for approval, other than `after`."""
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        pending = deployer.status(deployment).pending_approval
        if pending is not None and pending.execution_arn != after:
            return pending.execution_arn
        time.sleep(0.05)
    raise TimeoutError(f"{deployment}: no run after {after} waited for approval")


def test_a_change_written_during_a_run_is_rerun_at_its_end_under_the_policy_and_a_pause_holds_it(
    deployer: SandboxDriver,
) -> None:
    # Given a first install under the policy `always`, waiting for approval,
    deployment = deployer.push(OPERATOR_EXAMPLE, deployer={"approval": "always"})
    first = deployer.wait_for_approval(deployment).pending_approval
    assert first is not None

    # when a change Terraform applies is written while it waits and the run is approved,
    deployer.put(deployment, "infra/size", "large")
    deployer.answer(deployment, first.plan_sha256, approve=True)

    # then the run's end starts the rerun (FinishRun), and the rerun waits for approval too: the policy holds.
    rerun_arn = wait_for_another_approval(deployer, deployment, after=first.execution_arn)
    assert "-rerun-" in rerun_arn
    applied = deployer.status(deployment).applied
    assert applied is not None and applied.execution_arn == first.execution_arn

    # When the deployment is paused while the rerun waits, and another change is written, the rerun's end starts
    # nothing: the change stays pending until the deployment is resumed.
    deployer.put(deployment, "deployer/paused", "true")
    deployer.put(deployment, "infra/size", "medium")
    rerun = deployer.status(deployment).pending_approval
    assert rerun is not None and rerun.execution_arn == rerun_arn
    deployer.answer(deployment, rerun.plan_sha256, approve=True)
    executions = deployer.wait_until_idle()
    assert len(executions) == 2 and rerun_arn in executions
    status = deployer.status(deployment)
    assert status.lock is None and status.pending_approval is None
    assert status.desired is not None and status.desired.pending and status.desired.paused_at is not None
