"""Pre-flight capacity checks of the 7.x -> 8.x module step: the EC2 On-Demand vCPU quota against current usage plus
the cluster's nodes once more, and each node subnet's free IPs against what its nodes use.

EC2 (instances, instance types, subnets) is moto's. moto 5.2.5's Service Quotas answers GetServiceQuota for the `vpc`
service only, so the quota comes from a botocore Stubber with the response shape of AWS's API reference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from tests.unit.runs.conftest import TABLE, create_deployments_table
from tests.unit.upgrade.test_runbook_execution import PREFIX, v8_runbook
from wandb_deployer.errors import RunbookPreflightFailedError
from wandb_deployer.upgrade.preflight import ON_DEMAND_STANDARD_QUOTA, check_capacity
from wandb_deployer.upgrade.runbook_execution import record_preflight, start_runbook
from wandb_deployer.upgrade.runbook_record import read_runbook

pytestmark = pytest.mark.unit

REGION = "eu-central-1"
AMI = "ami-12c6146b"  # one of moto's default AMIs


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name=REGION)


def quotas(value: float) -> Any:
    client = boto3.client("service-quotas", region_name=REGION)
    stub = Stubber(client)
    stub.add_response(
        "get_service_quota",
        {
            "Quota": {
                "ServiceCode": "ec2",
                "ServiceName": "Amazon Elastic Compute Cloud (Amazon EC2)",
                "QuotaCode": ON_DEMAND_STANDARD_QUOTA,
                "QuotaName": "Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances",
                "Value": value,
                "Unit": "None",
                "Adjustable": True,
                "GlobalQuota": False,
            }
        },
        {"ServiceCode": "ec2", "QuotaCode": ON_DEMAND_STANDARD_QUOTA},
    )
    stub.activate()
    return client


def subnet(ec2: Any, cidr: str) -> str:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    return str(ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"])


def run(ec2: Any, count: int, instance_type: str, subnet_id: str, cluster: str | None = "wandb") -> None:
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "eks:cluster-name", "Value": cluster}]}] if cluster else []
    ec2.run_instances(
        ImageId=AMI,
        MinCount=count,
        MaxCount=count,
        InstanceType=instance_type,
        SubnetId=subnet_id,
        TagSpecifications=tags,
    )


def test_quota_holds_usage_plus_the_nodes_once_more(ec2: Any) -> None:
    # Given 3 m5.large nodes (2 vCPUs each) and another on-demand m5.xlarge (4): 10 vCPUs in use
    private = subnet(ec2, "10.0.1.0/24")
    run(ec2, 3, "m5.large", private)
    run(ec2, 1, "m5.xlarge", private, cluster=None)

    ok = check_capacity(cluster_name="wandb", ec2=ec2, service_quotas=quotas(16))
    short = check_capacity(cluster_name="wandb", ec2=ec2, service_quotas=quotas(15))

    assert [(r.check, r.passed) for r in ok] == [("ec2-vcpu-quota", True), ("subnet-free-ips", True)]
    assert "10 in use, the node-group replacement adds 6 (3 nodes) for a peak of 16" in ok[0].message
    assert (short[0].passed, short[0].fix) == (
        False,
        "aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-1216C47A "
        "--desired-value 16, then retry the upgrade",
    )


def test_a_subnet_without_room_for_the_replacement_nodes_fails(ec2: Any) -> None:
    # Given a /28 (11 usable addresses in AWS) holding 6 nodes: 5 free, the replacements need 6
    tight, roomy = subnet(ec2, "10.0.2.0/28"), subnet(ec2, "10.0.3.0/24")
    run(ec2, 6, "t3.medium", tight)
    run(ec2, 2, "t3.medium", roomy)

    results = check_capacity(cluster_name="wandb", ec2=ec2, service_quotas=quotas(1000))

    by_subnet = {r.message.split()[1]: r for r in results if r.check == "subnet-free-ips"}
    assert by_subnet[tight].passed is False and "has 5 free IPs; its nodes use 6" in by_subnet[tight].message
    assert by_subnet[tight].fix == f"free 1 or more addresses in {tight} (or widen it)"
    assert by_subnet[roomy].passed is True


def test_another_clusters_nodes_are_not_doubled(ec2: Any) -> None:
    private = subnet(ec2, "10.0.1.0/24")
    run(ec2, 2, "m5.large", private, cluster="other")
    results = check_capacity(cluster_name="wandb", ec2=ec2, service_quotas=quotas(0))
    assert [(r.passed, r.message) for r in results] == [
        (True, "cluster 'wandb' has no running nodes: the replacement needs no extra capacity")
    ]


def test_a_failed_check_stops_the_runbook_before_approval(ec2: Any) -> None:
    dynamodb, ssm = boto3.client("dynamodb", region_name=REGION), boto3.client("ssm", region_name=REGION)
    create_deployments_table(dynamodb)
    state = start_runbook(
        v8_runbook(), requested_by="a", request_id=None, prefix=PREFIX, ssm=ssm, table=TABLE, dynamodb=dynamodb
    )
    run(ec2, 3, "m5.large", subnet(ec2, "10.0.1.0/24"))
    results = check_capacity(cluster_name="wandb", ec2=ec2, service_quotas=quotas(4))

    with pytest.raises(RunbookPreflightFailedError) as raised:
        record_preflight(state, results, execution_arn="arn:x", table=TABLE, dynamodb=dynamodb)

    assert "ec2-vcpu-quota FAILED" in str(raised.value)
    stopped = read_runbook(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert stopped is not None and stopped.status == "stopped"
    assert stopped.steps[0].preflight == [result.line() for result in results]
    assert stopped.reason == "step 1/3 module: 1 pre-flight check(s) failed (nothing was applied)"
