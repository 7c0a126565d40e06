"""The sandbox's IAM enforcement judges requests as AWS would where moto alone does not: by the resource of services
moto checks against `*`, under IAM's action names and service prefixes, with Route53's GETs signed as clients sign
them; and it records every decision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from wbd.sandbox import iam_enforcement
from wbd.sandbox.iam_enforcement import Ledger

pytestmark = pytest.mark.unit

ACCOUNT = "123456789012"


def user_with(iam: Any, statements: list[dict[str, Any]]) -> dict[str, str]:
    """Credentials of a new IAM user whose only policy has `statements`."""
    iam.create_user(UserName="someone")
    document = {"Version": "2012-10-17", "Statement": statements}
    iam.put_user_policy(UserName="someone", PolicyName="only", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName="someone")["AccessKey"]
    return {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


@pytest.fixture
def enforced(monkeypatch: pytest.MonkeyPatch) -> Iterator[Ledger]:
    """moto with a ledger; the IAM users' long-term keys sign without a session token."""
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    monkeypatch.delenv("AWS_SECURITY_TOKEN")
    with mock_aws():
        yield Ledger()


def enforce(ledger: Ledger, patches: ExitStack) -> None:
    """From here on (until `patches` closes), every request is authorized."""
    iam_enforcement.install(patches, ledger)


def denied(call: Any, **kwargs: Any) -> bool:
    try:
        call(**kwargs)
    except ClientError as exc:
        return exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    return False


def test_a_table_scoped_grant_allows_its_table_only(enforced: Ledger) -> None:
    admin = boto3.client("dynamodb", region_name="us-east-1")
    for table in ("mine", "other"):
        admin.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    grant = {
        "Effect": "Allow",
        "Action": "dynamodb:GetItem",
        "Resource": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/mine",
    }
    credentials = user_with(boto3.client("iam", region_name="us-east-1"), [grant])
    with ExitStack() as patches:
        enforce(enforced, patches)
        dynamodb = boto3.client("dynamodb", region_name="us-east-1", **credentials)
        dynamodb.get_item(TableName="mine", Key={"pk": {"S": "x"}})
        assert denied(dynamodb.get_item, TableName="other", Key={"pk": {"S": "x"}})
    decisions = {(d.action, d.resource.rsplit("/", 1)[-1], d.allowed) for d in enforced.snapshot()}
    assert decisions == {("dynamodb:GetItem", "mine", True), ("dynamodb:GetItem", "other", False)}


def test_route53_is_judged_by_hosted_zone_and_its_gets_pass_the_signature_check(enforced: Ledger) -> None:
    admin = boto3.client("route53", region_name="us-east-1")
    zones = [admin.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"] for name in ("a.", "b.")]
    mine, other = (zone.rsplit("/", 1)[-1] for zone in zones)
    grant = {
        "Effect": "Allow",
        "Action": "route53:ListResourceRecordSets",
        "Resource": f"arn:aws:route53:::hostedzone/{mine}",
    }
    credentials = user_with(boto3.client("iam", region_name="us-east-1"), [grant])
    with ExitStack() as patches:
        enforce(enforced, patches)
        route53 = boto3.client("route53", region_name="us-east-1", **credentials)
        assert route53.list_resource_record_sets(HostedZoneId=mine)["ResourceRecordSets"]
        assert denied(route53.list_resource_record_sets, HostedZoneId=other)
    assert ("route53:ListResourceRecordSets", f"arn:aws:route53:::hostedzone/{mine}", True) in {
        (d.action, d.resource, d.allowed) for d in enforced.snapshot()
    }


def test_cloudwatch_is_judged_under_iams_prefix_and_s3_subresources_by_their_own_action(enforced: Ledger) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="files")
    s3.put_bucket_encryption(
        Bucket="files",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    grants = [
        {"Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*"},
        {"Effect": "Allow", "Action": "s3:GetEncryptionConfiguration", "Resource": "arn:aws:s3:::files"},
    ]
    credentials = user_with(boto3.client("iam", region_name="us-east-1"), grants)
    with ExitStack() as patches:
        enforce(enforced, patches)
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", **credentials)
        cloudwatch.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "age",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage"},
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime="2026-01-01T00:00:00Z",
            EndTime="2026-01-01T01:00:00Z",
        )
        user_s3 = boto3.client("s3", region_name="us-east-1", **credentials)
        user_s3.get_bucket_encryption(Bucket="files")
        assert denied(user_s3.list_objects_v2, Bucket="files")  # no s3:ListBucket: GET ?encryption is not one
    allowed = {(d.action, d.allowed) for d in enforced.snapshot()}
    assert {("cloudwatch:GetMetricData", True), ("s3:GetEncryptionConfiguration", True)} <= allowed
    assert ("s3:ListBucket", False) in allowed


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        ("arn:aws:s3:::b/runs/*/plan.json", "arn:aws:s3:::b/runs/x/y/plan.json", True),
        ("arn:aws:s3:::b/runs/*/plan.json", "arn:aws:s3:::b/runs/x/planXjson", False),  # `.` is a dot in IAM
        ("arn:aws:s3:::b/lock?", "arn:aws:s3:::b/lock1", True),
        ("arn:aws:s3:::b/lock?", "arn:aws:s3:::b/lock12", False),
        ("arn:aws:ssm:*:1:parameter/p/(x)+", "arn:aws:ssm:us-east-1:1:parameter/p/(x)+", True),
        ("arn:aws:ssm:*:1:parameter/p/(x)+", "arn:aws:ssm:us-east-1:1:parameter/p/xx", False),
        ("arn:aws:ssm:*:1:parameter/p/a", "arn:aws:ssm:us-east-1:1:parameter/p/ab", False),  # the whole value
    ],
)
def test_policy_patterns_match_as_iam_matches_them(pattern: str, value: str, matches: bool) -> None:
    assert (iam_enforcement.wildcard_match(pattern, value) is not None) is matches


def test_a_dot_in_a_granted_resource_is_literal_under_enforcement(enforced: Ledger) -> None:
    admin = boto3.client("s3", region_name="us-east-1")
    admin.create_bucket(Bucket="bucket-b")
    for key in ("plan.json", "planXjson"):
        admin.put_object(Bucket="bucket-b", Key=key, Body=b"{}")
    grant = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket-b/plan.json"}
    credentials = user_with(boto3.client("iam", region_name="us-east-1"), [grant])
    with ExitStack() as patches:
        enforce(enforced, patches)
        s3 = boto3.client("s3", region_name="us-east-1", **credentials)
        s3.get_object(Bucket="bucket-b", Key="plan.json")
        assert denied(s3.get_object, Bucket="bucket-b", Key="planXjson")
