"""Benchmark: import (cold start) time of every Lambda handler, each in a fresh interpreter.

Run with `python -m bench.cold_start [--repeat N]`. A cold start pays for importing the handler module (powertools,
pydantic models, boto3 and the layer's code); this measures exactly that, median of N fresh processes per handler.
Writes bench/results/cold_start.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "cold_start.json"
FUNCTIONS = Path(__file__).parent.parent / "functions"
PROBE = """
import importlib.util, os, sys, time
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""


def measure(handler: Path, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", PROBE, str(handler)], capture_output=True, text=True, check=True, timeout=60
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    report = {
        path.parent.name: round(measure(path, args.repeat) * 1000, 1) for path in sorted(FUNCTIONS.glob("*/app.py"))
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"import_ms_median": report}, indent=2) + "\n", encoding="utf-8")
    width = max(len(name) for name in report)
    for name, millis in report.items():
        print(f"{name:<{width}}  {millis:8.1f} ms")
    return report


if __name__ == "__main__":
    main()
