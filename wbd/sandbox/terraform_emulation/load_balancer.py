"""What fronts W&B in AWS, emulated after every apply: its load balancer, target group(s) and the Route53 alias record
of the W&B host. The deployer's health check finds W&B's load balancer through that record and reads its targets'
health (`wandb_deployer.verification.load_balancer`).

Who creates them, per the module's source:
- legacy generation (wandb/wandb/aws < 4; `modules/app_lb` at v2.8.0): Terraform itself. `aws_lb.alb` named
  `<namespace>-alb`, `aws_lb_target_group.app` `<namespace>-tg-app` (HTTP, port `internal_app_port` 32543, health check
  GET /healthz expecting 200), listeners, and `aws_route53_record.alb`: an A alias of the ALB at `local.fqdn` in
  `zone_id`.
- operator generation (>= 4; `main.tf` at v8.0.0): the cluster. The AWS load balancer controller makes the ALB from
  W&B's ingress (`alb.ingress.kubernetes.io/load-balancer-name` = `<namespace[:24]>-alb-k8s`, target-type ip,
  listener HTTPS 443 with the module's certificate), with a target group per backend service, named
  `k8s-<namespace:8>-<service:8>-<hash:10>` (the controller's naming); external-dns publishes `local.fqdn` as an alias
  of it (annotation `external-dns.alpha.kubernetes.io/hostname`). The ingress routes `/` to the app and `/console` to
  the console.

What the emulation does NOT model: it creates these in the emulator after a successful apply, outside Terraform state,
for both generations (in the legacy generation real Terraform would plan, track and drift-check them); no security
groups (the stand-in's `only_from` plays `allowed_inbound_cidr`); subnets are the emulator's default VPC's (the module's
VPC is not modelled); targets are IP targets pointing at the W&B stand-in's target port (`WBD_SANDBOX_WANDB_TARGET`),
legacy instance targets included; the service names `wandb-app` / `wandb-console` and the console's health check path
`/console/api/healthz` are this emulation's choice. A missing hosted zone fails the legacy apply (Terraform's record
resource cannot be created) and is reported, not fatal, in the operator generation (external-dns only logs it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from wbd.sandbox.terraform_emulation.environment import EmulationEnvironment, emulator_client
from wbd.sandbox.terraform_emulation.errors import ResourceOperationError
from wbd.sandbox.terraform_emulation.plan import SavedPlan
from wbd.sandbox.terraform_emulation.refresh import error_code
from wbd.sandbox.terraform_emulation.workspace import AWS_MODULE_SOURCE, FIRST_OPERATOR_MAJOR

Report = Callable[[str], None]
LEGACY_APP_PORT = 32543  # local.internal_app_port at v2.8.0
OPERATOR_APP_PORT = 8080  # the W&B app container's port
_LB_NAME_LENGTH = 32 - len("-alb-k8s")  # local.max_lb_name_length at v8.0.0


@dataclass(frozen=True)
class TargetGroupSpec:
    name: str
    port: int
    health_check_path: str
    path_pattern: str | None = None  # None: the listener's default action


@dataclass(frozen=True)
class FrontDoor:
    """The load balancer, its target groups and the alias record one deployment gets."""

    load_balancer: str
    groups: tuple[TargetGroupSpec, ...]
    fqdn: str
    zone_id: str
    operator_generation: bool

    @property
    def made_by(self) -> str:
        if self.operator_generation:
            return "AWS load balancer controller and external-dns, emulated"
        return "module.app_lb, emulated outside Terraform state"


def _major(version: str) -> int:
    digits = version.strip().lstrip("=~>< v").split(".", 1)[0]
    return int(digits) if digits.isdigit() else 0


def _controller_group_name(namespace: str, service: str, seed: str) -> str:
    digest = hashlib.md5(f"{namespace}/{service}/{seed}".encode(), usedforsecurity=False).hexdigest()
    sanitized = "".join(character for character in service if character.isalnum())
    return f"k8s-{namespace[:8]}-{sanitized[:8]}-{digest[:10]}"


def front_door(plan: SavedPlan) -> FrontDoor | None:
    """What fronts W&B for this plan's inputs; None without a domain and zone (no record, nothing to find)."""
    variables = plan.variables
    namespace = str(variables.get("namespace") or "")
    domain, subdomain, zone_id = (variables.get(name) for name in ("domain_name", "subdomain", "zone_id"))
    if not namespace or not isinstance(domain, str) or not domain or not isinstance(zone_id, str) or not zone_id:
        return None
    fqdn = f"{subdomain}.{domain}" if isinstance(subdomain, str) and subdomain else domain
    aws = next(
        (call for call in plan.module_calls.values() if call.get("source", "").endswith(AWS_MODULE_SOURCE)), None
    )
    operator = aws is not None and _major(aws.get("version_constraint", "")) >= FIRST_OPERATOR_MAJOR
    groups: tuple[TargetGroupSpec, ...]
    if operator:
        groups = (
            TargetGroupSpec(_controller_group_name("default", "wandb-app", namespace), OPERATOR_APP_PORT, "/healthz"),
            TargetGroupSpec(
                _controller_group_name("default", "wandb-console", namespace),
                OPERATOR_APP_PORT,
                "/console/api/healthz",
                "/console*",
            ),
        )
        return FrontDoor(f"{namespace[:_LB_NAME_LENGTH]}-alb-k8s", groups, fqdn, zone_id, True)
    groups = (TargetGroupSpec(f"{namespace}-tg-app", LEGACY_APP_PORT, "/healthz"),)
    return FrontDoor(f"{namespace}-alb", groups, fqdn, zone_id, False)


