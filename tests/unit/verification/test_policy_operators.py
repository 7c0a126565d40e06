"""Every condition operator the queue-policy evaluation knows, `Null`, and context keys missing from S3's request.

The oracle is IAM's documented condition logic ("IAM JSON policy elements: Condition operators"): StringEquals is exact
and case sensitive, the IgnoreCase forms compare case-insensitively, the Like and Arn forms take `*` and `?`, several
values of one key are ORed (NORed for a negated operator); a key missing from the request context makes a condition
false, and a negated one true, except for `...IfExists` (true when missing) and `Null` (which tests for presence).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.verification.conftest import ACCOUNT, BUCKET_ARN, QUEUE_ARN
from tests.unit.verification.test_policy import REQUEST, allow
from wandb_deployer.verification.policy import (
    DeliveryRequest,
    PolicyEvaluation,
    PolicyVerdict,
    evaluate_delivery,
    parse_policy,
)

pytestmark = pytest.mark.unit

UPPER_ARN = BUCKET_ARN.upper()
OTHER_ARN = "arn:aws:s3:::another-bucket"
NO_ACCOUNT = DeliveryRequest(queue_arn=QUEUE_ARN, bucket_arn=BUCKET_ARN, bucket_account=None)


def evaluate(condition: dict[str, Any], request: DeliveryRequest = REQUEST) -> PolicyEvaluation:
    return evaluate_delivery(parse_policy({"Statement": [allow(Condition=condition)]}), request)


@pytest.mark.parametrize(
    ("operator", "value", "holds"),
    [
        ("StringEquals", BUCKET_ARN, True),
        ("StringEquals", UPPER_ARN, False),
        ("StringNotEquals", OTHER_ARN, True),
        ("StringNotEquals", BUCKET_ARN, False),
        ("StringEqualsIgnoreCase", UPPER_ARN, True),
        ("StringEqualsIgnoreCase", OTHER_ARN, False),
        ("StringNotEqualsIgnoreCase", UPPER_ARN, False),
        ("StringNotEqualsIgnoreCase", OTHER_ARN, True),
        ("StringLike", "arn:aws:s3:::wandb-*", True),
        ("StringLike", "ARN:AWS:S3:::WANDB-*", False),  # case sensitive
        ("StringNotLike", "arn:aws:s3:::wandb-*", False),
        ("StringNotLike", "arn:aws:s3:::other-*", True),
        ("ArnEquals", "arn:aws:s3:::wandb-file-storage-happy-pe?", True),
        ("ArnLike", "arn:aws:s3:::*", True),
        ("ArnNotEquals", BUCKET_ARN, False),
        ("ArnNotEquals", OTHER_ARN, True),
        ("ArnNotLike", "arn:aws:s3:::wandb-*", False),
        ("ArnNotLike", "arn:aws:s3:::other-*", True),
    ],
)
def test_each_string_and_arn_operator_on_the_source_arn(operator: str, value: str, holds: bool) -> None:
    evaluation = evaluate({operator: {"aws:SourceArn": value}})
    expected = PolicyEvaluation(PolicyVerdict.ALLOWED) if holds else PolicyEvaluation(PolicyVerdict.WRONG_SOURCE)
    assert evaluation == expected


def test_operator_names_and_keys_are_case_insensitive_and_set_prefixes_are_read_through() -> None:
    assert evaluate({"stringequals": {"AWS:SourceArn": BUCKET_ARN}}).verdict is PolicyVerdict.ALLOWED
    assert evaluate({"ForAnyValue:StringLike": {"aws:SourceArn": "*happy*"}}).verdict is PolicyVerdict.ALLOWED
    assert evaluate({"ForAllValues:StringEquals": {"aws:SourceArn": OTHER_ARN}}).verdict is PolicyVerdict.WRONG_SOURCE
    # Each prefix is read through whatever its case: the operator after it decides.
    assert evaluate({"ForAllValues:StringEquals": {"aws:SourceArn": BUCKET_ARN}}).verdict is PolicyVerdict.ALLOWED
    assert evaluate({"forallvalues:ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"}}).verdict is PolicyVerdict.ALLOWED
    assert evaluate({"FORANYVALUE:StringEquals": {"aws:SourceArn": OTHER_ARN}}).verdict is PolicyVerdict.WRONG_SOURCE


def test_several_values_of_one_key_are_ored_and_nored_when_negated() -> None:
    assert evaluate({"StringEquals": {"aws:SourceArn": [OTHER_ARN, BUCKET_ARN]}}).verdict is PolicyVerdict.ALLOWED
    negated = {"StringNotEquals": {"aws:SourceArn": [OTHER_ARN, BUCKET_ARN]}}
    assert evaluate(negated).verdict is PolicyVerdict.WRONG_SOURCE


# --- the account keys ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["aws:SourceAccount", "aws:SourceOwner"])
def test_the_account_keys_match_the_bucket_owner(key: str) -> None:
    assert evaluate({"StringEquals": {key: ACCOUNT}}) == PolicyEvaluation(PolicyVerdict.ALLOWED)
    assert evaluate({"StringEquals": {key: "999999999999"}}) == PolicyEvaluation(PolicyVerdict.WRONG_ACCOUNT)


# --- keys missing from the request context ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "verdict"),
    [
        ({"StringEquals": {"aws:SourceAccount": ACCOUNT}}, PolicyVerdict.WRONG_ACCOUNT),  # missing: false
        ({"StringNotEquals": {"aws:SourceAccount": "999999999999"}}, PolicyVerdict.ALLOWED),  # negated: true
        ({"StringEqualsIfExists": {"aws:SourceAccount": ACCOUNT}}, PolicyVerdict.ALLOWED),  # IfExists: true
        ({"StringNotLikeIfExists": {"aws:SourceOwner": "9*"}}, PolicyVerdict.ALLOWED),
    ],
)
def test_a_bucket_owner_not_known_is_a_missing_context_key(condition: dict[str, Any], verdict: PolicyVerdict) -> None:
    scoped = {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, **condition}
    assert evaluate(scoped, NO_ACCOUNT).verdict is verdict


def test_a_missing_key_with_if_exists_still_checks_a_present_one() -> None:
    condition = {"StringEqualsIfExists": {"aws:SourceAccount": "999999999999"}}
    assert evaluate(condition).verdict is PolicyVerdict.WRONG_ACCOUNT
    assert evaluate(condition, NO_ACCOUNT).verdict is PolicyVerdict.ALLOWED


@pytest.mark.parametrize(
    ("condition", "verdict"),
    [
        ({"Null": {"aws:SourceAccount": "true"}}, PolicyVerdict.ALLOWED),  # absent, as asked
        ({"Null": {"aws:SourceAccount": "false"}}, PolicyVerdict.WRONG_ACCOUNT),  # present asked, absent
        ({"Null": {"aws:SourceAccount": ["true"]}}, PolicyVerdict.ALLOWED),
        ({"Null": {"aws:SourceAccount": []}}, PolicyVerdict.ALLOWED),  # no value reads as "true"
    ],
)
def test_null_tests_whether_a_key_is_absent(condition: dict[str, Any], verdict: PolicyVerdict) -> None:
    scoped = {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, **condition}
    assert evaluate(scoped, NO_ACCOUNT).verdict is verdict


@pytest.mark.parametrize(("flag", "verdict"), [("false", PolicyVerdict.ALLOWED), ("true", PolicyVerdict.WRONG_SOURCE)])
def test_null_on_a_present_key(flag: str, verdict: PolicyVerdict) -> None:
    assert evaluate({"Null": {"aws:SourceArn": flag}}).verdict is verdict


def test_a_null_check_alone_does_not_scope_the_allow() -> None:
    # "Null": {"aws:SourceArn": "false"} only says some bucket sends: any bucket may still send.
    assert evaluate({"Null": {"aws:SourceArn": "false"}}) == PolicyEvaluation(PolicyVerdict.ALLOWED, unscoped=True)
    scoped = evaluate({"Null": {"aws:SourceArn": "false"}, "StringEquals": {"aws:SourceAccount": ACCOUNT}})
    assert scoped == PolicyEvaluation(PolicyVerdict.ALLOWED, unscoped=False)


@pytest.mark.parametrize("key", ["aws:SourceAccount", "aws:SourceOwner"])
def test_a_null_check_on_an_account_key_does_not_scope_the_allow_either(key: str) -> None:
    # The bucket owner is known and present: "Null": "false" holds, and says nothing about which bucket sends.
    assert evaluate({"Null": {key: "false"}}) == PolicyEvaluation(PolicyVerdict.ALLOWED, unscoped=True)
    assert evaluate({"NULL": {key: "false"}}) == PolicyEvaluation(PolicyVerdict.ALLOWED, unscoped=True)
    assert evaluate({"Null": {key: "true"}}) == PolicyEvaluation(PolicyVerdict.WRONG_ACCOUNT)


def test_an_unknown_operator_on_a_source_key_is_undecided_and_never_allows() -> None:
    assert evaluate({"NumericEquals": {"aws:SourceArn": "1"}}).verdict is PolicyVerdict.WRONG_SOURCE


def test_conditions_on_other_keys_are_decided_when_the_key_is_known_missing_or_undecidable() -> None:
    # aws:SourceIp is not in S3's delivery context: an Allow on it is undecidable and is not counted.
    assert evaluate({"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, "Null": {"aws:SourceIp": "true"}}).verdict is (
        PolicyVerdict.ALLOWED
    )
    assert evaluate({"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, "Null": {"aws:SourceIp": "false"}}).verdict is (
        PolicyVerdict.MISSING
    )
    assert evaluate({"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, "StringEquals": {"aws:SourceIp": "x"}}).verdict is (
        PolicyVerdict.MISSING
    )


@pytest.mark.parametrize("operator", ["StringNotEquals", "StringNotLike", "ArnNotEquals", "StringEqualsIfExists"])
def test_a_negated_or_if_exists_condition_on_a_key_outside_the_delivery_context_is_undecided(operator: str) -> None:
    # Whether S3's request carries aws:SourceIp is not known: a condition on it that would hold when it is missing
    # (negated, IfExists) is not assumed to hold, so the Allow does not count, as for the plain operators above.
    condition = {"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, operator: {"aws:SourceIp": "192.0.2.0/24"}}
    assert evaluate(condition) == PolicyEvaluation(PolicyVerdict.MISSING)


# --- statements ------------------------------------------------------------------------------------------------------


def test_not_principal_excludes_s3_or_everyone() -> None:
    def verdict(not_principal: Any) -> PolicyVerdict:
        statement = allow(Principal=None, NotPrincipal=not_principal)
        return evaluate_delivery(parse_policy({"Statement": [statement]}), REQUEST).verdict

    assert verdict({"Service": "sns.amazonaws.com"}) is PolicyVerdict.ALLOWED
    assert verdict({"Service": "s3.amazonaws.com"}) is PolicyVerdict.MISSING
    assert verdict({"AWS": "*"}) is PolicyVerdict.MISSING
    assert verdict("*") is PolicyVerdict.MISSING


@pytest.mark.parametrize("principal", ["S3.AMAZONAWS.COM", "s3.Amazonaws.com", ["sns.amazonaws.com", "s3.*"]])
def test_not_principal_names_s3_whatever_the_case_as_principal_does(principal: Any) -> None:
    # NotPrincipal reads service names as Principal does (case-insensitive, with wildcards): naming S3 excludes it.
    statement = allow(Principal=None, NotPrincipal={"Service": principal})
    assert evaluate_delivery([statement], REQUEST) == PolicyEvaluation(PolicyVerdict.MISSING)
    assert evaluate_delivery([allow(Principal={"Service": principal})], REQUEST).verdict is PolicyVerdict.ALLOWED


@pytest.mark.parametrize("principal", [None, "arn:aws:iam::123456789012:root", ["*"], {"AWS": ACCOUNT}])
def test_a_principal_that_is_not_everyone_or_a_service_is_not_s3(principal: Any) -> None:
    # No Principal at all, an account ARN as a bare string, a list: none of them lets S3 (a service) send.
    assert evaluate_delivery([allow(Principal=principal)], REQUEST) == PolicyEvaluation(PolicyVerdict.MISSING)


@pytest.mark.parametrize(
    ("not_action", "verdict"),
    [
        ("sqs:SendMessage", PolicyVerdict.MISSING),
        ("SQS:SENDMESSAGE", PolicyVerdict.MISSING),  # action names are case-insensitive (IAM: "Action")
        (["sqs:ReceiveMessage", "sqs:Send*"], PolicyVerdict.MISSING),
        ("sqs:ReceiveMessage", PolicyVerdict.ALLOWED),
        (["sqs:ReceiveMessage", "sqs:DeleteMessage"], PolicyVerdict.ALLOWED),
    ],
)
def test_an_allow_by_not_action_covers_send_unless_it_names_it(not_action: Any, verdict: PolicyVerdict) -> None:
    statement = allow(Action=None, NotAction=not_action)
    assert evaluate_delivery([statement], REQUEST).verdict is verdict


def test_not_resource_excludes_the_queue() -> None:
    statement = allow(Resource=None, NotResource=QUEUE_ARN)
    assert evaluate_delivery(parse_policy({"Statement": [statement]}), REQUEST).verdict is PolicyVerdict.MISSING
    other = allow(Resource=None, NotResource="arn:aws:sqs:us-east-1:123456789012:other")
    assert evaluate_delivery(parse_policy({"Statement": [other]}), REQUEST).verdict is PolicyVerdict.ALLOWED


def test_statements_that_are_not_objects_and_odd_effects_are_ignored() -> None:
    statements = parse_policy({"Statement": ["x", 1, allow(Effect="Audit"), allow(Effect=None)]})
    assert len(statements) == 2
    assert evaluate_delivery(statements, REQUEST).verdict is PolicyVerdict.MISSING


def test_a_condition_block_that_is_not_an_object_is_no_condition() -> None:
    assert evaluate({"StringEquals": ["aws:SourceArn"]}) == PolicyEvaluation(PolicyVerdict.ALLOWED, unscoped=True)
    statement = allow(Condition=["not", "an", "object"])
    assert evaluate_delivery([statement], REQUEST) == PolicyEvaluation(PolicyVerdict.ALLOWED, unscoped=True)


def test_a_deny_without_sid_is_named_and_a_deny_for_another_account_does_not_apply() -> None:
    deny = allow(Effect="Deny", Condition=None)
    assert evaluate_delivery([allow(), deny], REQUEST) == PolicyEvaluation(PolicyVerdict.DENIED, deny_sid="(no Sid)")
    other_account = allow(Effect="Deny", Condition={"StringEquals": {"aws:SourceAccount": "999999999999"}})
    assert evaluate_delivery([allow(), other_account], REQUEST) == PolicyEvaluation(PolicyVerdict.ALLOWED)


def test_a_deny_alone_is_missing_not_denied() -> None:
    deny = allow(Effect="Deny", Condition=None, Sid="Lockdown")
    assert evaluate_delivery([deny], REQUEST) == PolicyEvaluation(PolicyVerdict.MISSING)


def test_wrong_account_is_reported_before_wrong_source() -> None:
    wrong_source = allow(Condition={"ArnEquals": {"aws:SourceArn": OTHER_ARN}})
    wrong_account = allow(
        Condition={"ArnEquals": {"aws:SourceArn": BUCKET_ARN}, "StringEquals": {"aws:SourceAccount": "999999999999"}}
    )
    assert evaluate_delivery([wrong_source, wrong_account], REQUEST).verdict is PolicyVerdict.WRONG_ACCOUNT
    assert evaluate_delivery([wrong_account, wrong_source], REQUEST).verdict is PolicyVerdict.WRONG_ACCOUNT


def test_the_request_context_carries_the_account_under_both_keys() -> None:
    assert REQUEST.context() == {
        "aws:sourcearn": BUCKET_ARN,
        "aws:sourceaccount": ACCOUNT,
        "aws:sourceowner": ACCOUNT,
    }
    assert NO_ACCOUNT.context() == {"aws:sourcearn": BUCKET_ARN}
