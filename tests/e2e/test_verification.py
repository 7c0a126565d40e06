"""Verification in the sandbox (issue 5): the S3 -> SQS wiring and W&B's health, after a real deploy.

Each test deploys once and then walks through its variants: break one thing, verify with the deployer's own checks and
the deployment's real outputs, expect exactly that finding, restore. The in-workflow paths (the live probe, a health
deadline that fails the run, a flapping endpoint that recovers) run in the real deploy state machine.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.conftest import LEGACY_EXAMPLE, MODULE_QUEUE, OPERATOR_EXAMPLE
from tests.e2e.deployed_wiring import (
    ANOTHER_ACCOUNT,
    DeployedWiring,
    deployed_outputs,
    push_with_api_key,
)
from tests.e2e.notification_capture import NotificationInbox
from wandb_deployer.aws_clients import client
from wandb_deployer.deploy.paths import run_prefix
from wandb_deployer.states import HealthResult, WiringResult
from wandb_deployer.verification.health import check_health
from wandb_deployer.verification.probe import PROBE_PREFIX
from wbd.sandbox.wandb_standin import TlsMode, WandbStandIn
from wbd.sandbox_driver import SandboxDriver, demo_license

pytestmark = pytest.mark.e2e

FINDING_CODE = re.compile(r'"code":\s*"([A-Z0-9_]+)"')


def codes(findings: Any) -> list[str]:
    return sorted({finding.code for finding in findings})


def health_attempts(driver: SandboxDriver, execution_arn: str) -> int:
    return sum(
        1
        for event in driver.sandbox.history(execution_arn)
        if event["type"] == "TaskStateEntered" and event["stateEnteredEventDetails"]["name"] == "Check health"
    )


def approve_waiting_plan(driver: SandboxDriver, deployment: str, before: Callable[[], None] | None = None) -> str:
    """Wait for the run's approval request, do `before` (while it waits), approve; returns the waiting execution."""
    pending = driver.wait_for_approval(deployment).pending_approval
    assert pending is not None
    if before is not None:
        before()
    driver.answer(deployment, pending.plan_sha256, approve=True)
    return pending.execution_arn


# -- S3 -> SQS wiring -----------------------------------------------------------------------------------------------
def _wiring_variants(wiring: DeployedWiring) -> list[tuple[str, Callable[[], dict[str, Any]], list[str]]]:
    """(variant, break it -> output overrides for the check, the one finding expected)."""

    def act(action: Callable[[], object]) -> Callable[[], dict[str, Any]]:
        def run() -> dict[str, Any]:
            action()
            return {}

        return run

    def deny() -> None:
        policy = wiring.policy_for(wiring.bucket_arn)
        policy["Statement"].append(
            {"Sid": "NoS3", "Effect": "Deny", "Principal": {"Service": "s3.amazonaws.com"}, "Action": "sqs:*"}
        )
        wiring.set_policy(policy)

    def wrong_account() -> None:
        policy = wiring.policy_for(wiring.bucket_arn)
        policy["Statement"][0]["Condition"]["StringEquals"] = {"aws:SourceAccount": ANOTHER_ACCOUNT}
        wiring.set_policy(policy)

    def fifo() -> dict[str, Any]:
        # A hand-made setup naming a FIFO queue (S3 itself refuses FIFO targets; moto accepts them).
        name = f"{wiring.outputs.bucket_queue_name}.fifo"
        wiring.notify(wiring.new_queue(name, fifo=True, with_policy=True))
        return {"bucket_queue_name": name}

    return [
        ("notification removed", act(wiring.remove_notification), ["NOTIFICATION_MISSING"]),
        (
            "notification pointed at another queue",
            act(lambda: wiring.notify(wiring.new_queue("someone-elses-queue"))),
            ["NOTIFICATION_WRONG_QUEUE"],
        ),
        (
            "notification limited by a prefix filter",
            act(lambda: wiring.notify(wiring.queue_arn, prefix="media/")),
            ["NOTIFICATION_FILTERED"],
        ),
        ("queue policy missing", act(lambda: wiring.set_policy(None)), ["QUEUE_POLICY_MISSING"]),
        (
            "queue policy for another bucket",
            act(lambda: wiring.set_policy(wiring.policy_for("arn:aws:s3:::another-bucket"))),
            ["QUEUE_POLICY_WRONG_SOURCE"],
        ),
        ("queue policy for another account", act(wrong_account), ["QUEUE_POLICY_WRONG_ACCOUNT"]),
        ("queue policy overridden by a Deny", act(deny), ["QUEUE_POLICY_DENIED"]),
        ("FIFO queue", fifo, ["QUEUE_FIFO"]),
        ("CORS without PUT", act(lambda: wiring.set_cors_methods("GET", "HEAD")), ["CORS_METHODS"]),
    ]


