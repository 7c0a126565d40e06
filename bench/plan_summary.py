"""Benchmark: summarising a large plan (10,000 resources) in the streaming summariser.

Run with `python -m bench.plan_summary [--resources N] [--blob-bytes B]`. Generates a realistic `terraform show -json`
document (before/after attribute blobs of a few KB per resource, plus planned_values, prior_state and resource_drift
sections of similar weight) into a temporary file, then measures time and peak memory of `summarise_plan_json` on it,
next to a naive `json.load` of the same file for comparison. Prints a table and writes bench/results/plan_summary.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import random
import resource
import string
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from wandb_deployer.plan.summary import summarise_plan_json

RESULTS = Path(__file__).parent / "results" / "plan_summary.json"
TYPES = [
    ("aws_iam_role_policy_attachment", ["create"]),
    ("aws_security_group_rule", ["update"]),
    ("kubernetes_config_map", ["no-op"]),
    ("helm_release", ["update"]),
    ("aws_s3_bucket", ["no-op"]),
    ("aws_rds_cluster_instance", ["delete", "create"]),
    ("aws_route53_record", ["no-op"]),
    ("aws_cloudwatch_log_group", ["delete"]),
]


def attribute_blob(rng: random.Random, size: int) -> dict[str, Any]:
    """A resource's attributes: nested maps, lists and strings with quotes and escapes, about `size` bytes of JSON."""
    blob: dict[str, Any] = {"tags": {"team": "ml-platform", "note": 'a "quoted" value\\n'}, "rules": []}
    while len(json.dumps(blob)) < size:
        blob["rules"].append(
            {
                "cidr_blocks": [f"10.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(3)],
                "description": "".join(rng.choices(string.ascii_letters + " {}[]", k=80)),
                "port": rng.randrange(65535),
                "enabled": rng.random() > 0.5,
            }
        )
    return blob


def write_plan(target: BinaryIO, resources: int, blob_bytes: int, seed: int = 7) -> None:
    """Stream a plan document to `target` without holding it in memory."""
    rng = random.Random(seed)

    def element(i: int, drift: bool = False) -> bytes:
        resource_type, actions = TYPES[i % len(TYPES)]
        change = {
            "address": f"module.wandb.module.m{i // 100}.{resource_type}.r{i}",
            "module_address": f"module.wandb.module.m{i // 100}",
            "mode": "managed",
            "type": resource_type,
            "name": f"r{i}",
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": {
                "actions": ["update"] if drift else actions,
                "before": attribute_blob(rng, blob_bytes // 2),
                "after": attribute_blob(rng, blob_bytes // 2),
                "after_unknown": {"id": True},
                "before_sensitive": {"password": True},
                "after_sensitive": {"password": True},
            },
        }
        return json.dumps(change).encode()

    def array(name: str, count: int, drift: bool = False) -> None:
        target.write(f'"{name}": ['.encode())
        for i in range(count):
            if i:
                target.write(b",\n")
            target.write(element(i, drift))
        target.write(b"],\n")

    target.write(b'{"format_version": "1.2", "terraform_version": "1.9.8",\n')
    target.write(b'"variables": {"namespace": {"value": "wandb"}},\n')
    target.write(b'"planned_values": {"root_module": {"resources": [')
    for i in range(resources):
        if i:
            target.write(b",\n")
        target.write(json.dumps({"address": f"r{i}", "values": attribute_blob(rng, blob_bytes // 2)}).encode())
    target.write(b"]}},\n")
    array("resource_drift", resources // 20, drift=True)
    array("resource_changes", resources)
    target.write(b'"prior_state": {"format_version": "1.0", "values": {"root_module": {}}},\n')
    target.write(b'"configuration": {"root_module": {}}, "timestamp": "2026-01-01T00:00:00Z",\n')
    target.write(b'"applyable": true, "complete": true, "errored": false}\n')


def measure(fn: Callable[[], Any]) -> dict[str, float]:
    gc.collect()
    started = time.perf_counter()
    fn()
    seconds = time.perf_counter() - started
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"seconds": round(seconds, 3), "tracemalloc_peak_mb": round(peak / 2**20, 2)}


def max_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(rss / (2**20 if sys.platform == "darwin" else 2**10), 1)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--blob-bytes", type=int, default=3_000, help="JSON bytes of before+after per resource")
    parser.add_argument("--skip-naive", action="store_true", help="do not measure the naive json.load")
    args = parser.parse_args(argv)

    with tempfile.NamedTemporaryFile(suffix=".json") as plan:
        write_plan(plan, args.resources, args.blob_bytes)  # type: ignore[arg-type]
        plan.flush()
        size_mb = Path(plan.name).stat().st_size / 2**20
        rss_before = max_rss_mb()

        def streaming() -> Any:
            with open(plan.name, "rb") as stream:
                return summarise_plan_json(stream)

        digest = streaming()
        rows = {"summarise_plan_json (streaming)": {**measure(streaming), "max_rss_mb_after": max_rss_mb()}}
        if not args.skip_naive:

            def naive() -> Any:
                with open(plan.name, "rb") as stream:
                    return len(json.load(stream)["resource_changes"])

            rows["json.load (naive, for comparison)"] = {**measure(naive), "max_rss_mb_after": max_rss_mb()}

    report = {
        "resources": args.resources,
        "plan_json_mb": round(size_mb, 1),
        "counts": digest.counts.model_dump(),
        "destructive": digest.destructive_count,
        "max_rss_mb_before": rss_before,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "results": rows,
    }
    print(f"plan: {args.resources} resources, {size_mb:.1f} MB of JSON; counts {report['counts']}")
    print(f"{'method':<36} {'seconds':>8} {'tracemalloc peak MB':>20} {'max RSS MB':>11}")
    for name, row in rows.items():
        print(f"{name:<36} {row['seconds']:>8} {row['tracemalloc_peak_mb']:>20} {row['max_rss_mb_after']:>11}")
    print(f"max RSS before summarising: {rss_before} MB (generation streams to disk)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {RESULTS}")
    return report


if __name__ == "__main__":
    main()
