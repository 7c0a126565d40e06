"""Queue-policy evaluation: may S3 deliver the W&B bucket's events to the file-storage queue?

The module writes one statement (Allow, principal `*`, `sqs:SendMessage` on the queue, `ArnEquals aws:SourceArn =
<bucket ARN>`); people who wire it by hand write many variants. This module evaluates a policy document the way SQS
would for one request — action `sqs:SendMessage`, principal `s3.amazonaws.com`, resource the queue ARN, context keys
`aws:SourceArn` (the bucket ARN) and `aws:SourceAccount` (the bucket owner) — and says why delivery is not allowed.
Pure functions: no AWS calls.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import cache
from typing import Any

S3_SERVICE_PRINCIPAL = "s3.amazonaws.com"
SEND_ACTION = "sqs:SendMessage"
SOURCE_ARN_KEY = "aws:sourcearn"
SOURCE_ACCOUNT_KEYS = frozenset({"aws:sourceaccount", "aws:sourceowner"})


class PolicyVerdict(Enum):
    """The outcome of evaluating a queue policy for S3's SendMessage, most specific reason first."""

    ALLOWED = "allowed"
    MISSING = "missing"  # no statement allows S3 to send to this queue at all
    WRONG_SOURCE = "wrong-source"  # statements exist, but their aws:SourceArn does not match the bucket
    WRONG_ACCOUNT = "wrong-account"  # the source ARN matches, but aws:SourceAccount is not the bucket owner
    DENIED = "denied"  # an Allow matches, but an explicit Deny overrides it


@dataclass(frozen=True)
class PolicyEvaluation:
    verdict: PolicyVerdict
    unscoped: bool = False  # allowed without any aws:SourceArn / aws:SourceAccount condition (any bucket may send)
    deny_sid: str | None = None


@dataclass(frozen=True)
class DeliveryRequest:
    """The request SQS evaluates when S3 delivers a bucket event."""

    queue_arn: str
    bucket_arn: str
    bucket_account: str | None

    def context(self) -> dict[str, str]:
        values = {SOURCE_ARN_KEY: self.bucket_arn}
        if self.bucket_account:
            values.update(dict.fromkeys(SOURCE_ACCOUNT_KEYS, self.bucket_account))
        return values


