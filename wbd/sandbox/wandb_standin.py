"""A local stand-in for a W&B server: the health, readiness and version endpoints, and faults to inject.

It is NOT W&B: it answers only what the deployer's health check asks (`/healthz`, `/ready`, `/console/api/healthz`,
`/console/api/ready`, and POST `/graphql` serverInfo) on 127.0.0.1, over plain HTTP or HTTPS with certificates made on
the spot (a local CA for "valid", an expired one, a self-signed one). Tests and `wbd sandbox demo` use its controls to
make W&B unhealthy, flap, answer 503, run another version, refuse connections or answer too slowly.

It listens twice, as W&B behind its load balancer is reached twice: `url` is the load balancer's listener (what the
deployer calls), `target_address` is the pods' port that the load balancer's own health checks call (plain HTTP, the
same answers; the flap fault counts requests through the listener only). `only_from(cidrs)` makes the listener admit
only those sources, as `allowed_inbound_cidr` does on the load balancer's security group: any other source's
connection is held without an answer until it gives up (a security group drops packets; the client times out).
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import json
import shutil
import ssl
import tempfile
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TlsMode = Literal["none", "valid", "self-signed", "expired"]
HEALTH_PATHS = frozenset({"/healthz", "/ready", "/console/api/healthz", "/console/api/ready"})


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "wandb-deployer sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _alt_names(names: Sequence[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in names:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def _write_certificates(directory: Path, mode: TlsMode, names: Sequence[str], days: int) -> tuple[Path, Path, Path]:
    """(CA bundle, server certificate, server key) PEM files for `mode`; the CA always exists (for `.ca_bundle`)."""
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("wandb-deployer sandbox CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # keyCertSign, cRLSign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    subject = _name(names[0] if names else "localhost")
    if mode == "expired":
        not_before, not_after = now - timedelta(days=90), now - timedelta(days=3)
    else:
        not_before, not_after = now - timedelta(days=1), now + timedelta(days=days)
    self_signed = mode == "self-signed"
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if self_signed else ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(_alt_names(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                server_key.public_key() if self_signed else ca_key.public_key()
            ),
            critical=False,
        )
    )
    server_cert = builder.sign(server_key if self_signed else ca_key, hashes.SHA256())
    ca_path, cert_path, key_path = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(server_cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], standin: WandbStandIn, tls: ssl.SSLContext | None, *, listener: bool = True
    ) -> None:
        self.standin = standin
        self.tls = tls
        self.listener = listener  # the load balancer's listener (False: the pods' port its health checks call)
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """TLS handshakes run in the request's thread, so a stuck client cannot block the accept loop."""
        if self.listener and not self.standin._admits(str(client_address[0])):
            self.standin._hold(request)
            return
        if self.tls is not None:
            request.settimeout(5)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                # Expected in tests: the client rejected our expired / self-signed certificate and hung up.
                request.close()
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out hang up mid-answer; that is the point of the delay fault, not an error to print."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the stand-in's traffic is in `.requests`."""

    def _answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        status = self.server.standin._serve(path, via_listener=self.server.listener)
        if status is None:
            return
        self._answer(status, {"status": "ok" if status == 200 else "unavailable"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        status = self.server.standin._serve(
            path, authorization=self.headers.get("Authorization"), via_listener=self.server.listener
        )
        if status is None:
            return
        if status != 200:
            self._answer(status, {"errors": [{"message": "unavailable" if status >= 500 else "unauthorized"}]})
            return
        version = self.server.standin.version
        info = {"versionOnThisInstanceString": version, "latestVersionString": version, "outOfDate": False}
        # W&B's schema lets latestLocalVersionInfo be null (its fields are not).
        reported = info if self.server.standin.reports_version else None
        self._answer(200, {"data": {"serverInfo": {"latestLocalVersionInfo": reported}}})


class WandbStandIn:
    """A W&B stand-in on 127.0.0.1 (port 0 = a free port); use as a context manager or with start()/stop()."""

    def __init__(
        self,
        *,
        version: str = "0.70.0",
        api_key: str | None = None,
        tls: TlsMode = "none",
        cert_days: int = 90,
        cert_names: Sequence[str] = ("localhost", "127.0.0.1"),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.version = version
        self.tls: TlsMode = tls
        self.requests: list[str] = []
        self.target_requests: list[str] = []  # the load balancer's health checks, on the target port
        self.reports_version = True  # False: serverInfo.latestLocalVersionInfo is null
        self.held: list[str] = []  # sources whose connections only_from held without an answer
        self._api_key = api_key
        self._host = host
        self._port = port
        self._cert_days = cert_days
        self._cert_names = tuple(cert_names)
        self._lock = threading.Lock()
        self._status = 200
        self._failures_left = 0
        self._delay = 0.0
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._target_server: _Server | None = None
        self._target_thread: threading.Thread | None = None
        self._target_port = 0
        self._allowed: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None = None
        self._context: ssl.SSLContext | None = None
        self._directory: Path | None = None
        self.ca_bundle: str | None = None

    def __repr__(self) -> str:
        return f"WandbStandIn(url={self.url!r}, tls={self.tls!r}, version={self.version!r})"

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def start(self) -> WandbStandIn:
        if self.tls != "none" and self._context is None:
            self._directory = Path(tempfile.mkdtemp(prefix="wbd-standin-"))
            ca, cert, key = _write_certificates(self._directory, self.tls, self._cert_names, self._cert_days)
            self.ca_bundle = str(ca)
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(cert, key)
        self._stopping.clear()
        self.up()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.down()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None
            self._context = None
            self.ca_bundle = None

    def __enter__(self) -> WandbStandIn:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        scheme = "http" if self.tls == "none" else "https"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def target_address(self) -> str:
        """`<ip>:<port>` of the pods' port, as registered in the load balancer's target group."""
        return f"{self._host}:{self._target_port}"

    # -- faults --------------------------------------------------------------------------------------------------
    def down(self) -> None:
        """Stop accepting connections: clients get "connection refused" on the same ports until up()."""
        for server, thread in ((self._server, self._thread), (self._target_server, self._target_thread)):
            if server is not None:
                server.shutdown()
                server.server_close()
            if thread is not None:
                thread.join(timeout=5)
        self._server = self._target_server = None
        self._thread = self._target_thread = None

    def up(self) -> None:
        """Listen again (on the same ports once they have them)."""
        if self._server is not None:
            return
        self._server = _Server((self._host, self._port), self, self._context)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="wandb-standin", daemon=True)
        self._thread.start()
        self._target_server = _Server((self._host, self._target_port), self, None, listener=False)
        self._target_port = self._target_server.server_address[1]
        self._target_thread = threading.Thread(
            target=self._target_server.serve_forever, name="wandb-standin-target", daemon=True
        )
        self._target_thread.start()

    def only_from(self, cidrs: Sequence[str] | None) -> None:
        """Admit only sources within `cidrs` on the listener (None: everyone); others are held until they give up."""
        with self._lock:
            self._allowed = None if cidrs is None else tuple(ipaddress.ip_network(c, strict=False) for c in cidrs)

    def set_healthy(self, healthy: bool) -> None:
        """Health endpoints answer 200, or 503."""
        self.set_status(200 if healthy else 503)

    def set_status(self, code: int) -> None:
        """Health endpoints and GraphQL answer `code` (e.g. 503, 500, 404)."""
        with self._lock:
            self._status = code
            self._failures_left = 0

    def flap(self, failures: int) -> None:
        """The next `failures` health requests answer 503, then the endpoint is healthy."""
        with self._lock:
            self._status = 200
            self._failures_left = failures

    def set_version(self, version: str) -> None:
        self.version = version

    def report_version(self, reports: bool) -> None:
        """False: GraphQL serverInfo answers latestLocalVersionInfo = null (nullable in W&B's schema)."""
        self.reports_version = reports

    def set_api_key(self, api_key: str | None) -> None:
        """GraphQL answers only requests carrying this key (basic auth `api:<key>`); None answers anyone."""
        with self._lock:
            self._api_key = api_key

    def set_delay(self, seconds: float) -> None:
        """Wait `seconds` before every answer (clients with a shorter timeout see a timeout)."""
        self._delay = seconds

    def fault_hooks(self) -> dict[str, Callable[..., None]]:
        """The controls as named hooks, for the sandbox's fault registry (`Faults.register(name, hook)`)."""
        return {
            "wandb.healthy": self.set_healthy,
            "wandb.status": self.set_status,
            "wandb.flap": self.flap,
            "wandb.version": self.set_version,
            "wandb.delay": self.set_delay,
            "wandb.down": self.down,
            "wandb.up": self.up,
            "wandb.only_from": self.only_from,
            "wandb.report_version": self.report_version,
        }

    # -- serving (called from request threads) -------------------------------------------------------------------
    def _authorized(self, authorization: str | None) -> bool:
        if self._api_key is None:
            return True
        expected = "Basic " + base64.b64encode(f"api:{self._api_key}".encode()).decode("ascii")
        return hmac.compare_digest((authorization or "").encode(), expected.encode())

    def _admits(self, source: str) -> bool:
        with self._lock:
            allowed = self._allowed
        if allowed is None:
            return True
        address = ipaddress.ip_address(source)
        return any(address in network for network in allowed if network.version == address.version)

    def _hold(self, connection: Any) -> None:
        """Read and drop whatever the client sends, never answer, until it hangs up or the stand-in stops."""
        self.held.append(str(connection.getpeername()[0]))
        connection.settimeout(0.2)
        try:
            while not self._stopping.is_set():
                try:
                    if not connection.recv(4096):
                        return
                except TimeoutError:
                    continue
        except OSError:
            return
        finally:
            connection.close()

    def _serve(self, path: str, authorization: str | None = None, *, via_listener: bool = True) -> int | None:
        """The status to answer for `path`, after the delay fault; None when the stand-in is stopping."""
        (self.requests if via_listener else self.target_requests).append(path)
        if self._delay and self._stopping.wait(self._delay):
            return None
        if path == "/graphql":
            if not self._authorized(authorization):
                return 401
            with self._lock:
                return self._status if self._status >= 500 else 200
        if path not in HEALTH_PATHS:
            return 404
        with self._lock:
            if via_listener and self._failures_left > 0:
                self._failures_left -= 1
                return 503
            return self._status
