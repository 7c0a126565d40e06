"""One run at a time, run history, approvals and notifications, kept in the deployments table.

Item layout of the table (`pk` S, `sk` S, TTL attribute `expires_at`), one partition per deployment:

- `pk = "DEPLOYMENT#<name>"` for every record of a deployment, with `sk`:
  - `APPLIED`: applied fingerprint, execution, snapshot generation, applied_at;
  - `APPROVAL`: pending approval: task token, plan sha256, counts, destructive, summary pointer, execution,
    requested_at, expires_at (also the TTL);
  - `DESIRED`: desired `generation` counter, updated_at, last parameter name/version, pending flag;
  - `DRIFT`: last drift fingerprint, status, first_seen_at, checked_at, revision;
  - `LOCK`: owner execution ARN, acquired_at, lease_until, took_over_from, expires_at (TTL);
  - `RUN#<started_at iso>#<execution name>`: one run's history record.

The singletons sort before `RUN#`, so one Query (`sk < "RUN#"`) reads a deployment's whole status, and a Query on
`begins_with(sk, "RUN#")` newest first lists its runs. Nothing on a hot path scans.

This module holds what every record module shares: keys, the attribute codec, time, and the mapping of AWS errors
onto the deployer's exceptions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from wandb_deployer.errors import AwsRequestFailedError, DeployerError, TransientAwsError

RUN_PREFIX = "RUN#"
MASK = "***"
_STRING_LIMIT = 2000

_TRANSIENT_CODES = frozenset(
    {
        "InternalServerError",
        "InternalFailure",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "TransactionConflictException",
        "RequestTimeout",
        "RequestTimeoutException",
        "SlowDown",
    }
)


def deployment_pk(deployment: str) -> str:
    return f"DEPLOYMENT#{deployment}"


def item_key(deployment: str, sk: str) -> dict[str, dict[str, str]]:
    """The DynamoDB key of one record of a deployment."""
    return {"pk": {"S": deployment_pk(deployment)}, "sk": {"S": sk}}


def utc_now(now: datetime | None = None) -> datetime:
    """`now` (tests pass one) or the current time, always timezone-aware UTC."""
    moment = now or datetime.now(UTC)
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    """A fixed-width UTC timestamp that sorts lexicographically (used inside sort keys)."""
    return utc_now(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def epoch(moment: datetime) -> int:
    return int(utc_now(moment).timestamp())


def to_attribute(value: object) -> dict[str, Any]:
    """Encode a plain JSON-like value as a DynamoDB attribute value."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int | float):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(key): to_attribute(item) for key, item in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(item) for item in value]}
    raise TypeError(f"cannot store a {type(value).__name__} in the deployments table")


def from_attribute(attribute: Mapping[str, Any]) -> object:
    """Decode a DynamoDB attribute value into a plain value (numbers become int when integral)."""
    kind, raw = next(iter(attribute.items()))
    if kind == "NULL":
        return None
    if kind == "BOOL":
        return bool(raw)
    if kind == "N":
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
    if kind == "S":
        return str(raw)
    if kind == "M":
        return {key: from_attribute(item) for key, item in raw.items()}
    if kind == "L":
        return [from_attribute(item) for item in raw]
    if kind in {"SS", "NS"}:
        return list(raw)
    raise TypeError(f"unsupported attribute type {kind}")


def to_item(values: Mapping[str, object]) -> dict[str, dict[str, Any]]:
    return {key: to_attribute(value) for key, value in values.items()}


def from_item(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    return {key: from_attribute(value) for key, value in item.items()}


def read_item(*, deployment: str, sk: str, table: str, dynamodb: Any, what: str) -> dict[str, Any] | None:
    """The deployment's item `sk`, read strongly consistent, as plain values; None when there is none. A failed read
    raises the deployer's exception for `GetItem <what>`."""
    try:
        response = dynamodb.get_item(TableName=table, Key=item_key(deployment, sk), ConsistentRead=True)
    except ClientError as exc:
        raise aws_failure(exc, operation=f"GetItem {what}") from exc
    item = response.get("Item")
    return from_item(item) if item else None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_condition_failure(exc: ClientError) -> bool:
    return error_code(exc) in {"ConditionalCheckFailedException", "ConditionalCheckFailed"}


def aws_failure(exc: ClientError, *, operation: str) -> DeployerError:
    """The deployer's exception for a failed AWS call: retryable (by name in the ASL) or not. Raise it `from exc`."""
    code = error_code(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _TRANSIENT_CODES or status >= 500:
        return TransientAwsError(f"{operation} failed and may succeed on retry: {code or status}")
    return AwsRequestFailedError(f"{operation} failed: {code or status}")


# A compact JWS: base64url(JSON header).base64url(JSON payload).signature. JSON starts with "{", so both encoded
# parts start with "e"; the lengths keep Terraform addresses (module.x.aws_y.z) and versions out of the pattern.
_JWS = re.compile(r"e[A-Za-z0-9_-]{15,}\.e[A-Za-z0-9_-]{15,}\.[A-Za-z0-9_-]{20,}")
# W&B API keys: 40 hex characters, optionally prefixed (`local-...` on self-managed servers).
_API_KEY = re.compile(r"(?<![0-9a-f])(?:[a-z]+-)?[0-9a-f]{40}(?![0-9a-f])")
_SECRET_NAMES = re.compile(r"license|api[_-]?key|token|password|secret|credential", re.IGNORECASE)


def scrub_secrets(value: object, *, limit: int = _STRING_LIMIT) -> Any:
    """A copy of `value` with secret-looking strings masked, secret-named fields masked and strings truncated."""
    if isinstance(value, str):
        masked = _API_KEY.sub(MASK, _JWS.sub(MASK, value))
        return masked if len(masked) <= limit else masked[: limit - 1] + "…"
    if isinstance(value, Mapping):
        return {
            str(key): MASK
            if _SECRET_NAMES.search(str(key)) and item not in (None, "")
            else scrub_secrets(item, limit=limit)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [scrub_secrets(item, limit=limit) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub_secrets(str(value), limit=limit)