@cache
def _glob(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    """IAM wildcards: `*` any run of characters, `?` one character."""
    body = "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """Whether `value` matches an IAM pattern with `*` and `?` wildcards."""
    return bool(_glob(pattern, case_sensitive).fullmatch(value))


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _matches_action(statement: Mapping[str, Any]) -> bool:
    if "NotAction" in statement:
        return not any(
            wildcard_match(str(p), SEND_ACTION, case_sensitive=False) for p in _as_list(statement["NotAction"])
        )
    return any(wildcard_match(str(p), SEND_ACTION, case_sensitive=False) for p in _as_list(statement.get("Action")))


def _principal_names(principal: Any) -> tuple[bool, list[str]]:
    """(everyone, service names) of a Principal element."""
    if principal == "*":
        return True, []
    if isinstance(principal, Mapping):
        everyone = "*" in _as_list(principal.get("AWS"))
        return everyone, [str(s) for s in _as_list(principal.get("Service"))]
    return False, []


def _matches_principal(statement: Mapping[str, Any]) -> bool:
    """Whether the statement applies to S3's delivery (principal `s3.amazonaws.com` or everyone)."""
    if "NotPrincipal" in statement:
        everyone, services = _principal_names(statement["NotPrincipal"])
        return not (everyone or any(wildcard_match(s, S3_SERVICE_PRINCIPAL, case_sensitive=False) for s in services))
    everyone, services = _principal_names(statement.get("Principal"))
    return everyone or any(wildcard_match(s, S3_SERVICE_PRINCIPAL, case_sensitive=False) for s in services)


def _matches_resource(statement: Mapping[str, Any], queue_arn: str) -> bool:
    if "NotResource" in statement:
        return not any(wildcard_match(str(p), queue_arn) for p in _as_list(statement["NotResource"]))
    resources = _as_list(statement.get("Resource"))
    # A queue policy without Resource applies to the queue it is attached to.
    return not resources or any(wildcard_match(str(p), queue_arn) for p in resources)


_STRING_OPS: dict[str, tuple[bool, bool, bool]] = {
    # operator: (wildcards, case sensitive, negated)
    "stringequals": (False, True, False),
    "stringnotequals": (False, True, True),
    "stringequalsignorecase": (False, False, False),
    "stringnotequalsignorecase": (False, False, True),
    "stringlike": (True, True, False),
    "stringnotlike": (True, True, True),
    "arnequals": (True, True, False),
    "arnlike": (True, True, False),
    "arnnotequals": (True, True, True),
    "arnnotlike": (True, True, True),
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool | None:
    """True / False when the condition can be decided for S3's delivery, None when it depends on unknown context."""
    op = operator.lower()
    for prefix in ("forallvalues:", "foranyvalue:"):
        op = op.removeprefix(prefix)
    if_exists = op.endswith("ifexists")
    op = op.removesuffix("ifexists")
    present = key in context
    if op == "null":
        wants_absent = str(_as_list(expected)[0]).lower() == "true" if _as_list(expected) else True
        return (not present) if wants_absent else present
    if op not in _STRING_OPS or (not present and key not in {SOURCE_ARN_KEY, *SOURCE_ACCOUNT_KEYS}):
        return None
    if not present:
        return True if if_exists else _STRING_OPS[op][2]
    wildcards, case_sensitive, negated = _STRING_OPS[op]
    value = context[key]
    if wildcards:
        hit = any(wildcard_match(str(p), value, case_sensitive=case_sensitive) for p in _as_list(expected))
    elif case_sensitive:
        hit = any(str(p) == value for p in _as_list(expected))
    else:
        hit = any(str(p).lower() == value.lower() for p in _as_list(expected))
    return not hit if negated else hit


@dataclass(frozen=True)
class _ConditionOutcome:
    source_arn: bool  # every aws:SourceArn condition holds
    source_account: bool  # every aws:SourceAccount / aws:SourceOwner condition holds
    others: bool | None  # every other condition holds (None: undecidable)
    scoped: bool  # at least one SourceArn / SourceAccount condition constrains the sender


def _conditions(statement: Mapping[str, Any], context: Mapping[str, str]) -> _ConditionOutcome:
    source_arn = source_account = True
    others: bool | None = True
    scoped = False
    block = statement.get("Condition") or {}
    for operator, clauses in block.items() if isinstance(block, Mapping) else []:
        for raw_key, expected in clauses.items() if isinstance(clauses, Mapping) else []:
            key = str(raw_key).lower()
            holds = _condition_holds(str(operator), key, expected, context)
            if key == SOURCE_ARN_KEY:
                scoped = scoped or str(operator).lower() != "null"
                source_arn = source_arn and holds is True
            elif key in SOURCE_ACCOUNT_KEYS:
                scoped = scoped or str(operator).lower() != "null"
                source_account = source_account and holds is True
            elif holds is None or others is None:
                others = None
            else:
                others = others and holds
    return _ConditionOutcome(source_arn, source_account, others, scoped)


def parse_policy(document: str | Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """The statements of a policy document (JSON text or parsed); empty when there is none or it is unreadable."""
    if not document:
        return []
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except json.JSONDecodeError:
            return []
    if not isinstance(document, Mapping):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, Mapping)]


def evaluate_delivery(statements: Iterable[Mapping[str, Any]], request: DeliveryRequest) -> PolicyEvaluation:
    """Evaluate the statements for S3's `sqs:SendMessage` of the bucket's events to the queue."""
    context = request.context()
    scoped_allow = unscoped_allow = False
    near_misses: set[PolicyVerdict] = set()
    deny_sid: str | None = None
    for statement in statements:
        if not (
            _matches_principal(statement)
            and _matches_action(statement)
            and _matches_resource(statement, request.queue_arn)
        ):
            continue
        outcome = _conditions(statement, context)
        effect = str(statement.get("Effect", "")).lower()
        if effect == "deny":
            if outcome.source_arn and outcome.source_account and outcome.others is True:
                deny_sid = str(statement.get("Sid") or "(no Sid)")
        elif effect == "allow":
            if not outcome.source_arn:
                near_misses.add(PolicyVerdict.WRONG_SOURCE)
            elif not outcome.source_account:
                near_misses.add(PolicyVerdict.WRONG_ACCOUNT)
            elif outcome.others is True:
                scoped_allow = scoped_allow or outcome.scoped
                unscoped_allow = unscoped_allow or not outcome.scoped
    if scoped_allow or unscoped_allow:
        if deny_sid is not None:
            return PolicyEvaluation(PolicyVerdict.DENIED, deny_sid=deny_sid)
        return PolicyEvaluation(PolicyVerdict.ALLOWED, unscoped=not scoped_allow)
    for verdict in (PolicyVerdict.WRONG_ACCOUNT, PolicyVerdict.WRONG_SOURCE):
        if verdict in near_misses:
            return PolicyEvaluation(verdict)
    return PolicyEvaluation(PolicyVerdict.MISSING)
