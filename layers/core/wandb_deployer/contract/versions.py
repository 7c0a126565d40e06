"""Release versions (MAJOR.MINOR.PATCH) as tuples, compared as numbers."""

from __future__ import annotations

import re

Version = tuple[int, int, int]

_SEMVER = re.compile(r"(\d{1,6})\.(\d{1,6})\.(\d{1,6})")


def parse_version(text: str) -> Version:
    """`8.0.0` -> (8, 0, 0). Raises ValueError for anything else (no prefix, suffix, newline or pre-release)."""
    match = _SEMVER.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a version MAJOR.MINOR.PATCH")
    return int(match.group(1)), int(match.group(2)), int(match.group(3))


def is_version(text: object) -> bool:
    return isinstance(text, str) and _SEMVER.fullmatch(text) is not None


def format_version(version: Version) -> str:
    return ".".join(str(part) for part in version)
