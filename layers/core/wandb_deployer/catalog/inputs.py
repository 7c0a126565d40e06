"""The input catalogs of the W&B Terraform modules: which root inputs a module version has, their types and defaults.

The catalogs are JSON files shipped in `catalog/data/` (extracted from each module's `variables.tf` at one version). A
module version without its own catalog is served by the nearest one, see `catalog_for`; `history.py` corrects that
approximation for the inputs whose lifetime is known (added or removed inside a major).
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.catalog.history import INPUT_LIFETIMES, REQUIRED_FROM, exists_at, version_tuple

AWS_MODULE = "wandb/wandb/aws"
APP_MODULE = "wandb/wandb/kubernetes"

_CATALOG_FILES: dict[str, dict[tuple[int, int, int], str]] = {
    AWS_MODULE: {
        (2, 8, 0): "inputs-v2.8.0.json",
        (4, 7, 2): "inputs-v4.7.2.json",
        (8, 0, 0): "inputs-v8.0.0.json",
    },
    APP_MODULE: {
        (1, 14, 1): "inputs-kubernetes-v1.json",
    },
}

_VERSION = re.compile(r"^\d+\.\d+\.\d+$")


class InputSpec(BaseModel):
    """One root input variable of a module: as declared in its `variables.tf`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    type: str = "any"  # the Terraform type expression, e.g. `list(string)`
    required: bool = False
    default: Any = None
    description: str = ""
    nullable: bool | None = None
    has_validation: bool = False


class Catalog(BaseModel):
    """The inputs of `module` at `version`, read from the catalog of `catalog_version`.

    `approximate` is true when no catalog exists for the requested version's exact release and a neighbour was used.
    """

    model_config = ConfigDict(frozen=True)

    module: str
    version: str
    catalog_version: str
    approximate: bool
    inputs: dict[str, InputSpec] = Field(default_factory=dict)

    def __contains__(self, name: object) -> bool:
        return name in self.inputs

    def get(self, name: str) -> InputSpec | None:
        return self.inputs.get(name)

    @property
    def names(self) -> list[str]:
        return sorted(self.inputs)

    def required(self) -> list[InputSpec]:
        """Inputs without a default: a plan fails unless they are set."""
        return [spec for name, spec in sorted(self.inputs.items()) if spec.required]

    def suggest(self, name: str) -> str | None:
        """The closest input name of this version (difflib), for "did you mean" messages."""
        matches = difflib.get_close_matches(name, list(self.inputs), n=1, cutoff=0.6)
        return matches[0] if matches else None

    def explain(self, name: str) -> str | None:
        """Why `name` is not an input at this version, when its history is known (else None)."""
        lifetime = INPUT_LIFETIMES.get((self.module, name))
        if lifetime is None or exists_at(lifetime, self.version):
            return None
        return lifetime.note


def _pick_catalog(module: str, version: tuple[int, int, int]) -> tuple[tuple[int, int, int], bool]:
    """The catalog serving `version`, and whether it is an approximation.

    In order: the nearest catalog at or below `version` in the same major (exact within that major's releases as far
    as our catalogs go); else the lowest catalog of the same major; else the nearest lower catalog of an older major
    (majors 1, 3, 5, 6, 7 have no catalog of their own: an approximation, corrected by `history.py` for known
    additions and removals); else the oldest catalog (also an approximation). Versions newer than the newest catalog
    use the newest.
    """
    available = sorted(_CATALOG_FILES[module])
    same_major = [v for v in available if v[0] == version[0]]
    at_or_below = [v for v in same_major if v <= version]
    if at_or_below:
        return at_or_below[-1], at_or_below[-1] != version
    if same_major:
        return same_major[0], True
    lower = [v for v in available if v < version]
    if lower:
        return lower[-1], True
    return available[0], True


@cache
def _load_inputs(filename: str) -> tuple[dict[str, Any], ...]:
    text = resources.files("wandb_deployer.catalog").joinpath("data", filename).read_text(encoding="utf-8")
    return tuple(json.loads(text)["inputs"])


@cache
def catalog_for(module: str, version: str) -> Catalog:
    """The input catalog of `module` (`wandb/wandb/aws` or `wandb/wandb/kubernetes`) at `version` (MAJOR.MINOR.PATCH).

    Raises ValueError for an unknown module or a version that is not MAJOR.MINOR.PATCH.
    """
    if module not in _CATALOG_FILES:
        raise ValueError(f"no input catalog for module {module!r}")
    if not _VERSION.match(version):
        raise ValueError(f"module version {version!r} is not MAJOR.MINOR.PATCH")
    wanted = version_tuple(version)
    picked, approximate = _pick_catalog(module, wanted)
    inputs: dict[str, InputSpec] = {}
    for raw in _load_inputs(_CATALOG_FILES[module][picked]):
        spec = InputSpec.model_validate(raw)
        lifetime = INPUT_LIFETIMES.get((module, spec.name))
        if lifetime is not None and not exists_at(lifetime, version):
            continue
        required_from = REQUIRED_FROM.get((module, spec.name))
        if required_from is not None and spec.required and wanted < version_tuple(required_from):
            spec = spec.model_copy(update={"required": False})
        inputs[spec.name] = spec
    return Catalog(
        module=module,
        version=version,
        catalog_version=".".join(str(part) for part in picked),
        approximate=approximate,
        inputs=inputs,
    )
