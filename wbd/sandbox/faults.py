"""Fault injection: the sandbox's own faults (builds, throttling) and a registry other emulations plug into.

A fault is armed with a name, a number of times it fires and free-form parameters. In-process code consumes it with
`take(name)`; subprocesses (the CodeBuild emulation's build commands, the terraform emulation) read and consume
the same faults through the JSON file at `faults.path` (env `WBD_SANDBOX_FAULTS_FILE`) with `take_fault_from_file`.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

FAIL_NEXT_BUILD = "codebuild.fail_next_build"
TIMEOUT_NEXT_BUILD = "codebuild.timeout_next_build"
THROTTLE_FUNCTION = "lambda.throttle"


def take_fault_from_file(path: Path, name: str) -> dict[str, Any] | None:
    """Consume one firing of fault `name` from the faults file (for subprocesses); None when it is not armed."""
    if not path.exists():
        return None
    with path.open("r+", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        armed: dict[str, dict[str, Any]] = json.loads(handle.read() or "{}")
        fault = armed.get(name)
        if fault is None:
            return None
        fault["times"] = int(fault.get("times", 1)) - 1
        if fault["times"] <= 0:
            del armed[name]
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(armed))
        return dict(fault.get("params", {}))


class Faults:
    """Armed faults, shared by the in-process emulations and (through a file) by build subprocesses."""

    def __init__(self, path: Path, function_name_of: Callable[[str], str] | None = None) -> None:
        self.path = path
        self._function_name_of = function_name_of or (lambda logical_id: logical_id)
        self._lock = threading.Lock()
        self._hooks: dict[str, Callable[..., Any]] = {}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("{}", encoding="utf-8")

    # -- generic registry ---------------------------------------------------------------------------------------
    def arm(self, name: str, times: int = 1, **params: Any) -> None:
        """Make fault `name` fire the next `times` times it is checked, with `params` handed to whoever checks."""
        with self._lock, self.path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            armed: dict[str, Any] = json.loads(handle.read() or "{}")
            armed[name] = {"times": times, "params": params}
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(armed))

    def disarm(self, name: str) -> None:
        """Forget fault `name` (no-op when it is not armed)."""
        with self._lock, self.path.open("r+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            armed: dict[str, Any] = json.loads(handle.read() or "{}")
            armed.pop(name, None)
            handle.seek(0)
            handle.truncate()
            handle.write(json.dumps(armed))

    def take(self, name: str) -> dict[str, Any] | None:
        """Consume one firing of fault `name`: its params, or None when it is not armed."""
        with self._lock:
            return take_fault_from_file(self.path, name)

    def armed(self) -> dict[str, Any]:
        """What is armed right now: name -> {times, params}."""
        with self._lock:
            loaded: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8") or "{}")
            return loaded

    def register(self, name: str, hook: Callable[..., Any]) -> None:
        """Let another emulation (W&B stand-in, terraform emulation) expose a fault as `faults.call(name, ...)`."""
        self._hooks[name] = hook

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Trigger a registered fault hook."""
        return self._hooks[name](*args, **kwargs)

    @property
    def hooks(self) -> list[str]:
        return sorted(self._hooks)

    # -- the sandbox's own faults -------------------------------------------------------------------------------
    def fail_next_build(self, reason: str = "sandbox fault: build failed") -> None:
        """The next CodeBuild build fails in its BUILD phase with `reason` in its log."""
        self.arm(FAIL_NEXT_BUILD, reason=reason)

    def timeout_next_build(self) -> None:
        """The next CodeBuild build ends TIMED_OUT without running its commands."""
        self.arm(TIMEOUT_NEXT_BUILD)

    def throttle_function(self, logical_id: str, times: int = 1) -> None:
        """The next `times` invocations of the function fail with `Lambda.TooManyRequestsException`, as AWS does."""
        self.arm(f"{THROTTLE_FUNCTION}:{self._function_name_of(logical_id)}", times=times)
