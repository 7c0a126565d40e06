"""Fold the per-release interfaces into one compact contract per module: each fact with the releases it holds for.

Every fact (a variable with its attributes, an output, a provider constraint of one module directory, ...) is stored
once per run of consecutive releases in which it is identical: `[first, last, value]`, indices into `releases`
(inclusive). A variable that changes type in 5.0.0 has two runs; one that disappears and comes back has two runs with
a gap. The layer (`wandb_deployer.contract`) unfolds them for one release at a time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wbd.module_contract.git_tags import Release

CONTRACT_FORMAT = 1
# Facts that are keyed by a name inside a release (variable, output, directory/provider, directory/module call...).
KEYED_FACTS = ("variables", "outputs", "required_version", "required_providers", "module_calls")


def _runs(values: Sequence[Any]) -> list[list[Any]]:
    """[[first, last, value], ...] for the runs of equal, present (non-None) values."""
    runs: list[list[Any]] = []
    for index, value in enumerate(values):
        if value is None:
            continue
        if runs and runs[-1][1] == index - 1 and runs[-1][2] == value:
            runs[-1][1] = index
        else:
            runs.append([index, index, value])
    return runs


def build_contract(
    module: str, repository: str, releases: Sequence[Release], interfaces: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The contract document of `module` from its releases (oldest first) and their interfaces (same order)."""
    if len(releases) != len(interfaces):
        raise ValueError("one interface per release is needed")
    if not releases:
        raise ValueError(f"{repository}: no release tags found")
    contract: dict[str, Any] = {
        "format": CONTRACT_FORMAT,
        "module": module,
        "repository": repository,
        "releases": [[release.version, release.commit] for release in releases],
    }
    for fact in KEYED_FACTS:
        keys = sorted({key for interface in interfaces for key in interface.get(fact, {})})
        contract[fact] = {key: _runs([interface.get(fact, {}).get(key) for interface in interfaces]) for key in keys}
    wiring = _runs([interface.get("example_app_wiring") for interface in interfaces])
    if wiring:
        contract["example_app_wiring"] = wiring
    descriptions: dict[str, str] = {}
    for interface in interfaces:  # the newest description of each variable wins
        descriptions.update(interface.get("descriptions", {}))
    contract["descriptions"] = {name: " ".join(text.split()) for name, text in sorted(descriptions.items())}
    return contract


def encode_contract(contract: dict[str, Any]) -> str:
    """Deterministic JSON: one line per fact key, so that a new release shows as a small diff."""
    lines = ["{"]
    items = list(contract.items())
    for position, (key, value) in enumerate(items):
        comma = "," if position < len(items) - 1 else ""
        if isinstance(value, dict) and value:
            lines.append(f"  {json.dumps(key)}: {{")
            entries = sorted(value.items())
            for inner, (name, runs) in enumerate(entries):
                inner_comma = "," if inner < len(entries) - 1 else ""
                lines.append(f"    {json.dumps(name)}: {_compact(runs)}{inner_comma}")
            lines.append("  }" + comma)
        elif key == "releases":
            lines.append(f"  {json.dumps(key)}: [")
            for inner, release in enumerate(value):
                inner_comma = "," if inner < len(value) - 1 else ""
                lines.append(f"    {_compact(release)}{inner_comma}")
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {json.dumps(key)}: {_compact(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
