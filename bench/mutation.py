"""Mutation testing of the decision logic: do the unit tests notice when a decision changes?

Run with `make mutation` (= `python -m bench.mutation`); it is slow, so it is not part of `make test` or CI. mutmut
(pinned in the dev dependencies) mutates the functions of the modules in AREAS, one small change at a time (a `>`
becomes `>=`, an `and` becomes `or`, a string, a number or an argument changes), and runs against each mutant the unit
tests of the module's area that execute the mutated function: a mutant some test fails on is killed, one every test
passes on survived. The score of a file is killed / (mutants - equivalent ones); the target is TARGET for every file.

Each area runs on its own (`python -m bench.mutation runs plan` reruns two; the report keeps the other areas' last
results). `--modules` runs some of an area's modules (`python -m bench.mutation verification --modules
verification/wiring.py`): the area's staging directory is kept, with its other modules' last results, and a module
never run is reported under `files_not_run` instead of being scored; mutants a stopped run did not reach count as
`not_checked`, outside the score, until `--resume` tests them. `--survivors --tests <files>` retests the survivors
against some of the area's test files (quicker; what they kill is killed, what they miss stays a survivor).

mutmut derives module names from file paths and only knows `src/` layouts, so an area runs in a staging directory
(`build/mutation/<area>/`) where `src/wandb_deployer` points at `layers/core/wandb_deployer` and the folders the tests
read point at the repository's; its mutants and results stay there.

Surviving mutants that change nothing observable are listed, each with why, in `bench/mutation-equivalents.md`: an
entry names the mutant and quotes the line as the mutant changes it (as `mutmut show` prints it). An entry whose mutant
no longer exists, no longer survives or changes another line is reported as stale and not excluded.

Writes `bench/results/mutation.json`: per file the counts, the score, the survivors not listed as equivalent and the
stale entries; per area the wall time. `--show` prints the diff of every survivor. Exits 1 when a file is below TARGET.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "layers" / "core" / "wandb_deployer"
STAGING = ROOT / "build" / "mutation"
RESULTS = ROOT / "bench" / "results" / "mutation.json"
EQUIVALENTS = ROOT / "bench" / "mutation-equivalents.md"
TARGET = 0.90


@dataclass(frozen=True)
class Area:
    """Decision-logic modules (paths inside the package) and the unit test folders that test them."""

    modules: tuple[str, ...]
    tests: tuple[str, ...]


AREAS: dict[str, Area] = {
    "plan": Area(("plan/destructive.py", "plan/summary.py"), ("plan",)),
    "runs": Area(
        tuple(f"runs/{name}.py" for name in ("__init__", "approval", "desired", "history", "lock", "notify")),
        ("runs",),
    ),
    "upgrade": Area(("upgrade/guards.py", "deploy/upgrade_step.py"), ("upgrade",)),
    "config": Area(("config/validation.py", "config/domain_rules.py"), ("config",)),
    "verification": Area(
        ("verification/wiring.py", "verification/policy.py", "deploy/verify_step.py", "deploy/health_step.py"),
        ("verification",),
    ),
    "deploy": Area(
        (
            "deploy/approval_step.py",
            "deploy/drift_step.py",
            "deploy/finish_step.py",
            "deploy/lock_step.py",
            "deploy/plan_step.py",
            "deploy/record_step.py",
            "deploy/trigger_step.py",
        ),
        ("deploy",),
    ),
}
# What the tests read from the repository besides the package (tests find the repository as `tests/..`).
TEST_INPUTS = ("README.md", "examples", "functions", "statemachines", "template.yaml")
# Lines never mutated, with why. Log calls: a constant message with keyword fields; a changed message or field
# changes no decision (that no log line carries a secret is tested where secrets are handled).
DO_NOT_MUTATE_PATTERNS = (r"^\s*logger\.(debug|info|warning|error|exception)\(",)

_ENTRY = re.compile(r"^- `(?P<name>wandb_deployer\.\S+__mutmut_\d+)`: `(?P<line>.+)` — (?P<why>.+)$")
_KILLED = {"killed", "timeout", "caught by type check"}
NOT_CHECKED = "not checked"  # mutmut's status of a mutant it generated but did not run


def module_name(path: str) -> str:
    return ("wandb_deployer." + path.removesuffix(".py").replace("/", ".")).removesuffix(".__init__")


def toml_value(value: object) -> str:
    """A TOML value for strings, numbers, booleans and lists of them (JSON's syntax is TOML's for these)."""
    return json.dumps(value, ensure_ascii=False)


def mutmut_config(area: Area, tests: tuple[str, ...] = ()) -> str:
    """The staging directory's pyproject.toml: the repository's pytest settings and mutmut's for the area (`tests`:
    some of the area's test files instead of its folders)."""
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    settings: dict[str, object] = {
        "source_paths": ["src/wandb_deployer"],
        "only_mutate": [f"src/wandb_deployer/{path}" for path in area.modules],
        "also_copy": list(TEST_INPUTS),
        "pytest_add_cli_args": ["-m", "unit", "-p", "no:cacheprovider"],
        "pytest_add_cli_args_test_selection": list(tests) or [f"tests/unit/{folder}" for folder in area.tests],
        "do_not_mutate_patterns": list(DO_NOT_MUTATE_PATTERNS),
        "use_git_change_detection": False,
    }
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in pytest_options.items() if key != "testpaths"]
    lines += ["", "[tool.mutmut]"]
    lines += [f"{key} = {toml_value(value)}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


def stage(name: str, area: Area) -> Path:
    """A fresh staging directory for the area: `src/wandb_deployer` and the tests' inputs as links."""
    directory = STAGING / name
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "src").mkdir(parents=True)
    links = {"src/wandb_deployer": PACKAGE, "tests": ROOT / "tests"} | {item: ROOT / item for item in TEST_INPUTS}
    for link, target in links.items():
        (directory / link).symlink_to(target)
    (directory / "pyproject.toml").write_text(mutmut_config(area))
    return directory


