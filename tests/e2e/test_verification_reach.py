"""Verification that works against a locked-down W&B, and triggers that start only the runs they should (issue 12),
in the sandbox: the emulation publishes each deployment's load balancer, target groups and Route53 alias record; the
W&B stand-in admits only `allowed_inbound_cidr` on its listener (connections from elsewhere time out) while the load
balancer's own health checks reach its pods; CloudWatch's SQS metrics come from the emulated queue.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any, cast

import pytest
from moto.events.models import events_backends

from tests.conftest import EVENTS
from tests.e2e.conftest import LEGACY_EXAMPLE, OPERATOR_EXAMPLE
from tests.e2e.deployed_wiring import deployed_outputs
from tests.e2e.test_drift import check_drift
from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.verification.load_balancer import wandb_fqdn
from wandb_deployer.verification.queue_consumption import OLDEST_MESSAGE_LIMIT_SECONDS, queue_consumption_findings
from wbd.config_file import load_config_file
from wbd.sandbox.emulator import ACCOUNT_ID
from wbd.sandbox_driver import PREFIX, SandboxDriver

pytestmark = pytest.mark.e2e


def allowed_inbound(path: Path) -> list[str]:
    """The file's infra/allowed_inbound_cidr: who may reach W&B."""
    return [str(cidr) for cidr in load_config_file(path).infra["allowed_inbound_cidr"]]


def run_warnings(deployer: SandboxDriver, deployment: str) -> list[str]:
    return list(deployer.runs(deployment)[0].details.get("warnings", []))


# -- a W&B that admits only allowed_inbound_cidr -----------------------------------------------------------------------
def test_a_restricted_wandb_with_healthy_targets_passes_with_a_warning_and_unhealthy_targets_fail_the_run(
    deployer: SandboxDriver,
) -> None:
    # Given W&B behind a load balancer that admits only the example's office ranges (not the deployer),
    deployer.standin.only_from(allowed_inbound(OPERATOR_EXAMPLE))
    deployment = deployer.push(OPERATOR_EXAMPLE, deployer={"health_timeout_seconds": 30})
    deployer.wait_until_idle()

    # the run passes: the endpoints timed out from the deployer, but every target of the load balancer is healthy,
    run = deployer.runs(deployment)[0]
    assert run.outcome == "succeeded", (run.error, run.cause)
    assert deployer.standin.held, "the stand-in never held a connection from the deployer"
    assert {"/healthz", "/console/api/healthz"} <= set(deployer.standin.target_requests)
    # and the run records why, as a warning (and validation had warned about it before).
    warnings = run_warnings(deployer, deployment)
    assert [w for w in warnings if w.startswith("UNREACHABLE_FROM_DEPLOYER: ")], warnings
    assert [w for w in warnings if w.startswith("infra/allowed_inbound_cidr: ")], warnings
    (unreachable,) = [w for w in warnings if w.startswith("UNREACHABLE_FROM_DEPLOYER")]
    assert "-alb-k8s" in unreachable and "2/2 healthy" not in unreachable and "1/1 healthy" in unreachable

    # When the pods fail the load balancer's health checks as well,
    deployer.standin.set_healthy(False)
    deployer.put(deployment, "infra/size", "medium")
    deployer.wait_until_idle()

    # then the run fails with the targets' own finding, naming what the load balancer saw.
    run = deployer.runs(deployment)[0]
    assert run.outcome == "failed" and run.error == "HealthCheckFailedError", (run.error, run.cause)
    assert "TARGETS_UNHEALTHY" in (run.cause or ""), run.cause
    assert "Target.ResponseCodeMismatch" in (run.cause or "") and "[503]" in (run.cause or ""), run.cause


def test_the_load_balancer_the_deployer_finds_is_the_one_the_emulation_published(deployer: SandboxDriver) -> None:
    deployment = deployer.push(OPERATOR_EXAMPLE)
    deployer.wait_until_idle()
    infra = load_deployment_config(deployment, prefix=PREFIX, ssm=client("ssm")).infra
    host, zone = wandb_fqdn(infra), str(infra["zone_id"])
    records = client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
    (alias,) = [r for r in records if r["Name"] == f"{host}." and r["Type"] == "A"]
    elbv2 = client("elbv2", deployed_outputs(deployer, deployment).bucket_region)
    (balancer,) = elbv2.describe_load_balancers(Names=["wandb-demo-alb-k8s"])["LoadBalancers"]
    assert alias["AliasTarget"]["DNSName"].rstrip(".").lower() == balancer["DNSName"].lower()
    groups = elbv2.describe_target_groups(LoadBalancerArn=balancer["LoadBalancerArn"])["TargetGroups"]
    assert sorted(g["HealthCheckPath"] for g in groups) == ["/console/api/healthz", "/healthz"]


