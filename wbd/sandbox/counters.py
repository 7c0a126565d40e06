"""Counters of emulator API calls (by service and operation), counted at the emulator's HTTP server.

Every request that reaches the embedded moto server is counted, whoever sent it: handlers, the state machine
interpreter, the CLI, build subprocesses. The operation name comes from `X-Amz-Target` (JSON protocols), the
`Action` parameter (query protocols) or, for REST protocols (S3, Lambda, Scheduler...), from matching the method
and path against botocore's service model.
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import botocore.session
from botocore.exceptions import DataNotFoundError, UnknownServiceError

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_SIGNING_NAME_TO_SERVICE = {"states": "stepfunctions", "execute-api": "apigateway", "monitoring": "cloudwatch"}
_URI_LABEL = re.compile(r"\{([^}]+)\}")

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], list[str], int, str]]:
    """(method, path regex, required query keys, specificity, operation) for each operation of a REST service."""
    try:
        model = botocore.session.get_session().get_service_model(service)
    except (UnknownServiceError, DataNotFoundError):  # a signing name that is no service: no REST routes
        return []
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http.get("requestUri", "/").partition("?")
        pattern = ""
        for piece in re.split(r"(\{[^}]+\})", path):
            if piece.startswith("{"):
                pattern += ".+" if piece.endswith("+}") else "[^/]+"
            else:
                pattern += re.escape(piece)
        required = [item.split("=")[0] for item in query.split("&") if item and "{" not in item]
        specificity = len(_URI_LABEL.sub("", path)) + 10 * len(required)
        routes.append((http.get("method", "POST"), re.compile(f"^{pattern}/?$"), required, specificity, name))
    return routes


def _rest_operation(service: str, method: str, path: str, query: dict[str, list[str]]) -> str:
    best: tuple[int, str] | None = None
    for route_method, regex, required, specificity, name in _rest_routes(service):
        matches = route_method == method and regex.match(path) and all(key in query for key in required)
        if matches and (best is None or specificity > best[0]):
            best = (specificity, name)
    return best[1] if best else f"{method} {path.split('/')[1] if path.count('/') else path}"


class ApiCounters:
    """Thread-safe counts of (service, operation) pairs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str]] = Counter()

    def add(self, service: str, operation: str) -> None:
        with self._lock:
            self._counts[(service, operation)] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        """{service: {operation: count}}, sorted."""
        with self._lock:
            items = sorted(self._counts.items())
        result: dict[str, dict[str, int]] = {}
        for (service, operation), count in items:
            result.setdefault(service, {})[operation] = count
        return result

    def total(self, service: str | None = None) -> int:
        with self._lock:
            return sum(count for (svc, _), count in self._counts.items() if service in (None, svc))

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    def middleware(self, app: WsgiApp) -> WsgiApp:
        """Wrap the emulator's WSGI app so that every AWS request is counted before moto answers it."""

        def counted(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            service, operation = self.classify(environ)
            if service:
                self.add(service, operation)
            return app(environ, start_response)

        return counted

    @staticmethod
    def classify(environ: dict[str, Any]) -> tuple[str, str]:
        """(service, operation) of a WSGI request; ('', '') for requests that are not AWS API calls."""
        scope = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope:
            return "", ""
        service = _SIGNING_NAME_TO_SERVICE.get(scope.group(1), scope.group(1))
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            return service, target.rsplit(".", 1)[-1]
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if "Action" in query:
            return service, query["Action"][0]
        if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            form = parse_qs(body.decode("utf-8", "replace"))
            if "Action" in form:
                return service, form["Action"][0]
        return service, _rest_operation(
            service, environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/"), query
        )