def run_area(
    name: str,
    area: Area,
    max_children: int,
    *,
    survivors_only: bool = False,
    modules: tuple[str, ...] = (),
    tests: tuple[str, ...] = (),
    resume: bool = False,
) -> dict[str, Any]:
    """Run mutmut over the area; `survivors_only` retests only the last run's survivors against the current tests
    (tests recorded anew; a killed mutant stays killed as long as the code and the tests that killed it are kept);
    `modules` (some of the area's) runs only their mutants and keeps the other modules' last results; `tests` (with
    `survivors_only`) retests against some of the area's test files: a mutant they kill is killed, one they miss stays a
    survivor (the area's other tests were already run against it); `resume` tests only the mutants the last run did not
    reach (a stopped run), keeping every result it has."""
    previous: dict[str, Any] = {}
    directory = STAGING / name
    if (survivors_only or modules or resume) and (directory / "run.json").exists():
        previous = json.loads((directory / "run.json").read_text())
    if survivors_only:
        mutants = sorted(
            mutant
            for path, by_name in area_results(name, area).items()
            if not modules or path in modules
            for mutant, status in by_name.items()
            if status not in _KILLED
            and status != NOT_CHECKED
            and not (tests and mutant in read_equivalents())  # a partial retest leaves the listed ones as they are
        )
        (directory / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)  # record the tests anew
        (directory / "pyproject.toml").write_text(mutmut_config(area, tests))
        if not mutants:
            print("   no survivors to retest")
            return previous
    elif resume:
        (directory / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)  # record the tests anew
        (directory / "pyproject.toml").write_text(mutmut_config(area))
        mutants = []  # without names, mutmut tests only the mutants that have no result yet
    elif modules:
        if not directory.exists():
            stage(name, area)
        (directory / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)  # record the tests anew
        (directory / "pyproject.toml").write_text(mutmut_config(area))
        mutants = [f"{module_name(path)}.x*" for path in modules]  # x_function, xǁClassǁmethod
    else:
        directory = stage(name, area)
        mutants = []
    started = time.monotonic()
    command = [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children", str(max_children), *mutants]
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with open(directory / "mutmut.log", "w") as log:
        completed = subprocess.run(command, cwd=directory, env=environment, stdout=log, stderr=log, check=False)
    if completed.returncode != 0:
        raise SystemExit(f"mutmut run of {name} failed ({completed.returncode}): see {directory / 'mutmut.log'}")
    run: dict[str, Any] = {
        "wall_seconds": round(time.monotonic() - started, 1),
        "finished_at": datetime.now(UTC).isoformat(),
    }
    if survivors_only:
        run = {
            **previous,
            "survivors_retested": previous.get("survivors_retested", 0) + len(mutants),
            "survivors_retest_seconds": round(previous.get("survivors_retest_seconds", 0) + run["wall_seconds"], 1),
            "survivors_retested_at": run["finished_at"],
            **({"survivors_retested_with": list(tests)} if tests else {}),
        }
    elif resume:
        run = {
            **previous,
            "wall_seconds": round(previous.get("wall_seconds", 0) + run["wall_seconds"], 1),
            "finished_at": run["finished_at"],
            "resumed": previous.get("resumed", 0) + 1,
        }
    elif modules:
        seconds = {**previous.get("module_seconds", {}), **dict.fromkeys(modules, run["wall_seconds"] / len(modules))}
        run = {
            **previous,
            "wall_seconds": round(previous.get("wall_seconds", 0) + run["wall_seconds"], 1),
            "finished_at": run["finished_at"],
            "module_seconds": {path: round(value, 1) for path, value in seconds.items()},
        }
    (directory / "run.json").write_text(json.dumps(run))
    return run


def area_results(name: str, area: Area) -> dict[str, dict[str, str]]:
    """Per module path: mutant name -> status, from mutmut's result files of the area's last run."""
    from mutmut.stats import status_by_exit_code

    by_file: dict[str, dict[str, str]] = {}
    for path in area.modules:
        meta = STAGING / name / "mutants" / "src" / "wandb_deployer" / f"{path}.meta"
        exit_codes = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        by_file[path] = {mutant: status_by_exit_code[code] for mutant, code in exit_codes.items()}
    return by_file


def mutant_diffs(name: str, mutants: Iterable[str]) -> dict[str, str]:
    """`mutmut show`'s diff of each mutant (read in the area's staging directory, where mutmut keeps them)."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diffs: dict[str, str] = {}
    cwd = Path.cwd()
    os.chdir(STAGING / name)
    reset_config()  # mutmut reads its configuration once, from the working directory: the area's
    try:
        for mutant in mutants:
            diffs[mutant] = get_diff_for_mutant(mutant)
    finally:
        os.chdir(cwd)
    return diffs


def changed_lines(diff: str) -> list[str]:
    """The mutant's side of the diff: the lines it adds, stripped."""
    return [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]


def read_equivalents() -> dict[str, tuple[str, str]]:
    """mutant name -> (its changed line, quoted; why it changes nothing observable)."""
    entries: dict[str, tuple[str, str]] = {}
    for line in EQUIVALENTS.read_text().splitlines() if EQUIVALENTS.exists() else []:
        found = _ENTRY.match(line.strip())
        if found:
            entries[found["name"]] = (found["line"].strip(), found["why"].strip())
    return entries


def score_file(
    path: str, by_name: dict[str, str], diffs: dict[str, str], equivalents: dict[str, tuple[str, str]]
) -> dict[str, Any]:
    counts = Counter("killed" if status in _KILLED else status for status in by_name.values())
    survivors = sorted(mutant for mutant, status in by_name.items() if status not in _KILLED | {NOT_CHECKED})
    equivalent = {
        mutant
        for mutant in survivors
        if mutant in equivalents
        and by_name[mutant] == "survived"
        and equivalents[mutant][0] in changed_lines(diffs.get(mutant, ""))
    }
    listed = sorted(mutant for mutant in equivalents if mutant.rsplit(".", 1)[0] == module_name(path))
    counted = len(by_name) - len(equivalent) - counts[NOT_CHECKED]
    return {
        "mutants": len(by_name),
        "killed": counts["killed"],
        "survived": counts["survived"],
        "no_tests": counts["no tests"],
        "not_checked": counts[NOT_CHECKED],  # a run stopped before it reached them: the score is over the others
        "other": {k: v for k, v in counts.items() if k not in {"killed", "survived", "no tests", NOT_CHECKED}},
        "equivalent": len(equivalent),
        "score": round(counts["killed"] / counted, 4) if counted else 1.0,
        "survivors": [
            {"mutant": mutant, "status": by_name[mutant], "changes": changed_lines(diffs.get(mutant, ""))}
            for mutant in survivors
            if mutant not in equivalent
        ],
        "stale_equivalents": [mutant for mutant in listed if mutant not in equivalent],
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("areas", nargs="*", metavar="AREA", help=f"areas to run: {', '.join(AREAS)} (default: all)")
    parser.add_argument("--report-only", action="store_true", help="report the last runs without running mutmut")
    parser.add_argument("--show", action="store_true", help="print the diff of every survivor")
    parser.add_argument("--max-children", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument(
        "--survivors", action="store_true", help="retest only the survivors of the areas' last runs (tests added since)"
    )
    parser.add_argument(
        "--modules",
        nargs="+",
        default=[],
        metavar="PATH",
        help="run only these modules of the area (paths in the package, e.g. verification/wiring.py); the area's other"
        " modules keep their last results",
    )
    parser.add_argument(
        "--resume", action="store_true", help="test only the mutants a stopped run of the areas did not reach"
    )
    parser.add_argument(
        "--tests",
        nargs="+",
        default=[],
        metavar="PATH",
        help="with --survivors: retest against these test files of the area only (a survivor they miss stays one)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.tests and not args.survivors:
        parser.error("--tests goes with --survivors")
    folders = [f"tests/unit/{folder}/" for name in args.areas for folder in AREAS[name].tests if name in AREAS]
    outside = [path for path in args.tests if not path.startswith(tuple(folders)) or not (ROOT / path).exists()]
    if outside:
        parser.error(f"not test files of the area(s): {', '.join(outside)}")
    unknown = sorted(set(args.areas) - set(AREAS))
    if unknown:
        parser.error(f"unknown area(s) {', '.join(unknown)}; the areas are {', '.join(AREAS)}")
    if args.modules and len(args.areas) != 1:
        parser.error("--modules needs exactly one area")
    foreign = sorted(set(args.modules) - set(AREAS[args.areas[0]].modules)) if args.modules else []
    if foreign:
        parser.error(
            f"not modules of {args.areas[0]}: {', '.join(foreign)}; its modules are "
            f"{', '.join(AREAS[args.areas[0]].modules)}"
        )

    runs: dict[str, Any] = {}
    for name in [] if args.report_only else args.areas or list(AREAS):
        print(f"== {name}: {len(AREAS[name].modules)} modules against tests/unit/{{{','.join(AREAS[name].tests)}}}")
        runs[name] = run_area(
            name,
            AREAS[name],
            args.max_children,
            survivors_only=args.survivors,
            modules=tuple(args.modules),
            tests=tuple(args.tests),
            resume=args.resume,
        )
        print(f"   {runs[name].get('wall_seconds', 0)} s")

    equivalents = read_equivalents()
    files: dict[str, dict[str, Any]] = {}
    files_not_run: list[str] = []
    areas: dict[str, Any] = {}
    all_diffs: dict[str, str] = {}
    for name, area in AREAS.items():
        run_file = STAGING / name / "run.json"
        if not run_file.exists():
            print(f"== {name}: not run yet (python -m bench.mutation {name})")
            continue
        areas[name] = {
            "modules": list(area.modules),
            "tests": [f"tests/unit/{folder}" for folder in area.tests],
            **json.loads(run_file.read_text()),
        }
        statuses = area_results(name, area)
        survivors = {
            mutant for by in statuses.values() for mutant, status in by.items() if status not in _KILLED | {NOT_CHECKED}
        }
        all_diffs.update(mutant_diffs(name, sorted(survivors)) if survivors else {})
        for path, by_name in statuses.items():
            if by_name and all(status == NOT_CHECKED for status in by_name.values()):
                files_not_run.append(path)  # a `--modules` run of the area did not include it
                continue
            files[path] = score_file(path, by_name, all_diffs, equivalents)

    totals = Counter[str]()
    for item in files.values():
        keys = ("mutants", "killed", "survived", "no_tests", "equivalent", "not_checked")
        totals.update({key: item.get(key, 0) for key in keys})
    counted = totals["mutants"] - totals["equivalent"] - totals["not_checked"]
    total_score = round(totals["killed"] / counted, 4) if counted else 1.0
    report = {
        "tool": f"mutmut {_version('mutmut')}",
        "target": TARGET,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "max_children": args.max_children},
        "wall_seconds": round(sum(area.get("wall_seconds", 0) for area in areas.values()), 1),
        "areas_not_run": [name for name in AREAS if name not in areas],
        "files_not_run": files_not_run,
        "total": {**dict(totals), "score": total_score},
        "areas": areas,
        "files": files,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    below = [path for path, item in files.items() if item["score"] < TARGET]
    for path, item in files.items():
        print(
            f"{path:28} {item['score']:7.1%}  killed {item['killed']:4} of"
            f" {item['mutants'] - item['equivalent'] - item['not_checked']:<4}"
            f" (+{item['equivalent']} equivalent)  stale {len(item['stale_equivalents'])}"
            + (f"  not checked {item['not_checked']}" if item["not_checked"] else "")
            + ("  < target" if path in below else "")
        )
        for survivor in item["survivors"] if args.show else []:
            print(f"    {survivor['mutant']} ({survivor['status']})")
            print("      " + all_diffs.get(survivor["mutant"], "").replace("\n", "\n      "))
    print(f"total {total_score:.1%}; {report['wall_seconds']} s; {RESULTS.relative_to(ROOT)}")
    return 1 if below else 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
