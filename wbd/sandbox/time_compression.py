"""Time compression: Wait states, Retry intervals and the interpreter's .sync polling run `scale` times faster.

The ASL is unchanged; moto's interpreter is patched: `WaitFunction._wait_interval` waits seconds/scale,
`retrier_decl.time.sleep` sleeps seconds/scale, and `.sync` polling checks every 0.5/scale s (at least 10 ms).
Task TimeoutSeconds/HeartbeatSeconds are NOT scaled (a handler's real run time would otherwise exceed them).
CodeBuild timeouts are scaled by the build runner; subprocesses get WBD_SANDBOX_TIME_SCALE.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

_SYNC_POLL_SECONDS = 0.5
_MIN_POLL_SECONDS = 0.01


def install_time_compression(patches: ExitStack, scale: float) -> None:
    """Patch moto's interpreter so that its waits are divided by `scale` (>= 1 speeds up)."""
    if scale <= 0:
        raise ValueError("time scale must be positive")

    def wait_interval(self: WaitFunction, env: Any, wait_seconds: float) -> None:
        deadline = time.monotonic() + max(0.0, float(wait_seconds)) / scale
        while env.is_running():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if env.program_state_event.wait(remaining):
                time.sleep(min(remaining, _MIN_POLL_SECONDS))

    def scaled_sleep(seconds: float) -> None:
        time.sleep(max(0.0, float(seconds)) / scale)

    scaled_time = SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    scaled_time.sleep = scaled_sleep
    patches.enter_context(patch.object(WaitFunction, "_wait_interval", wait_interval))
    patches.enter_context(patch.object(retrier_decl, "time", scaled_time))
    patches.enter_context(
        patch.object(
            state_task_service_callback,
            "_DELAY_SECONDS_SYNC_CONDITION_CHECK",
            max(_MIN_POLL_SECONDS, _SYNC_POLL_SECONDS / scale),
        )
    )
