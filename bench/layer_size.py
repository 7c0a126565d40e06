"""Benchmark: the size of what ships to Lambda (the layer: its requirements plus the wandb_deployer package).

Run with `python -m bench.layer_size`. Builds the layer into a temporary directory with layers/core/Makefile, exactly
as `sam build` does (the hash-locked requirements.txt, manylinux wheels for the python3.12 arm64 runtime, --no-deps:
boto3/botocore are the runtime's), and reports the unzipped and zipped sizes and how many botocores it holds
(Lambda's limit: 250 MB unzipped for function + layers). Writes bench/results/layer_size.json.
"""

from __future__ import annotations

import io
import json
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
            ["make", "-s", "-C", str(ROOT / "layers" / "core"), "build-CoreLayer",
             f"ARTIFACTS_DIR={scratch}", f"PYTHON={sys.executable}"],
            check=True,
            timeout=600,
        )  # fmt: skip
        package = directory_size(target / "wandb_deployer")
        total = directory_size(target)
        report = {
            "dependencies_bytes": total - package,
            "package_bytes": package,
            "unzipped_bytes": total,
            "zipped_bytes": zipped_size(Path(scratch)),
            "lambda_unzipped_limit_bytes": 250 * 1024 * 1024,
            "botocore_copies_in_layer": len(list(target.glob("botocore*.dist-info"))),
        }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    for name, value in report.items():
        if name.endswith("_bytes"):
            print(f"{name:<28} {value / 1024 / 1024:8.2f} MiB")
        else:
            print(f"{name:<28} {value:8d}")
    return report


if __name__ == "__main__":
    main()
