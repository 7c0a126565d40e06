"""template.yaml's security controls that no emulator enforces (the sandbox cannot delete a stack, evaluate a key,
bucket or bus policy): checked on the template itself. Security review, items 2, 9 and 10."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REPO
from wbd.sandbox.template import parse_template_text

pytestmark = pytest.mark.unit

TEMPLATE = parse_template_text((REPO / "template.yaml").read_text(encoding="utf-8"))
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]


def statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    found = policy["Statement"]
    return [item for item in found if isinstance(item, dict) and "Effect" in item] + [
        branch
        for item in found
        if isinstance(item, dict) and "Fn::If" in item
        for branch in item["Fn::If"][1:]
        if isinstance(branch, dict) and "Effect" in branch
    ]


def test_the_deployer_key_outlives_the_stack_like_what_it_encrypts() -> None:
    encrypted = [
        logical_id
        for logical_id, resource in RESOURCES.items()
        if "DeployerKey" in str(resource.get("Properties", {}).get("BucketEncryption", ""))
        or "DeployerKey" in str(resource.get("Properties", {}).get("SSESpecification", ""))
    ]
    assert {"ArtifactsBucket", "StateBucket", "DeploymentsTable"} <= set(encrypted)
    for logical_id in [*encrypted, "DeployerKey"]:
        assert RESOURCES[logical_id].get("DeletionPolicy") == "Retain", logical_id
        assert RESOURCES[logical_id].get("UpdateReplacePolicy") == "Retain", logical_id


def test_service_principals_use_the_key_only_on_behalf_of_this_account() -> None:
    # Either aws:SourceAccount, or (CloudWatch Logs, as AWS documents it) the log group ARN of this account and region
    # in the encryption context.
    for statement in statements(RESOURCES["DeployerKey"]["Properties"]["KeyPolicy"]):
        if "Service" not in statement.get("Principal", {}):
            continue
        condition = statement["Condition"]
        if "StringEquals" in condition:
            assert condition["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        else:
            context = condition["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
            assert context == {"Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"}


def test_state_writes_that_are_not_sse_kms_with_the_deployer_key_are_denied() -> None:
    policy = RESOURCES["StateBucketPolicy"]["Properties"]["PolicyDocument"]
    denies = [s for s in statements(policy) if s["Effect"] == "Deny" and s["Action"] == "s3:PutObject"]
    conditions = [s["Condition"] for s in denies]
    assert {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}} in conditions
    assert {
        "StringNotEqualsIfExists": {
            "s3:x-amz-server-side-encryption-aws-kms-key-id": {"Fn::GetAtt": ["DeployerKey", "Arn"]}
        }
    } in conditions


def test_only_this_account_and_the_upgrade_requesters_may_request_upgrades_on_the_bus() -> None:
    policy = RESOURCES["EventBus"]["Properties"]["Policy"]
    by_sid = {statement["Sid"]: statement for statement in statements(policy)}
    assert by_sid["OnlyThisAccount"]["Effect"] == "Deny"
    assert by_sid["OnlyThisAccount"]["Condition"] == {
        "StringNotEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
    }
    requesters = by_sid["UpgradeRequestsFromUpgradeRequesters"]
    assert requesters["Effect"] == "Deny"
    assert requesters["Condition"]["StringEquals"] == {"events:detail-type": "Upgrade Requested"}
    assert requesters["Condition"]["ArnNotLike"] == {"aws:PrincipalArn": {"Ref": "UpgradeRequesterArns"}}