def test_a_deploy_probes_the_wiring_rides_out_a_flapping_endpoint_and_a_broken_wiring_fails_the_next_run(
    deployer: SandboxDriver,
) -> None:
    # Given the operator example with the live probe on (deployer/probe = true) and approvals for every plan,
    # and a W&B endpoint that still flaps while it starts (two 503 answers),
    deployer.standin.flap(2)
    deployment = deployer.push(OPERATOR_EXAMPLE, deployer={"probe": True, "approval": "always"}, infra=MODULE_QUEUE)
    approve_waiting_plan(deployer, deployment)
    deployer.wait_until_idle()

    # then the run retries the health check once and succeeds,
    run = deployer.runs(deployment)[0]
    assert run.outcome == "succeeded", (run.error, run.cause)
    assert health_attempts(deployer, run.execution_arn) == 2

    # and its Verify wiring step probed: one object put, its event received and deleted, nothing left behind.
    api = deployer.sandbox.counters.api_calls()
    assert api["sqs"].get("ReceiveMessage", 0) >= 1 and api["sqs"].get("DeleteMessage") == 1, api["sqs"]
    wiring = DeployedWiring.of(deployer, deployment)
    left = wiring.s3.list_object_versions(Bucket=wiring.bucket, Prefix=PROBE_PREFIX)
    assert not left.get("Versions") and not left.get("DeleteMarkers"), "probe objects left in the W&B bucket"
    queue = wiring.sqs.get_queue_attributes(QueueUrl=wiring.queue_url, AttributeNames=["All"])["Attributes"]
    assert queue["ApproximateNumberOfMessagesNotVisible"] == "0", "the probe kept W&B's messages invisible"
    waiting = wiring.sqs.receive_message(QueueUrl=wiring.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert not [m for m in waiting.get("Messages", []) if PROBE_PREFIX in m["Body"]], "probe messages left in queue"
    evidence_key = f"{run_prefix(deployment, run.execution_name)}wiring.json"
    evidence = client("s3").get_object(Bucket=deployer.artifacts_bucket, Key=evidence_key)["Body"].read()
    assert json.loads(evidence) == {"expects_queue": True, "passed": True, "findings": []}

    # And the correct setup passes with no findings at all,
    assert wiring.verify().findings == []

    # while each broken variant is detected with its own finding and nothing else.
    failures = []
    for variant, break_it, expected in _wiring_variants(wiring):
        result = wiring.verify(**break_it())
        if codes(result.findings) != expected or result.passed:
            failures.append(f"{variant}: expected {expected}, got {[(f.code, f.message) for f in result.findings]}")
        wiring.restore()
        if restored := wiring.verify().findings:
            failures.append(f"after restoring {variant}: {codes(restored)}")
    assert not failures, "\n".join(failures)

    # When someone removes the notification while the next change waits for its approval,
    inbox = NotificationInbox.subscribe(deployer.sandbox)
    deployer.put(deployment, "infra/size", "medium")
    waiting = approve_waiting_plan(deployer, deployment, before=wiring.remove_notification)
    deployer.wait_until_idle()

    # then the run's Verify wiring step fails it with the finding, keeps the evidence and notifies.
    failed = deployer.runs(deployment)[0]
    assert failed.execution_arn == waiting
    assert failed.outcome == "failed" and failed.error == "WiringCheckFailedError", (failed.error, failed.cause)
    assert "NOTIFICATION_MISSING" in (failed.cause or ""), failed.cause
    evidence_key = f"{run_prefix(deployment, failed.execution_name)}wiring.json"
    evidence = json.loads(client("s3").get_object(Bucket=deployer.artifacts_bucket, Key=evidence_key)["Body"].read())
    assert not evidence["passed"] and codes(WiringResult.model_validate(evidence).findings) == ["NOTIFICATION_MISSING"]
    [run_failed] = [n for n in inbox.drain() if n["event"] == "Run Failed"]
    assert run_failed["detail"]["error"] == "WiringCheckFailedError"
    assert "NOTIFICATION_MISSING" in run_failed["detail"]["cause"]
    assert deployer.status(deployment).lock is None


# -- W&B health -----------------------------------------------------------------------------------------------------
def test_health_failing_until_the_deadline_fails_the_run_and_each_endpoint_variant_gets_its_own_finding(
    deployer: SandboxDriver,
) -> None:
    api_key = f"local-{secrets.token_hex(20)}"
    inbox = NotificationInbox.subscribe(deployer.sandbox)
    standin = deployer.standin
    standin.set_api_key(api_key)
    standin.set_version("0.51.2")

    # Given the legacy example (W&B 0.51.2, an API key) with a short health deadline (30 s: 3 attempts 10 s apart),
    # and a W&B that answers 503 on every health endpoint,
    standin.set_status(503)
    deployment = push_with_api_key(deployer, LEGACY_EXAMPLE, api_key=api_key, health_timeout_seconds=30)
    deployer.wait_until_idle()

    # then the run fails with HealthCheckFailedError, keeping the findings in the run history,
    failed = deployer.runs(deployment)[0]
    assert failed.outcome == "failed" and failed.error == "HealthCheckFailedError", (failed.error, failed.cause)
    # (its load balancer's health checks see the same 503s: the targets' own finding names them)
    expected = {"HTTP_5XX", "PLAIN_HTTP", "TARGETS_UNHEALTHY"}
    assert set(FINDING_CODE.findall(failed.cause or "")) == expected, failed.cause
    assert health_attempts(deployer, failed.execution_arn) == 3
    assert deployer.status(deployment).lock is None
    # and notifies with them.
    [run_failed] = [n for n in inbox.drain() if n["event"] == "Run Failed"]
    assert run_failed["deployment"] == deployment
    assert run_failed["detail"]["error"] == "HealthCheckFailedError" and "HTTP_5XX" in run_failed["detail"]["cause"]
    standin.set_status(200)

    # Each broken variant of the deployed endpoint is detected with its own finding and nothing else.
    url = deployed_outputs(deployer, deployment).url
    check_failures = _health_variant_failures(standin, url, api_key)
    assert not check_failures, "\n".join(check_failures)

    # Neither the API key nor the license appears in logs, the run history, notifications or the run's artifacts.
    history = json.dumps([r.model_dump(mode="json") for r in deployer.runs(deployment)])
    evidence = [deployer.sandbox.all_logs(), history, json.dumps(run_failed), *_run_artifacts(deployer, deployment)]
    for secret in (api_key, demo_license()):
        assert not [i for i, text in enumerate(evidence) if secret in text], "a secret leaked"


def _run_artifacts(driver: SandboxDriver, deployment: str) -> list[str]:
    s3 = client("s3")
    listed = s3.list_objects_v2(Bucket=driver.artifacts_bucket, Prefix=f"runs/{deployment}/").get("Contents", [])
    assert any(item["Key"].endswith("/wiring.json") for item in listed)
    return [
        s3.get_object(Bucket=driver.artifacts_bucket, Key=item["Key"])["Body"].read().decode(errors="replace")
        for item in listed
    ]


def _check(url: str, api_key: str, desired: str, *, ca_bundle: str | None = None) -> HealthResult:
    return check_health(
        url=url, generation="legacy", attempt=0, api_key=api_key, desired_version=desired, ca_bundle=ca_bundle
    )


def _health_variant_failures(standin: WandbStandIn, url: str, api_key: str) -> list[str]:
    """Break the deployment's endpoint (and stand-ins with certificates) one way at a time; the findings per variant."""
    desired = standin.version
    failures: list[str] = []

    def expect(variant: str, result: HealthResult, expected: list[str], words: str = "") -> None:
        messages = " ".join(f.message for f in result.findings)
        healthy = set(expected) <= {"PLAIN_HTTP"}  # an info finding only
        if codes(result.findings) != expected or words not in messages or result.healthy is not healthy:
            failures.append(f"{variant}: expected {expected}, got {[(f.code, f.message) for f in result.findings]}")

    # Over plain HTTP (the sandbox's endpoint) every result says so, as an info finding.
    expect("correct endpoint", _check(url, api_key, desired), ["PLAIN_HTTP"])
    standin.down()
    expect("endpoint down", _check(url, api_key, desired), ["CONNECTION_REFUSED", "PLAIN_HTTP"])
    standin.up()
    standin.flap(2)
    expect("flapping", _check(url, api_key, desired), ["HTTP_5XX", "PLAIN_HTTP"], "503")
    expect("flapping, then healthy", _check(url, api_key, desired), ["PLAIN_HTTP"])
    standin.set_status(503)
    expect("503", _check(url, api_key, desired), ["HTTP_5XX", "PLAIN_HTTP"], "503")
    standin.set_status(200)
    expect("wrong version", _check(url, api_key, "0.53.0"), ["PLAIN_HTTP", "VERSION_MISMATCH"], "0.53.0")
    expect("unresolvable host", _check("https://wandb.invalid", api_key, desired), ["DNS_UNRESOLVED"])

    # Certificates, served by stand-ins with TLS (the trusted CA is the stand-in's own).
    modes: list[tuple[TlsMode, list[str], str]] = [
        ("valid", [], ""),
        ("expired", ["TLS_INVALID"], "expired"),
        ("self-signed", ["TLS_INVALID"], "self-signed"),
    ]
    for mode, expected, words in modes:
        with WandbStandIn(tls=mode, api_key=api_key, version=desired) as tls:
            result = _check(tls.url, api_key, desired, ca_bundle=tls.ca_bundle)
            expect(f"certificate {mode}", result, expected, words)
    return failures
