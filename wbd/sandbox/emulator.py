"""The embedded AWS emulator: moto in server mode, in this process, on 127.0.0.1.

Starting it points the whole process at it (AWS_ENDPOINT_URL, fake credentials, region, MOTO_PORT for moto's own
Step Functions interpreter), configures moto (ASL execution on, Lambda without Docker) and counts every request.
Stopping it restores the environment and moto's configuration exactly.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from contextlib import ExitStack
from functools import cache
from typing import Any
from unittest.mock import patch

import boto3
from moto.core.config import default_user_config
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from wbd.sandbox.counters import ApiCounters

ACCOUNT_ID = "123456789012"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_SESSION_TOKEN": "sandbox",
    "AWS_SECURITY_TOKEN": "sandbox",
}
_MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
_REMOVED_VARIABLES = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")

LOGGER = logging.getLogger(__name__)


class _QuietRequestHandler(MotoRequestHandler):
    """moto's request handler without werkzeug's access log line per request."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def atomic_items(app: Any) -> Any:
    """DynamoDB applies each write atomically; moto builds an updated item in place, so a read racing an UpdateItem
    can see it half-written (for example without its key attributes). Serialize DynamoDB requests to restore the
    guarantee the deployer relies on; other services stay concurrent."""
    lock = threading.Lock()

    def serialized(environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return app(environ, start_response)
        with lock:
            return list(app(environ, start_response))

    return serialized


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Emulator:
    """moto's server in a thread of this process, with the process environment pointed at it while it runs."""

    def __init__(self, region: str = "us-east-1", port: int | None = None) -> None:
        self.region = region
        self.port = port or free_port()
        self.credentials: dict[str, str] = dict(FAKE_CREDENTIALS)
        self.counters = ApiCounters()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._patches = ExitStack()

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def environment(self) -> dict[str, str]:
        """What a process (or subprocess) needs to talk to this emulator.

        The operator's access key is an IAM user's, without a session token: the token variables are exported empty,
        so that a token left in the shell (or the parent's environment) is not sent with it and refused."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "MOTO_PORT": str(self.port),
            "AWS_SESSION_TOKEN": "",
            "AWS_SECURITY_TOKEN": "",
            **self.credentials,
        }

    def start(self) -> None:
        self._patches.enter_context(patch.dict(os.environ, self.environment))
        for name in _REMOVED_VARIABLES:
            if name in os.environ:
                self._patches.enter_context(patch.dict(os.environ, {name: ""}))
                del os.environ[name]
        self._patches.enter_context(patch.dict(default_user_config, _MOTO_CONFIG))
        app: Any = self.counters.middleware(atomic_items(DomainDispatcherApplication(create_backend_app)))
        self._server = make_server("127.0.0.1", self.port, app, threaded=True, request_handler=_QuietRequestHandler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="wbd-sandbox-emulator", daemon=True
        )
        self._thread.start()
        LOGGER.info("emulator started", extra={"endpoint_url": self.endpoint_url})

    def use_credentials(self, credentials: dict[str, str]) -> None:
        """From now on the process (and every process started with `environment`) calls the emulator with these
        credentials: an access key the emulator knows, so that its IAM authorization can judge them."""
        for name in FAKE_CREDENTIALS:
            os.environ.pop(name, None)
        self.credentials = dict(credentials)
        os.environ.update(self.credentials)
        _forget_clients()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self._thread = None
        self._patches.close()
        self.credentials = dict(FAKE_CREDENTIALS)
        _forget_clients()
        LOGGER.info("emulator stopped", extra={"port": self.port})


def _forget_clients() -> None:
    """Clients and sessions keep the credentials they were made with: after a change, make them anew (boto3's default
    session, used by `boto3.client(...)`, included)."""
    _cached_client.cache_clear()
    _session.cache_clear()
    boto3.DEFAULT_SESSION = None


@cache
def _session() -> boto3.session.Session:
    """One session for every emulator client: botocore's loader caches the service models it parses."""
    return boto3.session.Session()


@cache
def _cached_client(service: str, endpoint_url: str, region: str) -> Any:
    return _session().client(service, endpoint_url=endpoint_url, region_name=region)


def emulator_client(service: str) -> Any:
    """A boto3 client for the running emulator (from AWS_ENDPOINT_URL), cached per service and endpoint."""
    endpoint_url = os.environ.get("AWS_ENDPOINT_URL", "")
    region = os.environ.get("AWS_REGION", "us-east-1")
    return _cached_client(service, endpoint_url, region)
