"""Triggers and one run at a time (issue 6): bursts coalesce, deployments run in parallel, killed runs and killed
builds leave nothing behind that blocks the next run."""

from __future__ import annotations

import json
import time
from datetime import datetime
from itertools import pairwise
from typing import Any

import pytest

from tests.e2e.conftest import OPERATOR_EXAMPLE
from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.workspace import desired_fingerprint
from wbd.sandbox_driver import PREFIX, SandboxDriver

pytestmark = pytest.mark.e2e

SIZES = ("medium", "large", "small")  # the burst ends on medium: the last run has a change to apply
BURST = 50


def state_outputs(deployer: SandboxDriver, execution_arn: str, state: str) -> list[dict[str, Any]]:
    """The outputs of every exit of `state` in an execution's history."""
    return [
        json.loads(event["stateExitedEventDetails"]["output"])
        for event in deployer.sandbox.history(execution_arn)
        if event["type"].endswith("StateExited") and event["stateExitedEventDetails"]["name"] == state
    ]


def lock_held(deployer: SandboxDriver, execution_arn: str) -> tuple[datetime, datetime] | None:
    """When an execution held the deployment lock: from the exit of `Acquire lock` (when it took the lock) to the
    exit of the state that released it; None when it never took the lock (it found another run active)."""
    acquired: datetime | None = None
    released: datetime | None = None
    for event in deployer.sandbox.history(execution_arn):
        details = event.get("stateExitedEventDetails")
        if details is None:
            continue
        if details["name"] == "Acquire lock" and "Payload" in json.loads(details["output"]).get("lock", {}):
            acquired = event["timestamp"]
        elif details["name"] in ("Finish run", "Finish rejected run", "Release after failure"):
            released = event["timestamp"]
    if acquired is None:
        return None
    assert released is not None, f"{execution_arn} took the lock and never released it"
    return acquired, released


def test_burst_of_writes_coalesces_into_at_most_two_runs_one_at_a_time_and_applies_the_last_write(
    deployer: SandboxDriver,
) -> None:
    # Given a deployment pushed to SSM (itself a burst of writes) and, right after it, 50 more writes of harmless keys,
    deployment = deployer.push(OPERATOR_EXAMPLE)
    for index in range(BURST):
        if index % 2:
            deployer.put(deployment, "deployer/health_timeout_seconds", str(1800 + index))
        else:
            deployer.put(deployment, "infra/size", SIZES[index % len(SIZES)])
    last = {"infra/size": SIZES[(BURST - 2) % len(SIZES)], "deployer/health_timeout_seconds": str(1800 + BURST - 1)}

    # when every run has ended,
    executions = deployer.wait_until_idle()

    # then at most two executions did work (the others found the lock held and ended), never two at once,
    working = {arn: held for arn in executions if (held := lock_held(deployer, arn)) is not None}
    assert 1 <= len(working) <= 2, f"{len(working)} runs did work for one burst"
    spans = sorted(working.values())
    for (_, first_released), (second_acquired, _) in pairwise(spans):
        assert first_released <= second_acquired, "two runs held the deployment lock at once"
    runs = deployer.runs(deployment)
    # (the rerun finds nothing to apply when the first run already read the last size: only a deployer setting moved)
    assert runs[0].outcome in ("succeeded", "no-changes") and all(run.outcome != "failed" for run in runs)
    assert any(run.outcome == "succeeded" for run in runs)

    # and what was applied is the config as it is now in SSM, with the last written values.
    config = load_deployment_config(deployment, prefix=PREFIX, ssm=client("ssm"))
    assert config.infra["size"] == last["infra/size"]
    assert str(config.deployer.health_timeout_seconds) == last["deployer/health_timeout_seconds"]
    status = deployer.status(deployment)
    assert status.applied is not None and status.applied.fingerprint == desired_fingerprint(config)
    assert status.lock is None and status.desired is not None and not status.desired.pending


