"""Queue-policy evaluation for S3's delivery: the variants people write by hand, and the overrides that break them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.verification.conftest import ACCOUNT, BUCKET_ARN, QUEUE_ARN
from wandb_deployer.verification.policy import (
    DeliveryRequest,
    PolicyVerdict,
    evaluate_delivery,
    parse_policy,
    wildcard_match,
)

pytestmark = pytest.mark.unit

REQUEST = DeliveryRequest(queue_arn=QUEUE_ARN, bucket_arn=BUCKET_ARN, bucket_account=ACCOUNT)


def allow(**overrides: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN,
        "Condition": {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}},
    }
    statement.update(overrides)
    return {key: value for key, value in statement.items() if value is not None}


def verdict(*statements: dict[str, Any]) -> PolicyVerdict:
    return evaluate_delivery(parse_policy(json.dumps({"Statement": list(statements)})), REQUEST).verdict


@pytest.mark.parametrize(
    "action", ["sqs:SendMessage", "SQS:sendmessage", "sqs:*", "*", "sqs:Send*", ["sqs:GetQueueUrl", "sqs:SendMessage"]]
)
def test_action_forms_that_allow_send(action: Any) -> None:
    assert verdict(allow(Action=action)) is PolicyVerdict.ALLOWED


@pytest.mark.parametrize("action", ["sqs:ReceiveMessage", "sqs:SendMessageBatch", "s3:*"])
def test_actions_that_do_not_allow_send(action: str) -> None:
    assert verdict(allow(Action=action)) is PolicyVerdict.MISSING


@pytest.mark.parametrize(
    "principal",
    ["*", {"AWS": "*"}, {"Service": "s3.amazonaws.com"}, {"Service": ["sns.amazonaws.com", "s3.amazonaws.com"]}],
)
def test_principal_forms(principal: Any) -> None:
    assert verdict(allow(Principal=principal)) is PolicyVerdict.ALLOWED


def test_another_service_principal_does_not_count() -> None:
    assert verdict(allow(Principal={"Service": "sns.amazonaws.com"})) is PolicyVerdict.MISSING


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::wandb-file-storage-*"}},
        {"StringEquals": {"aws:SourceArn": BUCKET_ARN}},
        {"StringLike": {"aws:SourceArn": ["arn:aws:s3:::other", "arn:aws:s3:::wandb-*-happy-pet"]}},
        {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, "StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnLike": {"aws:SourceArn": BUCKET_ARN}, "StringEquals": {"aws:SourceOwner": ACCOUNT}},
        {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        {"ArnEqualsIfExists": {"aws:SourceArn": BUCKET_ARN}},
    ],
)
def test_source_conditions_that_match_the_bucket(condition: dict[str, Any]) -> None:
    evaluation = evaluate_delivery(parse_policy({"Statement": [allow(Condition=condition)]}), REQUEST)
    assert evaluation.verdict is PolicyVerdict.ALLOWED
    assert not evaluation.unscoped


@pytest.mark.parametrize(
    "condition",
    [
        {"ArnEquals": {"aws:SourceArn": "arn:aws:s3:::another-bucket"}},
        {"ArnLike": {"aws:SourceArn": "arn:aws:s3:::other-*"}},
        {"StringEquals": {"aws:SourceArn": "arn:aws:s3:::wandb-file-storage-*"}},  # StringEquals has no wildcards
        {"ArnNotEquals": {"aws:SourceArn": BUCKET_ARN}},
    ],
)
def test_source_conditions_for_other_buckets(condition: dict[str, Any]) -> None:
    assert verdict(allow(Condition=condition)) is PolicyVerdict.WRONG_SOURCE


def test_wrong_account_is_told_apart_from_wrong_source() -> None:
    condition = {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, "StringEquals": {"aws:SourceAccount": "999999999999"}}
    assert verdict(allow(Condition=condition)) is PolicyVerdict.WRONG_ACCOUNT


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        "arn:aws:sqs:*:*:wandb-file-storage-*",
        [QUEUE_ARN],
        "arn:aws:sqs:us-east-1:123456789012:wandb-file-storage-happy-pe?",
    ],
)
def test_resource_wildcards(resource: Any) -> None:
    assert verdict(allow(Resource=resource)) is PolicyVerdict.ALLOWED


def test_resource_of_another_queue_does_not_count() -> None:
    assert verdict(allow(Resource="arn:aws:sqs:us-east-1:123456789012:other-queue")) is PolicyVerdict.MISSING


def test_statement_without_resource_applies_to_its_queue() -> None:
    assert verdict(allow(Resource=None)) is PolicyVerdict.ALLOWED


def test_deny_overrides_allow() -> None:
    deny = allow(Effect="Deny", Condition=None, Sid="Lockdown")
    evaluation = evaluate_delivery(parse_policy({"Statement": [allow(), deny]}), REQUEST)
    assert evaluation.verdict is PolicyVerdict.DENIED
    assert evaluation.deny_sid == "Lockdown"


def test_deny_by_not_action_overrides_allow() -> None:
    deny = {"Effect": "Deny", "Principal": "*", "NotAction": "sqs:ReceiveMessage", "Resource": "*"}
    assert verdict(allow(), deny) is PolicyVerdict.DENIED


def test_deny_for_other_sources_does_not_apply() -> None:
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:SendMessage",
        "Resource": QUEUE_ARN,
        "Condition": {"StringNotEquals": {"aws:SourceAccount": ACCOUNT}},
    }
    assert verdict(allow(), deny) is PolicyVerdict.ALLOWED


def test_deny_with_undecidable_condition_is_not_assumed() -> None:
    deny = allow(Effect="Deny", Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})
    assert verdict(allow(), deny) is PolicyVerdict.ALLOWED


def test_allow_with_an_unknown_condition_does_not_count() -> None:
    condition = {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}
    assert verdict(allow(Condition=condition)) is PolicyVerdict.MISSING


def test_unscoped_allow_is_allowed_but_flagged() -> None:
    evaluation = evaluate_delivery(parse_policy({"Statement": allow(Principal="*", Condition=None)}), REQUEST)
    assert evaluation == type(evaluation)(PolicyVerdict.ALLOWED, unscoped=True)


def test_scoped_allow_beside_an_unscoped_one_is_not_flagged() -> None:
    evaluation = evaluate_delivery(parse_policy({"Statement": [allow(Condition=None), allow()]}), REQUEST)
    assert evaluation.verdict is PolicyVerdict.ALLOWED
    assert not evaluation.unscoped


@pytest.mark.parametrize("document", [None, "", "not json", "[]", json.dumps({"Statement": []})])
def test_missing_or_unreadable_policy(document: str | None) -> None:
    assert evaluate_delivery(parse_policy(document), REQUEST).verdict is PolicyVerdict.MISSING


def test_wildcard_match() -> None:
    assert wildcard_match("a*c", "abbbc")
    assert wildcard_match("a?c", "abc")
    assert not wildcard_match("a?c", "abbc")
    assert not wildcard_match("a.c", "abc")  # dots are literal
    assert not wildcard_match("ABC", "abc")
    assert wildcard_match("ABC", "abc", case_sensitive=False)