def _load_balancer(elbv2: Any, ec2: Any, name: str) -> dict[str, Any]:
    try:
        found: dict[str, Any] = elbv2.describe_load_balancers(Names=[name])["LoadBalancers"][0]
        return found
    except ClientError as exc:
        if error_code(exc) != "LoadBalancerNotFound":
            raise
    subnets = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]
    created: dict[str, Any] = elbv2.create_load_balancer(
        Name=name, Subnets=[subnet["SubnetId"] for subnet in subnets[:2]], Scheme="internet-facing", Type="application"
    )["LoadBalancers"][0]
    return created


def _target_group(elbv2: Any, spec: TargetGroupSpec, vpc_id: str) -> str:
    try:
        return str(elbv2.describe_target_groups(Names=[spec.name])["TargetGroups"][0]["TargetGroupArn"])
    except ClientError as exc:
        if error_code(exc) != "TargetGroupNotFound":
            raise
    return str(
        elbv2.create_target_group(
            Name=spec.name,
            Protocol="HTTP",
            Port=spec.port,
            VpcId=vpc_id,
            TargetType="ip",
            HealthCheckProtocol="HTTP",
            HealthCheckPath=spec.health_check_path,
            Matcher={"HttpCode": "200"},
        )["TargetGroups"][0]["TargetGroupArn"]
    )


def _certificate(acm: Any, fqdn: str) -> str:
    for summary in acm.list_certificates()["CertificateSummaryList"]:
        if summary.get("DomainName") == fqdn:
            return str(summary["CertificateArn"])
    return str(acm.request_certificate(DomainName=fqdn, ValidationMethod="DNS")["CertificateArn"])


def _listener(elbv2: Any, acm: Any, balancer: dict[str, Any], door: FrontDoor, groups: dict[str, str]) -> None:
    arn = balancer["LoadBalancerArn"]
    if elbv2.describe_listeners(LoadBalancerArn=arn)["Listeners"]:
        return
    default, *routed = door.groups
    listener = elbv2.create_listener(
        LoadBalancerArn=arn,
        Protocol="HTTPS",
        Port=443,
        Certificates=[{"CertificateArn": _certificate(acm, door.fqdn)}],
        DefaultActions=[{"Type": "forward", "TargetGroupArn": groups[default.name]}],
    )["Listeners"][0]
    for priority, spec in enumerate(routed, start=1):
        elbv2.create_rule(
            ListenerArn=listener["ListenerArn"],
            Priority=priority,
            Conditions=[{"Field": "path-pattern", "Values": [spec.path_pattern or "/*"]}],
            Actions=[{"Type": "forward", "TargetGroupArn": groups[spec.name]}],
        )


def _alias_record(route53: Any, door: FrontDoor, balancer: dict[str, Any], report: Report) -> None:
    record = {
        "Name": door.fqdn,
        "Type": "A",
        "AliasTarget": {
            "HostedZoneId": balancer["CanonicalHostedZoneId"],
            "DNSName": balancer["DNSName"],
            "EvaluateTargetHealth": True,
        },
    }
    try:
        route53.change_resource_record_sets(
            HostedZoneId=door.zone_id, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]}
        )
    except ClientError as exc:
        if error_code(exc) != "NoSuchHostedZone" or not door.operator_generation:
            raise ResourceOperationError(f"creating the Route53 record {door.fqdn}: {error_code(exc)}") from exc
        report(f"external-dns (emulated): no hosted zone {door.zone_id}; the record {door.fqdn} was not created")
        return
    report(f"Route53 alias record {door.fqdn} -> {balancer['DNSName']} ({door.made_by})")


def publish_front_door(plan: SavedPlan, environment: EmulationEnvironment, report: Report) -> None:
    """Create (or keep) the deployment's load balancer, target groups, targets and alias record in the emulator."""
    door = front_door(plan)
    if door is None:
        report("no domain_name/zone_id: no load balancer record is published (emulated)")
        return
    region = plan.region
    elbv2, ec2 = emulator_client("elbv2", region), emulator_client("ec2", region)
    try:
        balancer = _load_balancer(elbv2, ec2, door.load_balancer)
        groups = {spec.name: _target_group(elbv2, spec, balancer["VpcId"]) for spec in door.groups}
        _listener(elbv2, emulator_client("acm", region), balancer, door, groups)
        if environment.wandb_target:
            host, _, port = environment.wandb_target.rpartition(":")
            for group_arn in groups.values():
                elbv2.register_targets(TargetGroupArn=group_arn, Targets=[{"Id": host, "Port": int(port)}])
    except ClientError as exc:
        raise ResourceOperationError(f"creating the load balancer {door.load_balancer}: {error_code(exc)}") from exc
    report(f"load balancer {door.load_balancer}, target groups {', '.join(groups)} ({door.made_by})")
    _alias_record(emulator_client("route53", region), door, balancer, report)
