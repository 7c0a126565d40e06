"""The W&B modules' contract, per release, as generated from their sources (`wbd/module_contract`, `make contract`).

`contract_for(module)` loads one module's file (`data/*.json`): every release tag with its commit, and each fact
(variable, output, provider constraint, required Terraform version, registry module call, the example's legacy app
wiring) with the runs of releases it holds for. `ModuleContract.release(version)` unfolds one release into a
`ReleaseInterface`; a version that is not a release raises `UnknownReleaseError`, which names the nearest ones.
Nothing here is written by hand: the data comes from the module's HCL at each tag.
"""

from __future__ import annotations

import difflib
import json
from bisect import bisect_left
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from wandb_deployer.contract.versions import Version, format_version, is_version, parse_version

AWS_MODULE = "wandb/wandb/aws"
APP_MODULE = "wandb/wandb/kubernetes"
CONTRACT_FILES = {AWS_MODULE: "wandb-aws.json", APP_MODULE: "wandb-kubernetes.json"}
ROOT = "."  # the root module's directory in `required_version` / `required_providers` keys


class UnknownReleaseError(ValueError):
    """A version that is not a release of the module; `nearest` are the closest real releases."""

    def __init__(self, module: str, version: str, nearest: list[str]) -> None:
        self.module = module
        self.version = version
        self.nearest = nearest
        super().__init__(f"{version} is not a release of {module} (nearest: {', '.join(nearest)})")


class Variable(BaseModel):
    """A root input variable: required exactly when it has no default (`default = null` is optional)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str = "any"
    required: bool
    default: Any = None
    sensitive: bool = False
    nullable: bool = True
    description: str = ""


class Output(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    sensitive: bool = False


class ProviderRequirement(BaseModel):
    """One `required_providers` entry of one module directory (`.` = the root, `modules/app_eks`, ...)."""

    model_config = ConfigDict(frozen=True)

    directory: str
    name: str
    source: str
    version: str | None = None


class ModuleCall(BaseModel):
    """A registry module the release calls (its version constraint floats unless it is exact)."""

    model_config = ConfigDict(frozen=True)

    directory: str
    name: str
    source: str
    version: str | None = None


class ReleaseInterface(BaseModel):
    """What a caller of `module` at `version` depends on, as its source at that tag declares it."""

    model_config = ConfigDict(frozen=True)

    module: str
    version: str
    commit: str
    variables: dict[str, Variable]
    outputs: dict[str, Output]
    required_version: dict[str, str]  # directory -> constraint
    required_providers: list[ProviderRequirement]
    module_calls: list[ModuleCall]
    example_app_wiring: dict[str, Any] | None = None

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def get(self, name: str) -> Variable | None:
        return self.variables.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self.variables)

    def required(self) -> list[Variable]:
        return [variable for name, variable in sorted(self.variables.items()) if variable.required]

    def sensitive(self) -> list[Variable]:
        return [variable for name, variable in sorted(self.variables.items()) if variable.sensitive]

    def suggest(self, name: str) -> str | None:
        """The closest variable name of this release (difflib), for "did you mean" messages."""
        matches = difflib.get_close_matches(name, list(self.variables), n=1, cutoff=0.6)
        return matches[0] if matches else None

    def has_output(self, name: str) -> bool:
        return name in self.outputs

    def provider_constraints(self, provider: str) -> list[str]:
        """Every version constraint on `provider` in the module tree (root and local submodules)."""
        return [req.version for req in self.required_providers if req.name == provider and req.version]

    def providers(self) -> dict[str, str]:
        """Provider name -> source, for every provider the tree requires."""
        return {req.name: req.source for req in self.required_providers}

    @property
    def major(self) -> int:
        return parse_version(self.version)[0]


class ModuleContract:
    """One module's releases and the facts of each, read from its generated contract file."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.module: str = document["module"]
        self.repository: str = document["repository"]
        self._document = document
        self.releases: list[str] = [version for version, _commit in document["releases"]]
        self._commits: list[str] = [commit for _version, commit in document["releases"]]
        self._index = {version: index for index, version in enumerate(self.releases)}
        self._sorted: list[Version] = [parse_version(version) for version in self.releases]

    # releases ---------------------------------------------------------------------------------------------------
    def is_release(self, version: str) -> bool:
        return version in self._index

    @property
    def latest(self) -> str:
        return self.releases[-1]

    def nearest(self, version: str, count: int = 3) -> list[str]:
        """The closest releases to `version`: just below, just above, the newest of its major, then further below."""
        if not is_version(version):
            return [self.latest]
        wanted = parse_version(version)
        position = bisect_left(self._sorted, wanted)
        picks: list[str] = []
        if position > 0:
            picks.append(self.releases[position - 1])
        if position < len(self.releases):
            picks.append(self.releases[position])
        same_major = [v for v, t in zip(self.releases, self._sorted, strict=True) if t[0] == wanted[0]]
        if same_major:
            picks.append(same_major[-1])
        picks.extend(reversed(self.releases[max(0, position - count) : max(0, position - 1)]))
        return list(dict.fromkeys(picks))[:count]

    def releases_between(self, first: str, last: str) -> list[str]:
        low, high = parse_version(first), parse_version(last)
        return [v for v, t in zip(self.releases, self._sorted, strict=True) if low <= t <= high]

    def latest_patches(self) -> list[str]:
        """The newest patch release of every MAJOR.MINOR line (the release matrix)."""
        newest: dict[tuple[int, int], str] = {}
        for version, numbers in zip(self.releases, self._sorted, strict=True):
            newest[(numbers[0], numbers[1])] = version
        return [newest[key] for key in sorted(newest)]

    # one release ------------------------------------------------------------------------------------------------
    def release(self, version: str) -> ReleaseInterface:
        """The interface of `version`; raises UnknownReleaseError when it is not a release (nearest ones named)."""
        index = self._index.get(version)
        if index is None:
            raise UnknownReleaseError(self.module, version, self.nearest(version))
        return self._unfold(index)

    @cache  # noqa: B019 - one contract per module lives for the process (contract_for is cached too)
    def _unfold(self, index: int) -> ReleaseInterface:
        document = self._document
        descriptions: dict[str, str] = document.get("descriptions", {})
        variables = {
            name: Variable(name=name, description=descriptions.get(name, ""), **value)
            for name, value in _at(document["variables"], index).items()
        }
        outputs = {name: Output(name=name, **value) for name, value in _at(document["outputs"], index).items()}
        providers = []
        for key, value in _at(document["required_providers"], index).items():
            directory, name = key.rsplit("/", 1)
            providers.append(ProviderRequirement(directory=directory, name=name, **value))
        calls = []
        for key, value in _at(document["module_calls"], index).items():
            directory, name = key.rsplit("/", 1)
            calls.append(ModuleCall(directory=directory, name=name, **value))
        wiring = _run_value(document.get("example_app_wiring", []), index)
        return ReleaseInterface(
            module=self.module,
            version=self.releases[index],
            commit=self._commits[index],
            variables=variables,
            outputs=outputs,
            required_version=_at(document["required_version"], index),
            required_providers=providers,
            module_calls=calls,
            example_app_wiring=wiring,
        )

    # facts across releases (read from the runs, without unfolding releases) ----------------------------------------
    def releases_calling(self, source: str) -> list[str]:
        """The releases whose tree calls the registry module `source` (e.g. `wandb/wandb/helm`)."""
        indices: set[int] = set()
        for runs in self._document["module_calls"].values():
            for first, last, value in runs:
                if value.get("source") == source:
                    indices.update(range(first, last + 1))
        return [self.releases[index] for index in sorted(indices)]

    def first_release_wiring(self, app_input: str) -> str | None:
        """The first release whose example wires the legacy app module's `app_input`."""
        for first, _last, value in self._document.get("example_app_wiring", []):
            if app_input in value:
                return str(self.releases[first])
        return None

    # lifetimes --------------------------------------------------------------------------------------------------
    def lifetime(self, name: str, kind: str = "variables") -> list[tuple[str, str]]:
        """The release ranges (first, last; inclusive) in which the variable (or output) `name` exists."""
        runs = self._document[kind].get(name, [])
        merged: list[list[int]] = []
        for first, last, _value in runs:
            if merged and merged[-1][1] == first - 1:
                merged[-1][1] = last
            else:
                merged.append([first, last])
        return [(self.releases[first], self.releases[last]) for first, last in merged]

    def describe_lifetime(self, name: str, kind: str = "variables") -> str:
        """`exists in wandb/wandb/aws 4.1.0 - 4.24.0 (removed in 5.0.0)`, derived from the data."""
        noun = "an input" if kind == "variables" else "an output"
        ranges = self.lifetime(name, kind)
        if not ranges:
            return f"never {noun} of any {self.module} release ({self.releases[0]} - {self.latest})"
        spans = []
        for first, last in ranges:
            if last == self.latest:
                spans.append(f"from {first}" if first != self.releases[0] else "in every release")
                continue
            removed = self.releases[self._index[last] + 1]
            span = f"{first} - {last}" if first != last else first
            spans.append(f"{span} (removed in {removed})")
        return f"{noun} of {self.module} " + ", ".join(spans)


