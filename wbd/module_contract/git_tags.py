"""Read a module's files at its release tags straight from git (no work tree, no checkout)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

# A release tag: `v` + MAJOR.MINOR.PATCH, nothing else (pre-releases and other tags are not releases).
RELEASE_TAG = re.compile(r"^v(\d+)\.(\d+)\.(\d+)$")


class GitReadError(RuntimeError):
    """git could not read the repository (not a repository, unknown tag, unreadable object)."""


@dataclass(frozen=True)
class Release:
    """One release tag: its version (without `v`), the tag name and the commit it points at."""

    version: str
    tag: str
    commit: str


def _git(repository: Path, *args: str) -> str:
    try:
        completed = subprocess.run(  # noqa: S603 - fixed git arguments; no shell
            ["git", "-C", str(repository), *args],  # noqa: S607 - git from PATH, as for any maintainer
            capture_output=True,
            text=True,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise GitReadError(f"git {' '.join(args)} failed in {repository}: {exc.stderr.strip()}") from exc
    return completed.stdout


def release_tags(repository: Path) -> list[Release]:
    """Every release tag of the repository, oldest first (by version, not by date)."""
    tags = [line.strip() for line in _git(repository, "tag", "--list").splitlines() if line.strip()]
    found: list[tuple[tuple[int, int, int], str]] = []
    for tag in tags:
        match = RELEASE_TAG.fullmatch(tag)
        if match:
            found.append(((int(match.group(1)), int(match.group(2)), int(match.group(3))), tag))
    releases = []
    for numbers, tag in sorted(found):
        commit = _git(repository, "rev-list", "-n", "1", tag).strip()
        releases.append(Release(version=".".join(str(n) for n in numbers), tag=tag, commit=commit))
    return releases


def files_at(repository: Path, commit: str, *, suffix: str = ".tf") -> dict[str, str]:
    """Path -> text of every file ending in `suffix` in the tree of `commit` (paths relative to the root)."""
    listing = _git(repository, "ls-tree", "-r", "--name-only", commit)
    texts: dict[str, str] = {}
    for path in listing.splitlines():
        if path.endswith(suffix):
            texts[path] = _git(repository, "show", f"{commit}:{path}")
    return texts
