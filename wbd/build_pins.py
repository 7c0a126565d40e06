"""Maintainer tool: rewrite the sha256 pins of the Terraform build files in template.yaml's buildspec.

The CodeBuild project's buildspec checks the run bundle's runner files (wandb_deployer/terraform_build/) against the
sha256s written into it, so a change to one of them needs its pin updated: `make buildspec-pins`. The unit test
tests/unit/terraform_build/test_buildspec.py fails until the pins are current.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

_PIN = re.compile(r"'([0-9a-f]{64})  ([A-Za-z0-9_.-]+)'")


def build_files_dir(repo: Path) -> Path:
    return repo / "layers" / "core" / "wandb_deployer" / "terraform_build"


def current_pins(repo: Path) -> dict[str, str]:
    """File name -> sha256 of every build file the bundle carries."""
    directory = build_files_dir(repo)
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != "__init__.py" and path.suffix in {".py", ".json", ".txt"}
    }


def rewrite(template: str, pins: dict[str, str]) -> str:
    """The template with each pinned file's sha256 replaced by `pins[name]` (names not pinned yet are refused)."""
    pinned = {name for _digest, name in _PIN.findall(template)}
    missing = sorted(set(pins) - pinned)
    if missing:
        raise SystemExit(f"template.yaml's buildspec pins no sha256 for {missing}: add a line for each")
    return _PIN.sub(lambda match: f"'{pins.get(match.group(2), match.group(1))}  {match.group(2)}'", template)


def main(repo: Path = Path()) -> int:
    path = repo / "template.yaml"
    before = path.read_text(encoding="utf-8")
    after = rewrite(before, current_pins(repo))
    if after != before:
        path.write_text(after, encoding="utf-8")
        print("template.yaml: buildspec pins updated")
    else:
        print("template.yaml: buildspec pins are current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
