"""`make bench`: every benchmark, one after the other; results in bench/results/*.json.

Benchmarks measure; they never assert timings. Each can also run alone: `python -m bench.<name>`.
"""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = ("plan_summary", "cold_start", "layer_size", "demo", "burst")


def main(names: list[str]) -> int:
    failed = 0
    for name in names or BENCHMARKS:
        print(f"== bench.{name}")
        try:
            module = importlib.import_module(f"bench.{name}")
        except ModuleNotFoundError:
            print(f"(bench.{name} is not there)")
            continue
        result = module.main() if name != "plan_summary" else module.main([])
        if isinstance(result, dict) and result.get("succeeded") is False:
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
