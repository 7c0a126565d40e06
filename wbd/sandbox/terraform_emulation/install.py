"""Putting the Terraform emulation on PATH as `terraform` for the sandbox's CodeBuild emulation."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

_SCRIPT = """#!{python}
# Terraform emulation of the wandb-deployer sandbox: NOT Terraform (see wbd/sandbox/terraform_emulation).
import os
import sys

# Terraform is a Go binary: the build's PYTHONPATH (the buildspec's freshly installed wheels) is not its business.
# The emulation runs on the sandbox's own packages, as Terraform would run on its own code.
_build = {{os.path.abspath(p) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}}
sys.path[:] = [p for p in sys.path if not p or os.path.abspath(p) not in _build]

from wbd.sandbox.terraform_emulation.cli import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
"""


def install_terraform_emulation(bin_dir: Path) -> Path:
    """Write an executable `terraform` into `bin_dir` that runs the emulation with this Python; returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "terraform"
    script.write_text(_SCRIPT.format(python=sys.executable), encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script