def test_writes_to_two_deployments_run_in_parallel(deployer: SandboxDriver) -> None:
    # Given two deployments pushed one right after the other,
    alpha = deployer.push(OPERATOR_EXAMPLE, deployment="alpha", infra={"namespace": "wandb-alpha"})
    beta = deployer.push(OPERATOR_EXAMPLE, deployment="beta", infra={"namespace": "wandb-beta"})

    # when their runs have ended,
    executions = deployer.wait_until_idle()

    # then both deployed, and a run of one held its lock while a run of the other held its own.
    held = {arn: span for arn in executions if (span := lock_held(deployer, arn)) is not None}
    by_deployment: dict[str, list[tuple[datetime, datetime]]] = {alpha: [], beta: []}
    for arn, span in held.items():
        by_deployment[deployer.describe(arn)["name"].split("-", 1)[0]].append(span)
    assert all(by_deployment.values()), by_deployment
    assert any(
        a_start < b_end and b_start < a_end
        for a_start, a_end in by_deployment[alpha]
        for b_start, b_end in by_deployment[beta]
    ), "the two deployments' runs did not overlap"
    for deployment in (alpha, beta):
        latest = deployer.runs(deployment)[0]
        assert latest.outcome == "succeeded", (latest.error, latest.reason)
        assert deployer.status(deployment).lock is None


def test_killed_run_and_killed_build_are_recovered_by_the_next_run(deployer: SandboxDriver) -> None:
    # Given a run whose plan build hangs while it holds the Terraform state lock,
    deployer.sandbox.faults.arm("terraform.hang")
    deployment = deployer.push(OPERATOR_EXAMPLE)
    killed = deployer.wait_for_new_execution()
    state_bucket = str(deployer.sandbox.physical("StateBucket"))
    tflock = f"deployments/{deployment}/terraform.tfstate.tflock"
    build_id = wait_for_state_lock(deployer, state_bucket, tflock)

    # when the execution and its build are killed (the run never gets to release anything),
    client("stepfunctions").stop_execution(executionArn=killed, error="Operator.Killed", cause="e2e: killed run")
    client("codebuild").stop_build(id=build_id)
    assert deployer.wait_for_status(killed)["status"] == "ABORTED"
    status = deployer.status(deployment)
    assert status.lock is not None and status.lock.owner == killed
    assert object_exists(state_bucket, tflock)

    # and the operator writes a parameter,
    deployer.put(deployment, "infra/size", "medium")
    recovering = deployer.wait_for_new_execution()
    deployer.wait_until_idle()

    # then the new run takes the lock over from the killed run, releases the stale state lock, and succeeds.
    assert deployer.describe(recovering)["status"] == "SUCCEEDED"
    (lock,) = [output["lock"]["Payload"] for output in state_outputs(deployer, recovering, "Acquire lock")]
    assert lock["took_over_from"] == killed
    assert lock["released_state_lock"] is True
    assert not object_exists(state_bucket, tflock)
    assert deployer.runs(deployment)[0].execution_arn == recovering
    assert deployer.runs(deployment)[0].outcome == "succeeded"
    assert deployer.status(deployment).lock is None


def wait_for_state_lock(deployer: SandboxDriver, bucket: str, key: str, timeout: float = 60.0) -> str:
    """Poll until the hanging build holds the state lock; returns the build's id (from the holder marker)."""
    deadline = time.monotonic() + timeout
    s3 = client("s3")
    while time.monotonic() < deadline:
        if object_exists(bucket, key):
            marker = s3.get_object(Bucket=deployer.artifacts_bucket, Key=f"locks/{key.split('/')[1]}/holder.json")
            return str(json.loads(marker["Body"].read())["build_id"])
        time.sleep(0.05)
    raise TimeoutError(f"no state lock s3://{bucket}/{key} within {timeout} s")


def object_exists(bucket: str, key: str) -> bool:
    return bool(client("s3").list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0))
