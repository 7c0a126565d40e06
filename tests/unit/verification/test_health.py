"""The health check against the local W&B stand-in: each way W&B can be unwell is told apart; the key never leaks."""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator

import pytest

from tests.unit.verification.conftest import API_KEY
from wandb_deployer.states import HealthResult
from wandb_deployer.verification import check_health
from wbd.sandbox.wandb_standin import WandbStandIn

pytestmark = pytest.mark.unit

VERSION = "0.71.2"


@pytest.fixture
def plain() -> Iterator[WandbStandIn]:
    with WandbStandIn(version=VERSION, api_key=API_KEY) as standin:
        yield standin


@pytest.fixture
def tls() -> Iterator[WandbStandIn]:
    with WandbStandIn(version=VERSION, api_key=API_KEY, tls="valid") as standin:
        yield standin


def check(
    standin: WandbStandIn,
    *,
    attempt: int = 0,
    api_key: str | None = API_KEY,
    desired: str | None = VERSION,
    generation: str = "legacy",
    timeout: float = 3,
    url: str | None = None,
) -> HealthResult:
    return check_health(
        url=url or standin.url,
        generation=generation,
        attempt=attempt,
        api_key=api_key,
        desired_version=desired,
        timeout_seconds=timeout,
        ca_bundle=standin.ca_bundle,
    )


def codes(result: HealthResult) -> list[str]:
    return [f.code for f in result.findings]


# -- healthy ----------------------------------------------------------------------------------------------------------
def test_healthy_over_https_with_matching_version(tls: WandbStandIn) -> None:
    result = check(tls, attempt=2)
    assert result.healthy
    assert result.attempt == 2
    assert result.findings == []
    assert result.server_version == VERSION
    assert result.certificate_days_left in {89, 90}
    assert tls.requests == ["/healthz", "/ready", "/graphql"]


def test_healthy_over_plain_http_says_so(plain: WandbStandIn) -> None:
    result = check(plain)
    assert result.healthy
    assert codes(result) == ["PLAIN_HTTP"]
    assert result.certificate_days_left is None
    assert result.server_version == VERSION  # loopback: the key may travel over plain HTTP


def test_operator_generation_also_checks_the_console(tls: WandbStandIn) -> None:
    assert check(tls, generation="operator").healthy
    assert tls.requests[:3] == ["/healthz", "/ready", "/console/api/healthz"]


def test_without_api_key_the_version_is_unchecked(tls: WandbStandIn) -> None:
    result = check(tls, api_key=None)
    assert result.healthy
    assert [(f.code, f.severity) for f in result.findings] == [("VERSION_UNCHECKED", "info")]
    assert result.server_version is None
    assert "/graphql" not in tls.requests


def test_without_desired_version_the_running_one_is_reported(tls: WandbStandIn) -> None:
    result = check(tls, desired=None)
    assert result.healthy
    assert result.findings == []
    assert result.server_version == VERSION


# -- unhealthy --------------------------------------------------------------------------------------------------------
def test_endpoint_down_is_connection_refused_then_recovers(tls: WandbStandIn) -> None:
    tls.down()
    result = check(tls)
    assert not result.healthy
    assert codes(result) == ["CONNECTION_REFUSED"]
    tls.up()
    assert check(tls, attempt=1).healthy


def test_flapping_fails_first_then_passes(tls: WandbStandIn) -> None:
    tls.flap(1)
    first = check(tls, attempt=0)
    assert not first.healthy
    assert codes(first) == ["HTTP_5XX"]
    second = check(tls, attempt=1)
    assert second.healthy
    assert second.attempt == 1


def test_503_is_a_server_error_with_its_status(tls: WandbStandIn) -> None:
    tls.set_status(503)
    result = check(tls)
    assert not result.healthy
    assert set(codes(result)) == {"HTTP_5XX"}
    assert "HTTP 503" in result.findings[0].message
    assert "/healthz" in result.findings[0].message


def test_unhealthy_then_healthy(tls: WandbStandIn) -> None:
    tls.set_healthy(False)
    assert not check(tls).healthy
    tls.set_healthy(True)
    assert check(tls).healthy


def test_other_status_is_unexpected(tls: WandbStandIn) -> None:
    tls.set_status(404)
    assert set(codes(check(tls))) == {"HTTP_UNEXPECTED"}


def test_wrong_version_is_a_mismatch(tls: WandbStandIn) -> None:
    tls.set_version("0.69.0")
    result = check(tls)
    assert not result.healthy
    assert codes(result) == ["VERSION_MISMATCH"]
    assert result.server_version == "0.69.0"
    assert "0.69.0" in result.findings[0].message
    assert VERSION in result.findings[0].message


def test_version_with_a_v_prefix_matches(tls: WandbStandIn) -> None:
    assert check(tls, desired=f"v{VERSION}").findings == []


