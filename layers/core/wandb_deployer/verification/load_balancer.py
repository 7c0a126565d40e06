"""W&B's load balancer as AWS sees it: found through the Route53 alias record of the W&B host, judged by the health of
its targets. Needs no network path to W&B, so it works for a W&B that admits only `allowed_inbound_cidr`.

Both generations publish the W&B host as an alias A record in `zone_id`: the legacy module's `aws_route53_record.alb`
(`modules/app_lb` at v2.8.0, alias of `aws_lb.alb`) and, in the operator generation, external-dns from the ingress
annotation `external-dns.alpha.kubernetes.io/hostname` (`main.tf` at v8.0.0), alias of the ALB the AWS load balancer
controller creates. The host is the module's `local.fqdn`. Shapes: botocore's route53 `ListResourceRecordSets`
(`AliasTarget.DNSName`) and elbv2 `DescribeLoadBalancers` / `DescribeTargetGroups` / `DescribeTargetHealth`
(`TargetHealth.State`, `Reason`, `Description`). Pure library: the caller passes the clients.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from wandb_deployer.errors import AwsRequestFailedError
from wandb_deployer.verification.aws_calls import aws_call

_MAX_LISTED = 3  # unhealthy targets named per target group in a finding


def wandb_fqdn(infra: Mapping[str, object]) -> str:
    """The W&B host the module publishes: `local.fqdn = var.subdomain == null ? var.domain_name :
    "${var.subdomain}.${var.domain_name}"` (main.tf at every tag v1.0.0 - v8.0.0); empty without a domain."""
    domain, subdomain = infra.get("domain_name"), infra.get("subdomain")
    if not isinstance(domain, str) or not domain:
        return ""
    return f"{subdomain}.{domain}" if isinstance(subdomain, str) and subdomain else domain


def _dns(name: str) -> str:
    """A DNS name compared the way Route53 and ELB write it: lowercase, no trailing dot, no `dualstack.` prefix."""
    return name.strip().rstrip(".").lower().removeprefix("dualstack.")


@dataclass(frozen=True)
class TargetGroupHealth:
    name: str
    healthy: int
    total: int
    not_healthy: tuple[str, ...]  # "<id>:<port> <state> (<reason>: <description>)", the first few

    def describe(self) -> str:
        shown = "; ".join(self.not_healthy)
        return f"{self.name}: {self.healthy}/{self.total} healthy" + (f" ({shown})" if shown else "")


@dataclass(frozen=True)
class LoadBalancerHealth:
    name: str
    dns_name: str
    groups: tuple[TargetGroupHealth, ...]

    @property
    def serving(self) -> bool:
        """Every target group has a healthy target: the load balancer can answer W&B's routes."""
        return bool(self.groups) and all(group.healthy > 0 for group in self.groups)

    def describe(self) -> str:
        if not self.groups:
            return f"load balancer {self.name} has no target groups"
        return f"load balancer {self.name}: " + "; ".join(group.describe() for group in self.groups)


@dataclass(frozen=True)
class LoadBalancerMissing:
    """Why the load balancer could not be found (or looked at)."""

    reason: str


def _alias_dns_name(host: str, zone_id: str, route53: Any) -> str | LoadBalancerMissing:
    answer = aws_call(
        "route53:ListResourceRecordSets",
        route53.list_resource_record_sets,
        not_found=("NoSuchHostedZone",),
        HostedZoneId=zone_id,
        StartRecordName=host,
        StartRecordType="A",
        MaxItems="2",
    )
    if answer is None:
        return LoadBalancerMissing(f"hosted zone {zone_id} does not exist")
    for record in answer.get("ResourceRecordSets", []):
        if _dns(str(record.get("Name", ""))) != _dns(host) or record.get("Type") not in {"A", "AAAA"}:
            continue
        alias = record.get("AliasTarget")
        if not alias:
            return LoadBalancerMissing(f"the record {host} in zone {zone_id} is not an alias of a load balancer")
        return _dns(str(alias.get("DNSName", "")))
    return LoadBalancerMissing(f"no A record {host} in hosted zone {zone_id}")


def _pages(elbv2: Any, operation: str, key: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    marker: str | None = None
    while True:
        page = aws_call(
            f"elasticloadbalancing:{operation}",
            getattr(elbv2, operation),
            **kwargs,
            **({"Marker": marker} if marker else {}),
        )
        yield from page.get(key, [])
        marker = page.get("NextMarker")
        if not marker:
            return


def _target(description: Mapping[str, Any]) -> str:
    target, health = description.get("Target", {}), description.get("TargetHealth", {})
    where = f"{target.get('Id')}:{target.get('Port')}" if target.get("Port") else str(target.get("Id"))
    reason = ": ".join(str(part) for part in (health.get("Reason"), health.get("Description")) if part)
    return f"{where} {health.get('State', 'unknown')}" + (f" ({reason})" if reason else "")


def _group_health(group: Mapping[str, Any], elbv2: Any) -> TargetGroupHealth:
    answer = aws_call(
        "elasticloadbalancing:DescribeTargetHealth",
        elbv2.describe_target_health,
        TargetGroupArn=group["TargetGroupArn"],
    )
    targets = answer.get("TargetHealthDescriptions", [])
    healthy = [t for t in targets if t.get("TargetHealth", {}).get("State") == "healthy"]
    others = [_target(t) for t in targets if t not in healthy]
    return TargetGroupHealth(str(group.get("TargetGroupName")), len(healthy), len(targets), tuple(others[:_MAX_LISTED]))


def load_balancer_health(
    *, host: str, zone_id: str, route53: Any, elbv2: Any
) -> LoadBalancerHealth | LoadBalancerMissing:
    """The health of the targets behind the load balancer that `host`'s alias record in `zone_id` points at.

    Access denied (an older deployer role) is reported as missing, not raised: this look is a diagnosis on top of the
    endpoint checks. Throttling raises TransientAwsError (the workflow retries it)."""
    try:
        dns_name = _alias_dns_name(host, zone_id, route53)
        if isinstance(dns_name, LoadBalancerMissing):
            return dns_name
        found = next(
            (lb for lb in _pages(elbv2, "describe_load_balancers", "LoadBalancers") if _dns(lb["DNSName"]) == dns_name),
            None,
        )
        if found is None:
            return LoadBalancerMissing(f"the record {host} points at {dns_name}, which is no load balancer here")
        groups = _pages(elbv2, "describe_target_groups", "TargetGroups", LoadBalancerArn=found["LoadBalancerArn"])
        return LoadBalancerHealth(
            name=str(found["LoadBalancerName"]),
            dns_name=dns_name,
            groups=tuple(_group_health(group, elbv2) for group in groups),
        )
    except AwsRequestFailedError as exc:
        return LoadBalancerMissing(f"the deployer could not look ({exc})")
