"""Benchmark: the demo's event-driven runs in the sandbox (push the example, change one parameter).

Run with `python -m bench.demo`. Reports wall time, runs, state transitions and emulator API calls (by service);
writes bench/results/demo.json. The sandbox emulates AWS and Terraform, so the numbers measure the deployer's own
orchestration cost (states, calls, handler time), not real cloud latency.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from wbd.sandbox_demo import run_demo

RESULTS = Path(__file__).parent / "results" / "demo.json"
REPO = Path(__file__).parent.parent


def main() -> dict[str, Any]:
    quiet = Console(file=io.StringIO(), width=120)
    result = run_demo(REPO, quiet, time_scale=100.0)
    report = {
        "succeeded": result.succeeded,
        "wall_seconds": round(result.seconds, 2),
        "runs": len(result.runs),
        "state_transitions": result.transitions,
        "transitions_per_run": [run.transitions for run in result.runs],
        "emulator_api_calls": result.api_calls,
        "note": "sandbox (moto + Terraform emulation), time scale 100; includes the progress display's polling",
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    sys.exit(0 if main()["succeeded"] else 1)