def _run_value(runs: list[list[Any]], index: int) -> Any:
    for first, last, value in runs:
        if first <= index <= last:
            return value
        if first > index:
            break
    return None


def _at(facts: dict[str, list[list[Any]]], index: int) -> dict[str, Any]:
    found = {}
    for key, runs in facts.items():
        value = _run_value(runs, index)
        if value is not None:
            found[key] = value
    return found


def contract_data_directory() -> Path:
    """Where the contract files live in the source tree (the generator writes there)."""
    return Path(str(resources.files("wandb_deployer.contract").joinpath("data")))


@cache
def contract_for(module: str) -> ModuleContract:
    """The contract of `module` (`wandb/wandb/aws` or `wandb/wandb/kubernetes`); ValueError for any other."""
    filename = CONTRACT_FILES.get(module)
    if filename is None:
        raise ValueError(f"no contract for module {module!r} (known: {', '.join(CONTRACT_FILES)})")
    text = resources.files("wandb_deployer.contract").joinpath("data", filename).read_text(encoding="utf-8")
    return ModuleContract(json.loads(text))


def release_interface(module: str, version: str) -> ReleaseInterface:
    """Shorthand: the interface of `module` at `version` (UnknownReleaseError when it is not a release)."""
    return contract_for(module).release(version)


__all__ = [
    "APP_MODULE",
    "AWS_MODULE",
    "CONTRACT_FILES",
    "ROOT",
    "ModuleCall",
    "ModuleContract",
    "Output",
    "ProviderRequirement",
    "ReleaseInterface",
    "UnknownReleaseError",
    "Variable",
    "contract_data_directory",
    "contract_for",
    "format_version",
    "release_interface",
]
