"""The emulation publishes what fronts W&B after an apply: the load balancer, its target group(s) and the Route53 alias
record of the W&B host, named per generation as the module (legacy) or the cluster's controllers (operator) do; and,
in the legacy generation, marks the queue W&B reads (the app module's BUCKET_QUEUE)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.terraform_emulation.workspaces import render_workspace
from wbd.sandbox.hosted_zones import provide_hosted_zone
from wbd.sandbox.terraform_emulation.app_wiring import READ_BY_TAG

pytestmark = pytest.mark.unit

ZONE = "Z0123456789ABCDEFGHIJ"
TARGET = "127.0.0.1:18080"


def with_zone(directory: Path, zone: str = ZONE) -> None:
    path = directory / "terraform.tfvars.json"
    tfvars = json.loads(path.read_text())
    path.write_text(json.dumps({**tfvars, "zone_id": zone}))


@pytest.fixture
def target(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("WBD_SANDBOX_WANDB_TARGET", TARGET)
    return TARGET


def alias_of(host: str) -> str:
    records = boto3.client("route53").list_resource_record_sets(HostedZoneId=ZONE)["ResourceRecordSets"]
    (record,) = [r for r in records if r["Name"] == f"{host}." and r["Type"] == "A"]
    return str(record["AliasTarget"]["DNSName"]).rstrip(".").lower()


def groups_of(balancer: str) -> dict[str, dict[str, Any]]:
    elbv2 = boto3.client("elbv2", region_name="us-east-1")
    (found,) = elbv2.describe_load_balancers(Names=[balancer])["LoadBalancers"]
    groups = elbv2.describe_target_groups(LoadBalancerArn=found["LoadBalancerArn"])["TargetGroups"]
    return {
        group["TargetGroupName"]: {
            "path": group["HealthCheckPath"],
            "targets": [
                f"{t['Target']['Id']}:{t['Target']['Port']}"
                for t in elbv2.describe_target_health(TargetGroupArn=group["TargetGroupArn"])[
                    "TargetHealthDescriptions"
                ]
            ],
            "dns": found["DNSName"].lower(),
        }
        for group in groups
    }


def test_operator_generation_gets_the_controllers_load_balancer_and_external_dns_record(
    workspace: Path, init_plan_apply: Any, target: str
) -> None:
    provide_hosted_zone(ZONE, "example.com", route53=boto3.client("route53"))
    with_zone(workspace)
    result = init_plan_apply()

    groups = groups_of("wandb-alb-k8s")
    assert sorted(group["path"] for group in groups.values()) == ["/console/api/healthz", "/healthz"]
    assert all(name.startswith("k8s-default-wandb") and len(name) <= 32 for name in groups)
    assert all(group["targets"] == [target] for group in groups.values())
    assert alias_of("wandb.example.com") == next(iter(groups.values()))["dns"]
    assert "emulated" in result.text


def test_legacy_generation_gets_the_app_lb_module_resources_and_its_queue_is_read_by_wandb(
    workspace: Path, init_plan_apply: Any, target: str
) -> None:
    render_workspace(workspace, module_version="2.8.0", legacy=True)
    provide_hosted_zone(ZONE, "example.com", route53=boto3.client("route53"))
    with_zone(workspace)
    init_plan_apply()

    groups = groups_of("wandb-alb")
    assert {name: group["path"] for name, group in groups.items()} == {"wandb-tg-app": "/healthz"}
    assert alias_of("wandb.example.com") == groups["wandb-tg-app"]["dns"]
    sqs = boto3.client("sqs", region_name="us-east-1")
    (url,) = sqs.list_queues()["QueueUrls"]
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {READ_BY_TAG: "wandb"}


def test_the_operator_generations_queue_is_read_by_nobody(workspace: Path, init_plan_apply: Any) -> None:
    provide_hosted_zone(ZONE, "example.com", route53=boto3.client("route53"))
    with_zone(workspace)
    init_plan_apply()
    sqs = boto3.client("sqs", region_name="us-east-1")
    (url,) = sqs.list_queues()["QueueUrls"]
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}


def test_a_missing_zone_fails_the_legacy_apply_and_is_only_reported_in_the_operator_generation(
    workspace: Path, terraform: Any
) -> None:
    with_zone(workspace)
    assert terraform("init", "-input=false").code == 0
    assert terraform("plan", "-input=false", "-out=tfplan").code == 0
    operator = terraform("apply", "-input=false", "tfplan")
    assert operator.code == 0, operator.text
    assert f"no hosted zone {ZONE}" in operator.text

    for path in workspace.glob("*.json"):
        path.unlink()
    render_workspace(workspace, module_version="2.8.0", legacy=True, namespace="legacy")
    with_zone(workspace)
    assert terraform("plan", "-input=false", "-out=tfplan").code == 0
    legacy = terraform("apply", "-input=false", "tfplan")
    assert legacy.code == 1
    assert "NoSuchHostedZone" in legacy.text
