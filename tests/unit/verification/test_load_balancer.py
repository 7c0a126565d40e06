"""W&B's load balancer, found through the host's Route53 alias record and judged by its targets' health (moto, with
the sandbox's emulated ELB health checker probing a local W&B stand-in), and how that view corrects the endpoint check:
a W&B that admits only allowed_inbound_cidr is healthy-but-unreachable, unhealthy targets are their own error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any
from unittest.mock import MagicMock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from tests.unit.verification.conftest import REGION
from wandb_deployer.deploy.health_step import assess_health
from wandb_deployer.errors import TransientAwsError
from wandb_deployer.states import HealthResult
from wandb_deployer.verification.findings import finding
from wandb_deployer.verification.load_balancer import (
    LoadBalancerHealth,
    LoadBalancerMissing,
    TargetGroupHealth,
    load_balancer_health,
    wandb_fqdn,
)
from wandb_deployer.verification.reach import judge_reach
from wbd.sandbox.hosted_zones import provide_hosted_zone
from wbd.sandbox.target_health import install_target_health_checks
from wbd.sandbox.wandb_standin import WandbStandIn

pytestmark = pytest.mark.unit

ZONE, DOMAIN, HOST = "Z0123456789ABCDEFGHIJ", "example.com", "wandb.example.com"


@dataclass
class Front:
    route53: Any
    elbv2: Any
    standin: WandbStandIn
    balancer: dict[str, Any]


@pytest.fixture
def route53() -> Iterator[Any]:
    """The hosted zone ZONE of DOMAIN."""
    with mock_aws():
        client = boto3.client("route53")
        provide_hosted_zone(ZONE, DOMAIN, route53=client)
        yield client


@pytest.fixture
def front(route53: Any) -> Iterator[Front]:
    """W&B behind an ALB (two target groups, as the operator generation's ingress), aliased at HOST in ZONE."""
    with ExitStack() as patches, WandbStandIn() as standin:
        install_target_health_checks(patches)
        elbv2 = boto3.client("elbv2", region_name=REGION)
        subnets = boto3.client("ec2", region_name=REGION).describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}]
        )["Subnets"]
        balancer = elbv2.create_load_balancer(
            Name="wandb-alb-k8s", Subnets=[s["SubnetId"] for s in subnets[:2]], Type="application"
        )["LoadBalancers"][0]
        host, port = standin.target_address.split(":")
        arns = []
        for name, path in (
            ("k8s-default-wandbapp-0123456789", "/healthz"),
            ("k8s-default-wandbcon-0123456789", "/console/api/healthz"),
        ):
            arn = elbv2.create_target_group(
                Name=name, Protocol="HTTP", Port=8080, VpcId=balancer["VpcId"], TargetType="ip", HealthCheckPath=path
            )["TargetGroups"][0]["TargetGroupArn"]
            elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": host, "Port": int(port)}])
            arns.append(arn)
        certificate = boto3.client("acm", region_name=REGION).request_certificate(DomainName=HOST)["CertificateArn"]
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer["LoadBalancerArn"],
            Protocol="HTTPS",
            Port=443,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=[{"Type": "forward", "TargetGroupArn": arns[0]}],
        )["Listeners"][0]
        elbv2.create_rule(
            ListenerArn=listener["ListenerArn"],
            Priority=1,
            Conditions=[{"Field": "path-pattern", "Values": ["/console*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": arns[1]}],
        )
        alias(route53, HOST, balancer["DNSName"], balancer["CanonicalHostedZoneId"])
        yield Front(route53, elbv2, standin, balancer)


def alias(route53: Any, name: str, dns_name: str, zone: str) -> None:
    record = {
        "Name": name,
        "Type": "A",
        "AliasTarget": {"HostedZoneId": zone, "DNSName": f"dualstack.{dns_name}.", "EvaluateTargetHealth": True},
    }
    route53.change_resource_record_sets(
        HostedZoneId=ZONE, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )


def health(front: Front, host: str = HOST, zone: str = ZONE) -> LoadBalancerHealth | LoadBalancerMissing:
    return load_balancer_health(host=host, zone_id=zone, route53=front.route53, elbv2=front.elbv2)


def lookup(route53: Any, host: str, zone: str = ZONE) -> LoadBalancerHealth | LoadBalancerMissing:
    """The look-up when the record does not lead to a load balancer (no ELB call is expected)."""
    elbv2 = MagicMock(describe_load_balancers=MagicMock(return_value={"LoadBalancers": []}))
    return load_balancer_health(host=host, zone_id=zone, route53=route53, elbv2=elbv2)


# -- finding the load balancer and reading its targets -----------------------------------------------------------------
def test_the_host_record_leads_to_the_load_balancer_and_its_healthy_targets(front: Front) -> None:
    found = health(front)
    assert isinstance(found, LoadBalancerHealth) and found.serving
    assert found.name == "wandb-alb-k8s"
    assert [(g.name, g.healthy, g.total) for g in found.groups] == [
        ("k8s-default-wandbapp-0123456789", 1, 1),
        ("k8s-default-wandbcon-0123456789", 1, 1),
    ]
    # the load balancer's own health checks reached the pods' port, not the listener
    assert sorted(front.standin.target_requests) == ["/console/api/healthz", "/healthz"]
    assert front.standin.requests == []


def test_pods_failing_the_health_check_are_reported_with_elbs_reason(front: Front) -> None:
    front.standin.set_healthy(False)
    found = health(front)
    assert isinstance(found, LoadBalancerHealth) and not found.serving
    described = found.describe()
    assert "0/1 healthy" in described
    assert "unhealthy (Target.ResponseCodeMismatch: Health checks failed with these codes: [503])" in described


def test_pods_that_are_gone_fail_their_health_checks(front: Front) -> None:
    front.standin.down()
    found = health(front)
    assert isinstance(found, LoadBalancerHealth) and not found.serving
    assert "Target.FailedHealthChecks" in found.describe()


@pytest.mark.parametrize(
    ("host", "zone", "reason"),
    [
        (HOST, "ZNOSUCHZONE0000000000", "hosted zone ZNOSUCHZONE0000000000 does not exist"),
        ("other.example.com", ZONE, "no A record other.example.com in hosted zone"),
    ],
)
def test_a_missing_zone_or_record_is_reported_as_missing(route53: Any, host: str, zone: str, reason: str) -> None:
    found = lookup(route53, host, zone)
    assert isinstance(found, LoadBalancerMissing) and reason in found.reason


def test_a_plain_record_is_not_a_load_balancer(route53: Any) -> None:
    record = {"Name": "plain.example.com", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.10"}]}
    route53.change_resource_record_sets(
        HostedZoneId=ZONE, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
    )
    found = lookup(route53, "plain.example.com")
    assert isinstance(found, LoadBalancerMissing) and "not an alias" in found.reason


def test_an_alias_of_something_else_is_not_found(route53: Any) -> None:
    alias(route53, "cdn.example.com", "d111111abcdef8.cloudfront.net", "Z2FDTNDATAQYW2")
    found = lookup(route53, "cdn.example.com")
    assert isinstance(found, LoadBalancerMissing) and "no load balancer here" in found.reason


def _failing(code: str) -> Any:
    error = ClientError({"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 400}}, "X")
    return MagicMock(side_effect=error)


def test_no_permission_to_look_is_missing_not_a_crash() -> None:
    route53 = MagicMock(list_resource_record_sets=_failing("AccessDenied"))
    found = load_balancer_health(host=HOST, zone_id=ZONE, route53=route53, elbv2=MagicMock())
    assert isinstance(found, LoadBalancerMissing) and "AccessDenied" in found.reason


def test_throttling_is_retried_by_the_workflow(route53: Any) -> None:
    alias(route53, HOST, "wandb-alb-1.us-east-1.elb.amazonaws.com", "Z35SXDOTRQ7X7K")
    elbv2 = MagicMock(describe_load_balancers=_failing("Throttling"))
    with pytest.raises(TransientAwsError):
        load_balancer_health(host=HOST, zone_id=ZONE, route53=route53, elbv2=elbv2)


def test_wandb_host_is_the_modules_fqdn() -> None:
    assert wandb_fqdn({"domain_name": "example.com", "subdomain": "wandb"}) == "wandb.example.com"
    assert wandb_fqdn({"domain_name": "example.com"}) == "example.com"
    assert wandb_fqdn({"subdomain": "wandb"}) == ""


# -- judging reach -----------------------------------------------------------------------------------------------------
def _endpoints(*codes: str) -> HealthResult:
    return HealthResult(healthy=False, attempt=0, findings=[finding(code, f"{code} happened") for code in codes])


SERVING = LoadBalancerHealth("wandb-alb", "wandb-alb-1.elb.amazonaws.com", (TargetGroupHealth("tg", 2, 2, ()),))
DOWN = LoadBalancerHealth(
    "wandb-alb", "x", (TargetGroupHealth("tg", 0, 1, ("10.0.0.5:8080 unhealthy (Target.Timeout: Request timed out)",)),)
)


def test_a_timeout_while_the_targets_are_healthy_is_a_warning_and_passes() -> None:
    judged = judge_reach(_endpoints("PLAIN_HTTP", "TIMEOUT"), SERVING, HOST)
    assert judged.healthy
    assert [(f.code, f.severity) for f in judged.findings] == [
        ("PLAIN_HTTP", "info"),
        ("UNREACHABLE_FROM_DEPLOYER", "warning"),
    ]
    assert "TIMEOUT happened" in judged.findings[1].message and "2/2 healthy" in judged.findings[1].message


def test_server_errors_stay_errors_even_with_healthy_targets() -> None:
    judged = judge_reach(_endpoints("HTTP_5XX"), SERVING, HOST)
    assert not judged.healthy and [f.code for f in judged.findings] == ["HTTP_5XX"]


def test_unhealthy_targets_are_their_own_error() -> None:
    judged = judge_reach(_endpoints("TIMEOUT"), DOWN, HOST)
    assert not judged.healthy
    assert [(f.code, f.severity) for f in judged.findings] == [("TIMEOUT", "error"), ("TARGETS_UNHEALTHY", "error")]
    assert "Target.Timeout" in judged.findings[1].message


def test_a_load_balancer_without_target_groups_is_not_serving() -> None:
    judged = judge_reach(_endpoints("TIMEOUT"), LoadBalancerHealth("wandb-alb", "x", ()), HOST)
    assert not judged.healthy and "has no target groups" in judged.findings[-1].message


def test_a_missing_load_balancer_is_a_warning_beside_the_endpoint_error() -> None:
    judged = judge_reach(_endpoints("TIMEOUT"), LoadBalancerMissing("no A record"), HOST)
    assert not judged.healthy
    assert [(f.code, f.severity) for f in judged.findings] == [
        ("TIMEOUT", "error"),
        ("LOAD_BALANCER_NOT_FOUND", "warning"),
    ]


# -- the whole attempt, as the Check health step runs it --------------------------------------------------------------
def test_a_wandb_admitting_only_other_sources_passes_through_its_load_balancer(
    front: Front, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wandb_deployer.deploy import health_step

    monkeypatch.setattr(health_step, "check_health", _short_timeout(health_step.check_health))
    front.standin.only_from(["203.0.113.0/24"])
    result = assess_health(
        url=front.standin.url,
        generation="operator",
        attempt=0,
        api_key=None,
        desired_version=None,
        wandb_host=HOST,
        zone_id=ZONE,
        region=REGION,
    )
    assert result.healthy, result.findings
    assert "UNREACHABLE_FROM_DEPLOYER" in [f.code for f in result.findings]
    assert front.standin.held == ["127.0.0.1"] and front.standin.requests == []


def _short_timeout(check: Any) -> Any:
    def run(**kwargs: Any) -> HealthResult:
        return check(**kwargs, timeout_seconds=0.5)

    return run
