"""Keeping a sandbox up for other processes (`wbd sandbox up`): start, announce the endpoint, wait, stop.

    from wbd.sandbox.serve import serve, shell_exports
    serve(Sandbox(repo_root), announce=lambda sandbox: console.print(shell_exports(sandbox)))

The AWS CLI and `wbd` in another shell reach it after `eval "$(...exports...)"` (AWS_ENDPOINT_URL, region, fake
credentials). Stops on SIGINT / SIGTERM (main thread) or when `stop` is set.
"""

from __future__ import annotations

import shlex
import signal
import threading
from collections.abc import Callable
from types import FrameType

from wbd.sandbox.sandbox import Sandbox


def shell_exports(sandbox: Sandbox) -> str:
    """`export NAME=value` lines (shell-quoted) that point another shell at the running sandbox."""
    variables = {name: value for name, value in sandbox.environment.items() if name != "MOTO_PORT"}
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in sorted(variables.items()))


def serve(sandbox: Sandbox, announce: Callable[[Sandbox], None], stop: threading.Event | None = None) -> None:
    """Run `sandbox` until interrupted; `announce` is called once it is up (print the endpoint there)."""
    stop = stop or threading.Event()
    previous: dict[int, object] = {}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, request_stop)
    sandbox.start()
    try:
        announce(sandbox)
        while not stop.wait(timeout=0.5):
            continue
    finally:
        sandbox.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
