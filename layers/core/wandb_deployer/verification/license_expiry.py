"""When the W&B license expires, read from the license itself (a compact JWS) without ever showing it.

W&B's public sources say nothing about the license's claims: wandb/helm-charts (charts/operator-wandb) passes it to the
server as the opaque environment variables LICENSE and GORILLA_LICENSE, with GORILLA_LICENSE_CERT_PATH (/jwks.json) to
verify its signature; wandb/operator copies `global.license` into `spec.wandb.license`; the SDK never parses it. The
server that reads the claims is not public. So the deployer reads only the registered JWT claim `exp` (RFC 7519
section 4.1.4: seconds since the epoch) from the payload, without checking the signature (it only warns; the server
decides). A license without a readable `exp` gets no warning.

The load step reads the expiry (it holds the decrypted license for validation anyway) and passes only the date on:
to the health check, which warns 30 and 7 days ahead as a finding, and to the `LICENSE` record of the deployment,
from which `wbd status` shows the days left and the drift check notifies once per threshold.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from datetime import UTC, date, datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from wandb_deployer.runs import aws_failure, is_condition_failure, iso, item_key, read_item, to_item, utc_now
from wandb_deployer.states import Finding
from wandb_deployer.verification.findings import finding

logger = Logger(child=True)

WARNING_DAYS = (30, 7)  # warn this many days ahead; each threshold notifies once
LICENSE_SK = "LICENSE"
_LATEST_EXPIRY = datetime(9999, 12, 31, tzinfo=UTC).timestamp()


def license_expiry(token: str) -> date | None:
    """The day the license's `exp` claim falls on (UTC); None when it has no readable `exp`. Never raises, never
    logs: whatever is wrong with the token stays unsaid."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    try:
        claims: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    expiry = claims.get("exp") if isinstance(claims, dict) else None
    if isinstance(expiry, bool) or not isinstance(expiry, int | float) or not math.isfinite(expiry):
        return None
    if not 0 < expiry < _LATEST_EXPIRY:
        return None
    return datetime.fromtimestamp(expiry, tz=UTC).date()


def days_left(expires_on: date, now: datetime | None = None) -> int:
    return (expires_on - utc_now(now).date()).days


def threshold(expires_on: date, now: datetime | None = None) -> int | None:
    """The warning threshold the license has crossed (30 or 7; 0 once expired), None while it is further away."""
    left = days_left(expires_on, now)
    if left < 0:
        return 0
    crossed = [days for days in WARNING_DAYS if left <= days]
    return min(crossed) if crossed else None


def license_findings(expires_on: date | None, now: datetime | None = None) -> list[Finding]:
    """LICENSE_EXPIRING within 30 days (and within 7), LICENSE_EXPIRED after; nothing without a readable expiry."""
    if expires_on is None or threshold(expires_on, now) is None:
        return []
    left = days_left(expires_on, now)
    if left < 0:
        return [finding("LICENSE_EXPIRED", f"the W&B license expired on {expires_on.isoformat()}")]
    return [finding("LICENSE_EXPIRING", f"the W&B license expires on {expires_on.isoformat()}, in {left} day(s)")]


class LicenseRecord(BaseModel):
    """The `LICENSE` item of a deployment: the expiry the last run read, and the last threshold notified."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    expires_on: str | None = None  # ISO date; None: no readable expiry
    checked_at: str
    notified_threshold: int | None = None


def record_license_expiry(
    *, deployment: str, expires_on: date | None, table: str, dynamodb: Any, now: datetime | None = None
) -> None:
    """Note the expiry the run read (a new expiry, i.e. a new license, starts its notifications again)."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, LICENSE_SK),
            UpdateExpression="SET expires_on = :on, checked_at = :at",
            ExpressionAttributeValues=to_item(
                {":on": expires_on.isoformat() if expires_on else None, ":at": iso(utc_now(now))}
            ),
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="UpdateItem license") from exc


def read_license_expiry(*, deployment: str, table: str, dynamodb: Any) -> LicenseRecord | None:
    item = read_item(deployment=deployment, sk=LICENSE_SK, table=table, dynamodb=dynamodb, what="license")
    return LicenseRecord.model_validate(item) if item else None


def claim_notification(*, deployment: str, expires_on: date, crossed: int, table: str, dynamodb: Any) -> bool:
    """True exactly once per (expiry, threshold): the caller then notifies. A lower threshold than the one notified
    (7 after 30, 0 after 7) or another expiry claims again."""
    try:
        dynamodb.update_item(
            TableName=table,
            Key=item_key(deployment, LICENSE_SK),
            UpdateExpression="SET notified_threshold = :crossed, notified_expiry = :on",
            ConditionExpression=(
                "attribute_not_exists(notified_threshold) OR notified_expiry <> :on OR notified_threshold > :crossed"
            ),
            ExpressionAttributeValues=to_item({":crossed": crossed, ":on": expires_on.isoformat()}),
        )
    except ClientError as exc:
        if is_condition_failure(exc):
            return False
        raise aws_failure(exc, operation="UpdateItem license notified") from exc
    logger.info("license expiry to notify", deployment=deployment, threshold=crossed)
    return True