def test_rejected_api_key_leaves_the_version_unreadable(tls: WandbStandIn) -> None:
    result = check(tls, api_key="local-0000000000000000000000000000000000000000")
    assert result.healthy
    assert [(f.code, f.severity) for f in result.findings] == [("VERSION_UNREADABLE", "warning")]
    assert "401" in result.findings[0].message


def test_a_null_latest_local_version_info_says_what_it_means_not_check_the_key(tls: WandbStandIn) -> None:
    # W&B's schema: `latestLocalVersionInfo: LocalVersionInfo` is nullable; the key was accepted.
    tls.report_version(False)
    result = check(tls)
    assert result.healthy and result.server_version is None
    ((code, severity, message, hint),) = [(f.code, f.severity, f.message, f.fix_hint) for f in result.findings]
    assert (code, severity) == ("VERSION_NOT_REPORTED", "warning")
    assert "accepted the API key" in message and "null" in message
    assert "the API key is fine" in hint and "check the API key" not in hint


def test_timeout(tls: WandbStandIn) -> None:
    tls.set_delay(2)
    result = check(tls, timeout=0.3)
    assert not result.healthy
    assert codes(result) == ["TIMEOUT"]


def test_unresolvable_host() -> None:
    result = check_health(
        url="https://nonexistent.invalid", generation="operator", attempt=0, api_key=API_KEY, desired_version=VERSION
    )
    assert not result.healthy
    assert codes(result) == ["DNS_UNRESOLVED"]
    assert "nonexistent.invalid" in result.findings[0].message


def test_url_that_is_not_http() -> None:
    result = check_health(url="ftp://x", generation="legacy", attempt=0, api_key=None, desired_version=None)
    assert not result.healthy
    assert codes(result) == ["HTTP_UNEXPECTED"]


# -- TLS --------------------------------------------------------------------------------------------------------------
def test_expired_certificate() -> None:
    with WandbStandIn(tls="expired") as standin:
        result = check(standin)
    assert not result.healthy
    assert codes(result) == ["TLS_INVALID"]
    assert "expired" in result.findings[0].message
    assert result.certificate_days_left is not None
    assert result.certificate_days_left < 0


def test_self_signed_certificate() -> None:
    with WandbStandIn(tls="self-signed") as standin:
        result = check(standin)
    assert codes(result) == ["TLS_INVALID"]
    assert "self-signed" in result.findings[0].message
    assert result.certificate_days_left in {89, 90}


@pytest.mark.parametrize(("host", "words"), [("localhost", "wrong host"), ("127.0.0.1", "wrong IP address")])
def test_certificate_for_another_host(host: str, words: str) -> None:
    with WandbStandIn(tls="valid", cert_names=("wandb.example.com",)) as standin:
        result = check(standin, url=f"https://{host}:{standin.port}")
    assert codes(result) == ["TLS_INVALID"]
    assert words in result.findings[0].message


def test_untrusted_ca_in_production_trust_store(tls: WandbStandIn) -> None:
    result = check_health(url=tls.url, generation="legacy", attempt=0, api_key=None, desired_version=None)
    assert codes(result) == ["TLS_INVALID"]


def test_certificate_expiring_soon_is_a_warning() -> None:
    with WandbStandIn(tls="valid", cert_days=10, version=VERSION) as standin:
        result = check(standin, api_key=None)
    assert result.healthy
    assert [(f.code, f.severity) for f in result.findings] == [
        ("CERT_EXPIRING", "warning"),
        ("VERSION_UNCHECKED", "info"),
    ]
    assert result.certificate_days_left in {9, 10}


# -- the API key never leaves the function ----------------------------------------------------------------------------
def test_api_key_never_appears_in_results_logs_or_output(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    encoded = base64.b64encode(f"api:{API_KEY}".encode()).decode()
    seen: list[str] = []
    with WandbStandIn(version="0.1.0", api_key=API_KEY, tls="valid") as standin:
        seen.append(repr(standin))
        faults: list[tuple[str, float]] = [("none", 0), ("status", 503), ("delay", 1), ("down", 0)]
        for fault, value in faults:
            if fault == "status":
                standin.set_status(int(value))
            elif fault == "delay":
                standin.set_delay(value)
            elif fault == "down":
                standin.down()
            result = check(standin, timeout=0.3)
            seen += [repr(result), str(result), result.model_dump_json()]
        standin.up()
        standin.set_delay(0)
        standin.set_status(200)
        result = check(standin, api_key="wrong-key-" + API_KEY[::-1])
        seen += [repr(result), result.model_dump_json()]
    for bad in ("https://nonexistent.invalid", "not a url", "http://[::1"):
        seen.append(
            check_health(
                url=bad, generation="operator", attempt=0, api_key=API_KEY, desired_version="1"
            ).model_dump_json()
        )
    out, err = capsys.readouterr()
    text = "\n".join([*seen, caplog.text, out, err])
    assert API_KEY not in text
    assert API_KEY[::-1] not in text
    assert encoded not in text
    assert "api:" not in text