# -- a queue nobody consumes ------------------------------------------------------------------------------------------
def drift_findings(deployer: SandboxDriver, deployment: str) -> list[str]:
    """Run the scheduled drift check now; the finding codes it recorded for `deployment` (empty: clean)."""
    check_drift(deployer)
    drift = deployer.status(deployment).drift
    assert drift is not None
    return list(drift.summary.get("findings", [])) if drift.status == "drifted" else []


def test_an_unconsumed_growing_queue_is_a_finding_where_wandb_reads_the_queue(deployer: SandboxDriver) -> None:
    # Given the legacy generation, where W&B reads the queue (bucket_queue = sqs://<queue>) and consumes its events,
    reader = deployer.queue_reader
    assert reader is not None
    deployment = deployer.push(LEGACY_EXAMPLE)
    deployer.wait_until_idle()
    assert deployer.runs(deployment)[0].outcome == "succeeded"
    outputs = deployed_outputs(deployer, deployment)
    assert outputs.bucket_queue_name
    s3, cloudwatch = client("s3", outputs.bucket_region), client("cloudwatch", outputs.bucket_region)
    s3.put_object(Bucket=outputs.bucket_name, Key="media/run-0.png", Body=b"x")
    deadline = time.monotonic() + 10
    while reader.consumed < 2 and time.monotonic() < deadline:  # S3's test event and the upload's event
        time.sleep(0.1)
    assert reader.consumed >= 2

    # when W&B stops consuming, files are uploaded and their events wait longer than the limit
    # (sandbox time: real seconds x the time scale),
    reader.reading(False)
    for index in range(1, 4):
        s3.put_object(Bucket=outputs.bucket_name, Key=f"media/run-{index}.png", Body=b"x")
    time.sleep(OLDEST_MESSAGE_LIMIT_SECONDS / deployer.sandbox.time_scale + 1)

    # then the scheduled verification reports the queue as not consumed (with the backlog it saw),
    assert "QUEUE_NOT_CONSUMED" in drift_findings(deployer, deployment)
    (found,) = queue_consumption_findings(queue_name=outputs.bucket_queue_name, cloudwatch=cloudwatch)
    assert "3 message(s) waiting" in found.message, found.message

    # and once W&B consumes again and has caught up, the finding goes away.
    reader.reading(True)
    reader.drain_once()
    assert queue_consumption_findings(queue_name=outputs.bucket_queue_name, cloudwatch=cloudwatch) == []


# -- events that must start no run -------------------------------------------------------------------------------------
def _sample(name: str, parameter: str, **envelope: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / "aws" / f"ssm_parameter_store_change_{name}.json").read_text())
    event = copy.deepcopy(event)
    event["detail"]["name"] = parameter
    event.update({"account": ACCOUNT_ID, "region": "us-east-1", **envelope})
    event["resources"] = [f"arn:aws:ssm:{event['region']}:{event['account']}:parameter{parameter}"]
    return event


def test_label_changes_failed_operations_and_other_accounts_events_start_no_run(deployer: SandboxDriver) -> None:
    deployment = deployer.push(OPERATOR_EXAMPLE)
    deployer.wait_until_idle()
    before = {e["executionArn"] for e in deployer.executions()}
    trigger_arn = deployer.sandbox.attribute("TriggerFunction", "Arn")
    delivered_before = [d for d in deployer.sandbox.deliveries if d["target"] == trigger_arn]
    parameter = f"{PREFIX}/{deployment}/infra/size"

    # A label on a parameter version (through SSM's own API: the sandbox emits AWS's event for it),
    ssm = client("ssm")
    version = ssm.get_parameter(Name=parameter)["Parameter"]["Version"]
    ssm.label_parameter_version(Name=parameter, ParameterVersion=version, Labels=["reviewed"])
    # and AWS's documented failed operation and changes from another account or region, on the default bus,
    rules = events_backends[ACCOUNT_ID]["us-east-1"].event_buses["default"].rules
    (rule,) = [r for r in rules.values() if r.targets and r.targets[0]["Arn"] == trigger_arn]
    for event in (
        _sample("create_failed", parameter),
        _sample("update", parameter, account="210987654321"),
        _sample("update", parameter, region="eu-west-1"),
    ):
        rule.send_to_targets(cast(Any, event))
    # while a real change in the same way is delivered (the check above is not vacuous),
    rule.send_to_targets(cast(Any, _sample("update", parameter)))
    deployer.wait_until_idle()

    delivered = [d for d in deployer.sandbox.deliveries if d["target"] == trigger_arn][len(delivered_before) :]
    assert len(delivered) == 1, delivered
    started = [e for e in deployer.executions() if e["executionArn"] not in before]
    assert len(started) == 1, started
