"""Lambda's stdout goes to CloudWatch Logs, not to the terminal: in the sandbox, to one file per function.

Handlers run in the emulator's threads, so sys.stdout is replaced by a stream that writes to the file of the
function whose handler runs on the current thread, and to the real stdout everywhere else (the CLI's own output).
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO


class FunctionLogRouter(io.TextIOBase):
    """A stdout stand-in: per-thread destination while a handler runs, the real stdout otherwise."""

    def __init__(self, real: TextIO) -> None:
        super().__init__()
        self.real = real
        self._local = threading.local()
        self._write_lock = threading.Lock()

    def writable(self) -> bool:
        return True

    # The CLI's own output still goes to the real stdout: report its terminal (rich animates its live display only on
    # a terminal), its descriptor and its encoding.
    def isatty(self) -> bool:
        return self.real.isatty()

    def fileno(self) -> int:
        return self.real.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.real, "encoding", None) or "utf-8")

    def write(self, text: str) -> int:
        target: TextIO | None = getattr(self._local, "target", None)
        if target is None:
            return self.real.write(text)
        with self._write_lock:
            written = target.write(text)
            target.flush()
            return written

    def flush(self) -> None:
        self.real.flush()

    @contextmanager
    def capture(self, path: Path) -> Iterator[None]:
        """Everything the current thread prints goes to `path` (appended) until the block ends."""
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = getattr(self._local, "target", None)
        with path.open("a", encoding="utf-8") as log:
            self._local.target = log
            try:
                yield
            finally:
                self._local.target = previous


_ROUTER_LOCK = threading.Lock()


@contextmanager
def routed_stdout() -> Iterator[FunctionLogRouter]:
    """The process's router as sys.stdout while a sandbox runs.

    One router per process, kept installed: powertools' log handlers are process-wide singletons that hold on to the
    stream they were created with, so a second sandbox in the same process (tests) must route through the same one.
    """
    with _ROUTER_LOCK:
        router = sys.stdout if isinstance(sys.stdout, FunctionLogRouter) else FunctionLogRouter(sys.stdout)
        sys.stdout = router
    yield router
