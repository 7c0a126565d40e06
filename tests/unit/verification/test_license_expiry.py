"""License expiry: the `exp` claim of a compact JWS (tokens built here, never a real license), the findings 30 and 7
days ahead, one notification per threshold, and the days left `wbd status` shows."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.unit.runs.conftest import TABLE, create_deployments_table
from wandb_deployer.verification.license_expiry import (
    claim_notification,
    days_left,
    license_expiry,
    license_findings,
    read_license_expiry,
    record_license_expiry,
    threshold,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _part(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims: object, *, header: object | None = None) -> str:
    """A JWS-shaped test token (its signature is 64 fixed bytes: nothing verifies it)."""
    head = json.dumps(header or {"alg": "RS256", "typ": "JWT"}).encode()
    return ".".join([_part(head), _part(json.dumps(claims).encode()), _part(bytes(range(64)))])


def at(day: date) -> float:
    return datetime(day.year, day.month, day.day, 15, 30, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"sub": "acme", "exp": at(date(2027, 1, 31))}, date(2027, 1, 31)),
        ({"exp": int(at(date(2026, 12, 6)))}, date(2026, 12, 6)),
        ({"sub": "acme"}, None),  # no exp: no warning
        ({"exp": "2027-01-01"}, None),  # not a NumericDate
        ({"exp": True}, None),
        ({"exp": -5}, None),
        ({"exp": 1e300}, None),
        (["exp", 1893456000], None),  # claims that are not a JSON object
    ],
)
def test_the_exp_claim_is_read_and_nothing_else_is_trusted(claims: object, expected: date | None) -> None:
    assert license_expiry(token(claims)) == expected


@pytest.mark.parametrize(
    "broken",
    ["", "not-a-jws", "a.b", "a.b.c.d", "eyJhbGciOiJIUzI1NiJ9.!!!.c2ln", "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln"],
)
def test_a_token_that_is_no_readable_jws_has_no_expiry(broken: str) -> None:
    assert license_expiry(broken) is None


@pytest.mark.parametrize(
    ("days", "codes", "crossed"),
    [
        (31, [], None),
        (30, ["LICENSE_EXPIRING"], 30),
        (8, ["LICENSE_EXPIRING"], 30),
        (7, ["LICENSE_EXPIRING"], 7),
        (0, ["LICENSE_EXPIRING"], 7),
        (-1, ["LICENSE_EXPIRED"], 0),
    ],
)
def test_warnings_30_and_7_days_ahead(days: int, codes: list[str], crossed: int | None) -> None:
    expires_on = (NOW + timedelta(days=days)).date()
    findings = license_findings(expires_on, NOW)
    assert [f.code for f in findings] == codes
    assert all(f.severity == "warning" for f in findings)
    assert threshold(expires_on, NOW) == crossed and days_left(expires_on, NOW) == days
    if codes == ["LICENSE_EXPIRING"]:
        assert findings[0].message == f"the W&B license expires on {expires_on.isoformat()}, in {days} day(s)"


def test_no_readable_expiry_no_finding() -> None:
    assert license_findings(None, NOW) == []


@pytest.fixture
def dynamodb(aws: None) -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1")
    create_deployments_table(client)
    return client


@pytest.fixture
def aws() -> Any:
    from moto import mock_aws

    with mock_aws():
        yield


def test_each_threshold_notifies_once_and_a_new_license_starts_over(dynamodb: Any) -> None:
    first, second = date(2026, 12, 20), date(2027, 12, 20)

    def claim(expires_on: date, crossed: int) -> bool:
        return claim_notification(
            deployment="prod", expires_on=expires_on, crossed=crossed, table=TABLE, dynamodb=dynamodb
        )

    record_license_expiry(deployment="prod", expires_on=first, table=TABLE, dynamodb=dynamodb, now=NOW)
    assert [claim(first, 30), claim(first, 30), claim(first, 7), claim(first, 7), claim(first, 30)] == [
        True,
        False,
        True,
        False,
        False,
    ]
    assert [claim(first, 0), claim(first, 0)] == [True, False]
    assert claim(second, 30) is True  # another license: its own thresholds
    record = read_license_expiry(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert record is not None and record.notified_threshold == 30 and record.expires_on == first.isoformat()


def test_the_record_keeps_the_date_only_and_a_license_without_exp_clears_it(dynamodb: Any) -> None:
    record_license_expiry(deployment="prod", expires_on=date(2027, 1, 1), table=TABLE, dynamodb=dynamodb, now=NOW)
    assert read_license_expiry(deployment="prod", table=TABLE, dynamodb=dynamodb).expires_on == "2027-01-01"  # type: ignore[union-attr]
    record_license_expiry(deployment="prod", expires_on=None, table=TABLE, dynamodb=dynamodb, now=NOW)
    assert read_license_expiry(deployment="prod", table=TABLE, dynamodb=dynamodb).expires_on is None  # type: ignore[union-attr]
    assert read_license_expiry(deployment="other", table=TABLE, dynamodb=dynamodb) is None
