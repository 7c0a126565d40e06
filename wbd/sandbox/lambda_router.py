"""In-process Lambda: moto's simple Lambda backend routed to the repository's real handlers.

An invocation of a template function loads `<CodeUri>/<module>.py` (once per sandbox), applies the function's
environment to os.environ for the duration of the call (under a lock: one handler at a time), clears the layer's
cached settings and clients, and calls the handler with a Lambda-like context, acting as a session of the function's
execution role (every AWS call of the handler is authorized against that role's policies). A handler exception comes
back the way AWS returns it (header `x-amz-function-error: Unhandled`, payload with errorType/errorMessage/
stackTrace), so the Step Functions interpreter's Retry/Catch by error name behaves as on AWS. `InvocationType: Event`
runs the handler in a background thread. An armed throttle fault answers `TooManyRequestsException` (HTTP 429).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from wbd.sandbox.errors import HandlerLoadError
from wbd.sandbox.faults import THROTTLE_FUNCTION, Faults
from wbd.sandbox.function_logs import FunctionLogRouter, routed_stdout
from wbd.sandbox.identities import IdentityBroker, acting_as
from wbd.sandbox.stack_records import FunctionSpec

LOGGER = logging.getLogger(__name__)
Handler = Callable[[Any, Any], Any]
_ORIGINAL_INVOKE = LambdaSimpleBackend.invoke


class TooManyRequestsException(JsonRESTError):
    """What Lambda answers when a function is throttled (the interpreter reports `Lambda.TooManyRequestsException`)."""

    code = 429

    def __init__(self) -> None:
        super().__init__("TooManyRequestsException", "Rate Exceeded.")


class LambdaContext:
    """The attributes of the Lambda Python runtime's context object that handlers and powertools read."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = f"sandbox/[$LATEST]{uuid.uuid4().hex}"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _clear_layer_caches() -> None:
    from wandb_deployer.aws_clients import client
    from wandb_deployer.settings import get_settings

    get_settings.cache_clear()
    client.cache_clear()


