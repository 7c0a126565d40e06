"""Pre-flight capacity checks before a runbook step that replaces the node groups (docs/v8-upgrade-guide.md, Upgrade
runbook, step 4: "The graceful NG/LT replacement briefly doubles EC2 capacity per AZ during apply").

- EC2 quota: the account's running On-Demand Standard instances' vCPUs (quota L-1216C47A of Service Quotas) must hold
  the current usage plus the cluster's nodes once more ("current usage + same-again should not exceed the EC2 service
  quota");
- subnet IPs: each subnet the nodes run in must have as many free addresses (`AvailableIpAddressCount`) as the nodes
  use there now ("Confirm each private subnet has 2x steady-state headroom").

The cluster's nodes are the running instances EKS tags `eks:cluster-name = <cluster>` (managed node groups tag their
instances so). Results are findings: a failed one stops the runbook before anything is applied, with its fix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from wandb_deployer.verification.aws_calls import aws_call

ON_DEMAND_STANDARD_QUOTA = "L-1216C47A"  # Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances, vCPUs
STANDARD_FAMILIES = frozenset("acdhimrtz")
CLUSTER_TAG = "eks:cluster-name"


class PreflightResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    check: str
    passed: bool
    message: str
    fix: str = ""

    def line(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return f"{self.check} {verdict}: {self.message}" + (f" (fix: {self.fix})" if self.fix else "")


def _running_instances(ec2: Any, filters: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    wanted = [{"Name": "instance-state-name", "Values": ["running"]}, *filters]
    token: str | None = None
    while True:
        page = aws_call(
            "listing running EC2 instances",
            ec2.describe_instances,
            Filters=wanted,
            **({"NextToken": token} if token else {}),
        )
        for reservation in page.get("Reservations", []):
            yield from reservation.get("Instances", [])
        token = page.get("NextToken")
        if not token:
            return


def _vcpus(ec2: Any, instance_types: Iterable[str]) -> dict[str, int]:
    types = sorted(set(instance_types))
    found: dict[str, int] = {}
    for start in range(0, len(types), 100):
        page = aws_call(
            "reading EC2 instance types", ec2.describe_instance_types, InstanceTypes=types[start : start + 100]
        )
        for described in page.get("InstanceTypes", []):
            found[described["InstanceType"]] = int(described["VCpuInfo"]["DefaultVCpus"])
    return found


def _standard_on_demand(instance: dict[str, Any]) -> bool:
    family = str(instance.get("InstanceType", "")).split(".", 1)[0]
    return instance.get("InstanceLifecycle") != "spot" and family[:1] in STANDARD_FAMILIES and family[:2] != "dl"


def check_capacity(*, cluster_name: str, ec2: Any, service_quotas: Any) -> list[PreflightResult]:
    """The EC2 quota and subnet IP checks for doubling the cluster's nodes; one result per check (per subnet)."""
    nodes = list(_running_instances(ec2, [{"Name": f"tag:{CLUSTER_TAG}", "Values": [cluster_name]}]))
    if not nodes:
        return [
            PreflightResult(
                check="ec2-vcpu-quota",
                passed=True,
                message=f"cluster {cluster_name!r} has no running nodes: the replacement needs no extra capacity",
            )
        ]
    on_demand = [i for i in _running_instances(ec2, []) if _standard_on_demand(i)]
    vcpus = _vcpus(ec2, [i["InstanceType"] for i in [*nodes, *on_demand]])
    in_use = sum(vcpus.get(i["InstanceType"], 0) for i in on_demand)
    extra = sum(vcpus.get(i["InstanceType"], 0) for i in nodes if _standard_on_demand(i))
    return [_quota_result(service_quotas, in_use, extra, len(nodes)), *_subnet_results(ec2, nodes)]


def _quota_result(service_quotas: Any, in_use: int, extra: int, node_count: int) -> PreflightResult:
    quota = aws_call(
        f"reading EC2 quota {ON_DEMAND_STANDARD_QUOTA}",
        service_quotas.get_service_quota,
        ServiceCode="ec2",
        QuotaCode=ON_DEMAND_STANDARD_QUOTA,
    )["Quota"]
    limit = int(float(quota["Value"]))
    peak = in_use + extra
    message = (
        f"{quota.get('QuotaName') or ON_DEMAND_STANDARD_QUOTA} is {limit} vCPUs; {in_use} in use, the node-group "
        f"replacement adds {extra} ({node_count} nodes) for a peak of {peak}"
    )
    if peak <= limit:
        return PreflightResult(check="ec2-vcpu-quota", passed=True, message=message)
    return PreflightResult(
        check="ec2-vcpu-quota",
        passed=False,
        message=message,
        fix=(
            "aws service-quotas request-service-quota-increase --service-code ec2 --quota-code "
            f"{ON_DEMAND_STANDARD_QUOTA} --desired-value {peak}, then retry the upgrade"
        ),
    )


def _subnet_results(ec2: Any, nodes: list[dict[str, Any]]) -> list[PreflightResult]:
    used: dict[str, int] = defaultdict(int)
    for node in nodes:
        interfaces = node.get("NetworkInterfaces") or []
        addresses = sum(len(i.get("PrivateIpAddresses") or [None]) for i in interfaces) or 1
        used[str(node.get("SubnetId"))] += addresses
    found = aws_call("reading the nodes' subnets", ec2.describe_subnets, SubnetIds=sorted(used))
    results = []
    for subnet in sorted(found.get("Subnets", []), key=lambda s: str(s["SubnetId"])):
        subnet_id, free = str(subnet["SubnetId"]), int(subnet["AvailableIpAddressCount"])
        need = used[subnet_id]
        message = f"subnet {subnet_id} has {free} free IPs; its nodes use {need} now and their replacements as many"
        results.append(
            PreflightResult(
                check="subnet-free-ips",
                passed=free >= need,
                message=message,
                fix="" if free >= need else f"free {need - free} or more addresses in {subnet_id} (or widen it)",
            )
        )
    return results
