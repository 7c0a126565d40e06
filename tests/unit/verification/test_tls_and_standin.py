"""Certificate expiry read from DER bytes, and the stand-in's own contract (GraphQL auth, faults as hooks)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.verification.conftest import API_KEY
from wandb_deployer.verification.tls import certificate_not_after, days_left, days_left_or_none
from wbd.sandbox.wandb_standin import WandbStandIn

pytestmark = pytest.mark.unit


def der_certificate(not_after: datetime) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "wandb.example.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime(2020, 1, 1, tzinfo=UTC))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize(
    "not_after",
    [
        datetime(2031, 6, 30, 12, 0, 5, tzinfo=UTC),  # UTCTime
        datetime(2051, 1, 2, 3, 4, 5, tzinfo=UTC),  # GeneralizedTime (from 2050)
    ],
)
def test_not_after_from_der(not_after: datetime) -> None:
    assert certificate_not_after(der_certificate(not_after)) == not_after


def test_days_left_counts_whole_days_and_goes_negative() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    assert days_left(der_certificate(now + timedelta(days=20, hours=5)), now) == 20
    assert days_left(der_certificate(now - timedelta(days=2, hours=1)), now) == -3


def test_truncated_der_is_rejected() -> None:
    with pytest.raises(ValueError, match="truncated"):
        certificate_not_after(der_certificate(datetime(2031, 1, 1, tzinfo=UTC))[:60])


def _post_graphql(url: str, authorization: str | None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(f"{url}/graphql", data=b'{"query": "query ServerInfo {}"}', method="POST")
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=3) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_standin_graphql_requires_the_configured_key() -> None:
    with WandbStandIn(version="0.70.1", api_key=API_KEY) as standin:
        assert _post_graphql(standin.url, None)[0] == 401
        assert _post_graphql(standin.url, "Basic " + base64.b64encode(b"api:wrong").decode())[0] == 401
        status, body = _post_graphql(standin.url, "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode())
        assert API_KEY not in repr(standin)
        assert all(API_KEY not in path for path in standin.requests)
    assert status == 200
    assert body == {
        "data": {
            "serverInfo": {
                "latestLocalVersionInfo": {
                    "versionOnThisInstanceString": "0.70.1",
                    "latestVersionString": "0.70.1",
                    "outOfDate": False,
                }
            }
        }
    }


def test_standin_without_key_answers_anyone_and_404s_unknown_paths() -> None:
    with WandbStandIn() as standin:
        assert _post_graphql(standin.url, None)[0] == 200
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(f"{standin.url}/nothing-here", timeout=3)
        assert raised.value.code == 404
        raised.value.close()
        assert standin.requests == ["/graphql", "/nothing-here"]


def test_standin_faults_are_exposed_as_hooks_and_ports_are_kept() -> None:
    with WandbStandIn() as standin:
        hooks = standin.fault_hooks()
        assert set(hooks) == {
            "wandb.healthy",
            "wandb.status",
            "wandb.flap",
            "wandb.version",
            "wandb.delay",
            "wandb.down",
            "wandb.up",
            "wandb.only_from",
            "wandb.report_version",
        }
        port = standin.port
        hooks["wandb.down"]()
        hooks["wandb.up"]()
        assert standin.port == port
        hooks["wandb.version"]("9.9.9")
        assert standin.version == "9.9.9"


def test_standin_tls_files_are_removed_on_stop() -> None:
    standin = WandbStandIn(tls="valid").start()
    bundle = standin.ca_bundle
    assert bundle is not None
    assert Path(bundle).read_text(encoding="ascii").startswith("-----BEGIN CERTIFICATE-----")
    standin.stop()
    assert standin.ca_bundle is None
    assert not Path(bundle).exists()


@pytest.mark.parametrize("der", [None, b"", b"\x30\x82\xff\xff\x00", b"not a certificate at all"])
def test_unreadable_certificates_have_no_days_left(der: bytes | None) -> None:
    assert days_left_or_none(der) is None