class LambdaRouter:
    """Routes invocations of the stack's functions (by physical name) to their handlers in this process."""

    def __init__(
        self, functions: dict[str, FunctionSpec], faults: Faults, log_dir: Path, identities: IdentityBroker
    ) -> None:
        self.functions = functions
        self.identities = identities
        self.faults = faults
        self.log_dir = log_dir
        self._stdout: FunctionLogRouter | None = None
        self.invocations: list[dict[str, Any]] = []
        self._modules: dict[str, ModuleType] = {}
        # Held while a handler runs with its environment applied to os.environ, and by whoever else in this process
        # reads os.environ whole (boto3 builds a client from it): keys come and go while a handler runs.
        self.environment_lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def install(self, patches: ExitStack) -> None:
        router = self

        def invoke(
            backend: LambdaSimpleBackend,
            function_name: str,
            qualifier: str | None,
            body: Any,
            headers: Any,
            response_headers: dict[str, str],
        ) -> bytes | str | None:
            return router.invoke(backend, function_name, qualifier, body, headers, response_headers)

        patches.enter_context(patch.object(LambdaSimpleBackend, "invoke", invoke))
        self._stdout = patches.enter_context(routed_stdout())
        patches.callback(self.close)

    def _capture(self, path: Path) -> AbstractContextManager[None]:
        """What the handler prints goes to its function's log file (Lambda sends stdout to CloudWatch Logs)."""
        return self._stdout.capture(path) if self._stdout is not None else nullcontext()

    def logs(self, logical_id: str) -> str:
        path = self.log_dir / f"{logical_id}.log"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def track(self, thread: threading.Thread) -> None:
        """Remember an asynchronous invocation's thread so that `close()` waits for it."""
        self._threads = [item for item in self._threads if item.is_alive()] + [thread]

    def close(self) -> None:
        for thread in list(self._threads):
            thread.join(timeout=10)
        for module in self._modules.values():
            sys.modules.pop(module.__name__, None)
        self._modules.clear()

    # -- invocation ----------------------------------------------------------------------------------------------
    def invoke(
        self,
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: dict[str, str],
    ) -> bytes | str | None:
        name = backend.get_function(function_name, qualifier).function_name
        spec = self.functions.get(name)
        if spec is None:
            return _ORIGINAL_INVOKE(backend, function_name, qualifier, body, headers, response_headers)
        if self.faults.take(f"{THROTTLE_FUNCTION}:{name}") is not None:
            LOGGER.info("invocation throttled by fault", extra={"function": spec.logical_id})
            raise TooManyRequestsException()
        raw = body.decode("utf-8") if isinstance(body, bytes) else (body or "")
        event = json.loads(raw) if raw.strip() else {}
        invocation_type = (headers.get("X-Amz-Invocation-Type") if headers else None) or "RequestResponse"
        if invocation_type == "DryRun":
            return b""
        if invocation_type == "Event":
            thread = threading.Thread(
                target=self.run, args=(spec, event), name=f"wbd-lambda-{spec.logical_id}", daemon=True
            )
            self.track(thread)
            thread.start()
            return b""
        payload, failed = self.run(spec, event)
        if failed:
            response_headers["x-amz-function-error"] = "Unhandled"
        return payload

    def run(self, spec: FunctionSpec, event: Any) -> tuple[bytes, bool]:
        """Call the handler with the function's environment; (payload, failed) as the Lambda runtime reports it."""
        context = LambdaContext(spec)
        runtime_environment = {
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": context.log_group_name,
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        started = time.monotonic()
        log_path = self.log_dir / f"{spec.logical_id}.log"
        # As Lambda does: the handler's AWS calls are made with a session of the function's execution role.
        identity = self.identities.role_session(spec.role_arn, session_name=spec.name) if spec.role_arn else None
        with self.environment_lock, _environment(runtime_environment), self._capture(log_path), acting_as(identity):
            _clear_layer_caches()
            try:
                handler = self._handler(spec)
            except HandlerLoadError as exc:
                LOGGER.warning("handler cannot be loaded", extra={"function": spec.logical_id})
                handler = None
                payload, failed = _error_payload("Runtime.ImportModuleError", str(exc), exc), True
            if handler is not None:
                try:
                    result = handler(event, context)
                except Exception as exc:  # noqa: BLE001 - the Lambda runtime turns any handler exception into an error payload
                    payload, failed = _error_payload(type(exc).__name__, str(exc), exc), True
                else:
                    try:
                        payload, failed = json.dumps(result).encode("utf-8"), False
                    except (TypeError, ValueError) as exc:
                        payload, failed = (
                            _error_payload("Runtime.MarshalError", f"Unable to marshal response: {exc}", None),
                            True,
                        )
        self.invocations.append(
            {
                "function": spec.logical_id,
                "request_id": context.aws_request_id,
                "failed": failed,
                "seconds": time.monotonic() - started,
            }
        )
        return payload, failed

    def _handler(self, spec: FunctionSpec) -> Handler:
        module_path, _, attribute = spec.handler.rpartition(".")
        key = f"{spec.name}:{module_path}"
        if key not in self._modules:
            source = spec.code_dir / (module_path.replace(".", "/") + ".py")
            module_name = f"wbd_sandbox_function_{spec.logical_id}_{module_path.replace('.', '_')}"
            loader_spec = importlib.util.spec_from_file_location(module_name, source)
            if loader_spec is None or loader_spec.loader is None or not source.is_file():
                raise HandlerLoadError(f"{spec.logical_id}: handler file {source} not found")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[module_name] = module
            try:
                loader_spec.loader.exec_module(module)
            except Exception as exc:
                sys.modules.pop(module_name, None)
                raise HandlerLoadError(
                    f"{spec.logical_id}: importing {module_path} failed: {type(exc).__name__}: {exc}"
                ) from exc
            self._modules[key] = module
        handler = getattr(self._modules[key], attribute, None)
        if not callable(handler):
            raise HandlerLoadError(f"{spec.logical_id}: handler {spec.handler!r} is not a callable in {module_path}")
        return handler  # type: ignore[no-any-return]


def _error_payload(error_type: str, message: str, exc: BaseException | None) -> bytes:
    # Like the Lambda runtime: the handler's frames only (the first frame is this router calling the handler).
    stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:]) if exc is not None else []
    return json.dumps({"errorType": error_type, "errorMessage": message, "stackTrace": stack}).encode("utf-8")


class _environment:
    """Apply variables to os.environ for a block, then put back exactly what was there."""

    def __init__(self, variables: dict[str, str]) -> None:
        self.variables = variables
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> None:
        self.saved = {key: os.environ.get(key) for key in self.variables}
        os.environ.update(self.variables)

    def __exit__(self, *exc_info: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
