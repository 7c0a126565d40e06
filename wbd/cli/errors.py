"""How `wbd` fails: one line per problem on stderr and an exit code that says what kind of failure it was."""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum

SHOWN_PROBLEMS = 50  # a 5 MB file of nonsense must not print 75,000 lines


class ExitCode(IntEnum):
    OK = 0
    NEGATIVE = 1  # the command worked and the answer is bad: drift, findings, a failed or rejected run, aborted
    USAGE = 2  # the command could not do its job: bad input, unknown deployment, no credentials or region, no AWS
    INTERRUPTED = 130


class CliError(Exception):
    """An error the operator can act on: its lines are printed as they are (no traceback), then `wbd` exits."""

    def __init__(self, lines: str | Sequence[str], code: ExitCode = ExitCode.USAGE) -> None:
        self.lines = [lines] if isinstance(lines, str) else list(lines)
        self.code = code
        super().__init__("; ".join(self.lines))

    def shown_lines(self) -> list[str]:
        if len(self.lines) <= SHOWN_PROBLEMS:
            return self.lines
        return [*self.lines[:SHOWN_PROBLEMS], f"… and {len(self.lines) - SHOWN_PROBLEMS} more"]
