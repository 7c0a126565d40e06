"""Time compression: Wait states, Retry intervals, Task timeouts and the interpreter's .sync polling run `scale` times
faster.

The ASL is unchanged; moto's interpreter is patched: `WaitFunction._wait_interval` waits seconds/scale,
`retrier_decl.time.sleep` sleeps seconds/scale, and `.sync` polling checks every 0.5/scale s (at least 10 ms).

Task `TimeoutSeconds`/`TimeoutSecondsPath` and `HeartbeatSeconds`/`HeartbeatSecondsPath` are scaled too, by what the
task waits for:
- a callback (`.waitForTaskToken`, an activity) waits for someone else, an operator's approval for example: that time
  is emulated, so the timeout and the heartbeat are divided by `scale` (rounded up to whole seconds, at least 1 s);
  an `ApprovalTimeoutSeconds` of 3600 s times out after 36 s at scale 100;
- any other task runs real code here (a handler in-process, a build in a subprocess) whose run time is not compressed,
  so its timeout is divided by `scale` but never below `min(declared, REAL_WORK_FLOOR_SECONDS)` real seconds.
Timeouts the state does not declare (moto's default of 99999999 s) are left alone.
CodeBuild timeouts are scaled by the build runner; subprocesses get WBD_SANDBOX_TIME_SCALE.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import ExitStack
from types import SimpleNamespace
from typing import Any
from unittest.mock import patch

from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.common.timeouts.heartbeat import Heartbeat
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import Timeout
from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_callback
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import ResourceCondition
from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_activitiy import StateTaskActivity
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.asl.eval.environment import Environment

_SYNC_POLL_SECONDS = 0.5
_MIN_POLL_SECONDS = 0.01
# A .sync task's poll is a request to the emulator (CodeBuild's BatchGetBuilds, authorized like any other): compressed
# to 0.005 s it was a busy loop of 200 requests a second per running build. A build takes seconds; 0.1 s is enough.
_MIN_SYNC_POLL_SECONDS = 0.1
REAL_WORK_FLOOR_SECONDS = 60  # real seconds a task running real code keeps (its declared timeout when smaller)

SecondsScaler = Callable[[int], int]


def callback_seconds(scale: float) -> SecondsScaler:
    """Emulated waiting (a callback, a heartbeat): declared/scale, rounded up, at least 1 s."""

    def scaled(seconds: int) -> int:
        return max(1, math.ceil(seconds / scale))

    return scaled


def real_work_seconds(scale: float) -> SecondsScaler:
    """Real work (a handler, a build): declared/scale, but never below min(declared, REAL_WORK_FLOOR_SECONDS)."""

    def scaled(seconds: int) -> int:
        return max(math.ceil(seconds / scale), min(seconds, REAL_WORK_FLOOR_SECONDS))

    return scaled


class ScaledTimeout(Timeout):
    """A state's declared timeout, evaluated as the declared one and then compressed."""

    def __init__(self, declared: Timeout, scaled: SecondsScaler) -> None:
        super().__init__()
        self.declared = declared
        self.scaled = scaled

    def is_default_value(self) -> bool:
        return self.declared.is_default_value()

    def _eval_seconds(self, env: Environment) -> int:
        self.declared.eval(env=env)
        return self.scaled(int(env.stack.pop()))


class ScaledHeartbeat(Heartbeat):
    """A state's declared heartbeat interval, compressed like the wait it guards."""

    def __init__(self, declared: Heartbeat, scaled: SecondsScaler) -> None:
        super().__init__()
        self.declared = declared
        self.scaled = scaled

    def _eval_seconds(self, env: Environment) -> int:
        self.declared.eval(env=env)
        return self.scaled(int(env.stack.pop()))


def waits_for_callback(state: ExecutionState) -> bool:
    """True for a task whose time goes by waiting for someone else: `.waitForTaskToken` or an activity."""
    if isinstance(state, StateTaskActivity):
        return True
    resource = getattr(state, "resource", None)
    return getattr(resource, "condition", None) == ResourceCondition.WaitForTaskToken


def compress_state_timeouts(state: ExecutionState, scale: float) -> None:
    """Replace the state's declared timeout and heartbeat by compressed ones (once; declared defaults stay)."""
    scaled = callback_seconds(scale) if waits_for_callback(state) else real_work_seconds(scale)
    timeout = state.timeout
    if not isinstance(timeout, ScaledTimeout) and not timeout.is_default_value():
        state.timeout = ScaledTimeout(timeout, scaled)
    heartbeat = state.heartbeat
    if heartbeat is not None and not isinstance(heartbeat, ScaledHeartbeat):
        state.heartbeat = ScaledHeartbeat(heartbeat, callback_seconds(scale))


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

    evaluate_with_timeout = ExecutionState._evaluate_with_timeout

    def evaluate_with_compressed_timeout(self: ExecutionState, env: Environment) -> None:
        compress_state_timeouts(self, scale)
        evaluate_with_timeout(self, env)

    scaled_time = SimpleNamespace(**{name: getattr(time, name) for name in dir(time) if not name.startswith("_")})
    scaled_time.sleep = scaled_sleep
    patches.enter_context(patch.object(WaitFunction, "_wait_interval", wait_interval))
    patches.enter_context(patch.object(retrier_decl, "time", scaled_time))
    patches.enter_context(
        patch.object(
            state_task_service_callback,
            "_DELAY_SECONDS_SYNC_CONDITION_CHECK",
            max(_MIN_SYNC_POLL_SECONDS, _SYNC_POLL_SECONDS / scale),
        )
    )
    patches.enter_context(patch.object(ExecutionState, "_evaluate_with_timeout", evaluate_with_compressed_timeout))
