"""One health check of a W&B endpoint: liveness/readiness URLs, TLS validity and expiry, and the running version.

One attempt per call: the state machine waits and calls again until `deployer/health_timeout_seconds` (no sleeping
Lambda).
Stdlib HTTP only (no `requests` in the layer). The API key is a parameter of this call and nothing else: it is never
stored, logged, put in a finding or an exception, and it is only sent over HTTPS (or to a loopback stand-in).
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from wandb_deployer.states import Finding, HealthResult
from wandb_deployer.verification.findings import finding
from wandb_deployer.verification.tls import (
    days_left_or_none,
    unverified_certificate,
    verification_failure,
    verifying_context,
)

logger = Logger(child=True)

APP_PATHS = ("/healthz", "/ready")
CONSOLE_PATHS = ("/console/api/healthz",)
SERVER_INFO_QUERY = (
    "query ServerInfo { serverInfo { latestLocalVersionInfo { versionOnThisInstanceString latestVersionString "
    "outOfDate } } }"
)
CERT_WARNING_DAYS = 21
_MAX_BODY = 64 * 1024
_USER_AGENT = "wandb-deployer-health/1"


@dataclass(frozen=True)
class _Endpoint:
    scheme: str
    host: str
    port: int
    base_path: str

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


class _Unreachable(Exception):
    """A connection-level failure, already turned into its finding."""

    def __init__(self, result: Finding, certificate_days: int | None = None) -> None:
        super().__init__(result.code)
        self.finding = result
        self.certificate_days = certificate_days


def _endpoint(url: str) -> _Endpoint | None:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return _Endpoint(parts.scheme, parts.hostname, port, parts.path.rstrip("/"))


def _connection(endpoint: _Endpoint, context: ssl.SSLContext | None, timeout: float) -> http.client.HTTPConnection:
    if context is None:
        return http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=timeout)
    return http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=timeout, context=context)


def _unreachable(exc: BaseException, endpoint: _Endpoint, timeout: float) -> _Unreachable:
    """Turn a connection-level exception into its finding (which one tells the operator where to look)."""
    where = endpoint.origin
    if isinstance(exc, socket.gaierror):
        return _Unreachable(finding("DNS_UNRESOLVED", f"{endpoint.host} does not resolve"))
    if isinstance(exc, ssl.SSLCertVerificationError):
        der = unverified_certificate(endpoint.host, endpoint.port, timeout)
        left = days_left_or_none(der)
        reason = verification_failure(exc)
        if left is not None and left < 0:
            reason = f"{reason}; expired {-left} day(s) ago"
        return _Unreachable(finding("TLS_INVALID", f"certificate of {where} is invalid: {reason}"), left)
    if isinstance(exc, ssl.SSLError):
        return _Unreachable(finding("TLS_INVALID", f"TLS handshake with {where} failed: {exc.reason or 'unknown'}"))
    if isinstance(exc, TimeoutError):
        return _Unreachable(finding("TIMEOUT", f"{where} did not answer within {timeout:g} s"))
    if isinstance(exc, ConnectionRefusedError):
        return _Unreachable(finding("CONNECTION_REFUSED", f"{where} refused the connection"))
    return _Unreachable(finding("CONNECTION_FAILED", f"connection to {where} failed: {type(exc).__name__}"))


def _exchange(
    endpoint: _Endpoint,
    *,
    context: ssl.SSLContext | None,
    timeout: float,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, int | None]:
    """(status, body, certificate days left) of one request; connection failures raise `_Unreachable`."""
    connection = _connection(endpoint, context, timeout)
    try:
        connection.connect()
        der = connection.sock.getpeercert(binary_form=True) if isinstance(connection.sock, ssl.SSLSocket) else None
        all_headers = {"User-Agent": _USER_AGENT, "Accept": "application/json", **(headers or {})}
        connection.request(method, endpoint.base_path + path, body=body, headers=all_headers)
        response = connection.getresponse()
        return response.status, response.read(_MAX_BODY), days_left_or_none(der)
    except (OSError, http.client.HTTPException) as exc:
        raise _unreachable(exc, endpoint, timeout) from None
    finally:
        connection.close()


def _status_finding(status: int, endpoint: _Endpoint, path: str) -> Finding | None:
    if status == 200:
        return None
    code = "HTTP_5XX" if 500 <= status <= 599 else "HTTP_UNEXPECTED"
    return finding(code, f"GET {endpoint.base_path}{path} on {endpoint.origin} answered HTTP {status}")


def _running_version(
    endpoint: _Endpoint, context: ssl.SSLContext | None, timeout: float, api_key: str
) -> tuple[str | None, Finding | None]:
    """The version W&B reports over GraphQL serverInfo, or the finding why it could not be read."""
    token = base64.b64encode(f"api:{api_key}".encode()).decode("ascii")
    body = json.dumps({"query": SERVER_INFO_QUERY, "operationName": "ServerInfo"}).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
    try:
        status, raw, _ = _exchange(
            endpoint, context=context, timeout=timeout, method="POST", path="/graphql", body=body, headers=headers
        )
    except _Unreachable as unreachable:
        return None, finding("VERSION_UNREADABLE", f"GraphQL request failed: {unreachable.finding.code}")
    if status in {401, 403}:
        return None, finding("VERSION_UNREADABLE", f"GraphQL answered HTTP {status}: the API key was not accepted")
    if status != 200:
        return None, finding("VERSION_UNREADABLE", f"GraphQL answered HTTP {status}")
    try:
        server_info = json.loads(raw)["data"]["serverInfo"]
    except (ValueError, KeyError, TypeError):
        return None, finding("VERSION_UNREADABLE", "GraphQL answered without data.serverInfo")
    if not isinstance(server_info, dict):
        return None, finding("VERSION_UNREADABLE", "GraphQL answered without data.serverInfo")
    # W&B's schema: `latestLocalVersionInfo: LocalVersionInfo` is nullable (its fields are not); the wandb SDK reads a
    # null as "this server reports no local version" (sender.get_local_info), not as an error.
    info = server_info.get("latestLocalVersionInfo")
    if info is None:
        return None, finding(
            "VERSION_NOT_REPORTED", "W&B accepted the API key but reports no latestLocalVersionInfo (null)"
        )
    version = info.get("versionOnThisInstanceString") if isinstance(info, dict) else None
    if not isinstance(version, str) or not version:
        return None, finding("VERSION_UNREADABLE", "GraphQL serverInfo.latestLocalVersionInfo has no version string")
    return version, None


def _same_version(running: str, desired: str) -> bool:
    return running.strip().removeprefix("v") == desired.strip().removeprefix("v")


def _version_check(
    endpoint: _Endpoint,
    context: ssl.SSLContext | None,
    timeout: float,
    api_key: str | None,
    desired_version: str | None,
) -> tuple[str | None, list[Finding]]:
    """(running version, findings): unchecked without a key or over plain HTTP to a remote host; else compared."""
    if api_key is None:
        return None, [finding("VERSION_UNCHECKED", "no API key configured: the running version is unknown")]
    if context is None and not endpoint.is_loopback:
        return None, [finding("VERSION_UNCHECKED", "the API key is not sent over plain HTTP: version unknown")]
    server_version, version_finding = _running_version(endpoint, context, timeout, api_key)
    if version_finding is not None:
        return None, [version_finding]
    if desired_version and server_version and not _same_version(server_version, desired_version):
        mismatch = f"W&B runs {server_version}, the desired version is {desired_version}"
        return server_version, [finding("VERSION_MISMATCH", mismatch)]
    return server_version, []


def check_health(
    *,
    url: str,
    generation: str,
    attempt: int,
    api_key: str | None,
    desired_version: str | None,
    timeout_seconds: float = 5,
    ca_bundle: str | None = None,
) -> HealthResult:
    """One health check of W&B at `url`: healthy when every endpoint answers 200 and no finding is an error."""
    endpoint = _endpoint(url)
    if endpoint is None:
        bad = finding("HTTP_UNEXPECTED", "the W&B URL is not an http(s) URL with a host; check the module output url")
        return HealthResult(healthy=False, attempt=attempt, findings=[bad])
    context = verifying_context(ca_bundle) if endpoint.scheme == "https" else None
    findings: list[Finding] = []
    if context is None:
        findings.append(finding("PLAIN_HTTP", f"{endpoint.origin} is served over plain HTTP"))
    paths = APP_PATHS + (CONSOLE_PATHS if generation == "operator" else ())
    certificate_days: int | None = None
    server_version: str | None = None
    try:
        for path in paths:
            status, _, certificate_days = _exchange(
                endpoint, context=context, timeout=timeout_seconds, method="GET", path=path
            )
            status_finding = _status_finding(status, endpoint, path)
            if status_finding is not None:
                findings.append(status_finding)
    except _Unreachable as unreachable:
        findings.append(unreachable.finding)
        certificate_days = unreachable.certificate_days
    else:
        if certificate_days is not None and certificate_days < CERT_WARNING_DAYS:
            findings.append(
                finding("CERT_EXPIRING", f"certificate of {endpoint.origin} expires in {certificate_days} day(s)")
            )
        if not any(f.code in {"HTTP_5XX", "HTTP_UNEXPECTED"} for f in findings):
            # The version is read once W&B answers its health endpoints: no extra noise while it is down.
            server_version, version_findings = _version_check(
                endpoint, context, timeout_seconds, api_key, desired_version
            )
            findings += version_findings
    healthy = not any(f.severity == "error" for f in findings)
    logger.info(
        "health checked",
        origin=endpoint.origin,
        attempt=attempt,
        healthy=healthy,
        codes=[f.code for f in findings],
        server_version=server_version,
        certificate_days_left=certificate_days,
    )
    return HealthResult(
        healthy=healthy,
        attempt=attempt,
        findings=findings,
        server_version=server_version,
        certificate_days_left=certificate_days,
    )
