"""Benchmark: the size of what ships to Lambda (the layer: its requirements plus the wandb_deployer package).

Run with `python -m bench.layer_size`. Installs layers/core/requirements.txt into a temporary directory with pip
(manylinux wheels for the python3.12 arm64 runtime, as `sam build` would), adds the package, and reports the unzipped
and zipped sizes (Lambda's limit: 250 MB unzipped for function + layers). Writes bench/results/layer_size.json.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent.parent
RESULTS = Path(__file__).parent / "results" / "layer_size.json"


def directory_size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def zipped_size(path: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in sorted(path.rglob("*")):
            if item.is_file():
                archive.write(item, item.relative_to(path))
    return buffer.tell()


def main() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch) / "python"
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target),
                "--platform", "manylinux2014_aarch64", "--python-version", "3.12", "--only-binary=:all:",
                "-r", str(ROOT / "layers" / "core" / "requirements.txt"),
            ],
            check=True,
            timeout=600,
        )  # fmt: skip
        dependencies = directory_size(target)
        shutil.copytree(
            ROOT / "layers" / "core" / "wandb_deployer",
            target / "wandb_deployer",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        total = directory_size(target)
        report = {
            "dependencies_bytes": dependencies,
            "package_bytes": total - dependencies,
            "unzipped_bytes": total,
            "zipped_bytes": zipped_size(Path(scratch)),
            "lambda_unzipped_limit_bytes": 250 * 1024 * 1024,
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, value in report.items():
        print(f"{name:<28} {value / 1024 / 1024:8.2f} MiB")
    return report


if __name__ == "__main__":
    main()
