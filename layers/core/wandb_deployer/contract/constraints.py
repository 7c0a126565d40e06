"""Terraform version constraints (`~> 4.0`, `>= 2.1.1, < 3.0.0`, `= 1.10.5`) as sets of versions.

Two grammars, as in Terraform itself:
- provider constraints (`required_providers`) follow apparentlymart/go-versions' Ruby style, which Terraform's
  provider installer uses: `~> X.Y` and `~> X` allow [X.Y.0, (X+1).0.0); `~> X.Y.Z` allows [X.Y.Z, X.(Y+1).0);
- the core version constraint (`required_version`) follows hashicorp/go-version: the same, except that `~> X` (one
  segment) allows every version >= X.
A constraint is a comma-separated conjunction; `!=` removes one version. `intersect` says whether any version can
satisfy all constraints at once (what `terraform init` needs); the real installer also needs a published release inside
that set, which we cannot know offline: a non-empty set is taken as satisfiable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from wandb_deployer.contract.versions import Version, format_version

Grammar = Literal["provider", "core"]

_TERM = re.compile(r"^\s*(~>|>=|<=|!=|=|>|<)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$")
_INFINITY: Version = (10**9, 0, 0)


class ConstraintSyntaxError(ValueError):
    """A constraint that neither Terraform grammar accepts."""


@dataclass(frozen=True)
class VersionSet:
    """[lower, upper) with an inclusive lower bound, minus `excluded` versions; empty when lower >= upper."""

    lower: Version = (0, 0, 0)
    upper: Version = _INFINITY
    excluded: frozenset[Version] = field(default_factory=frozenset)

    def intersect(self, other: VersionSet) -> VersionSet:
        return VersionSet(max(self.lower, other.lower), min(self.upper, other.upper), self.excluded | other.excluded)

    @property
    def empty(self) -> bool:
        if self.lower >= self.upper:
            return True
        # A single-version set ([v, next patch of v)) emptied by `!= v`.
        return _next_patch(self.lower) >= self.upper and self.lower in self.excluded

    def allows(self, version: Version) -> bool:
        return self.lower <= version < self.upper and version not in self.excluded

    def describe(self) -> str:
        if self.empty:
            return "no version"
        upper = "" if self.upper == _INFINITY else f", < {format_version(self.upper)}"
        return f">= {format_version(self.lower)}{upper}"


def _next_patch(version: Version) -> Version:
    return version[0], version[1], version[2] + 1


def _term(text: str, grammar: Grammar) -> VersionSet:
    match = _TERM.fullmatch(text)
    if match is None:
        raise ConstraintSyntaxError(f"{text.strip()!r} is not a version constraint")
    operator = match.group(1) or "="
    parts = [match.group(2), match.group(3), match.group(4)]
    given = sum(part is not None for part in parts)
    version: Version = (int(parts[0]), int(parts[1] or 0), int(parts[2] or 0))
    if operator == "=":
        return VersionSet(version, _next_patch(version))
    if operator == "!=":
        return VersionSet(excluded=frozenset({version}))
    if operator == ">=":
        return VersionSet(lower=version)
    if operator == ">":
        return VersionSet(lower=_next_patch(version))
    if operator == "<":
        return VersionSet(upper=version)
    if operator == "<=":
        return VersionSet(upper=_next_patch(version))
    # `~>`: the last given segment may grow, the ones before it are fixed.
    if given == 3:
        return VersionSet(version, (version[0], version[1] + 1, 0))
    if given == 1 and grammar == "core":
        return VersionSet(lower=version)
    return VersionSet(version, (version[0] + 1, 0, 0))


def parse_constraint(text: str, grammar: Grammar = "provider") -> VersionSet:
    """The versions a constraint string allows. Raises ConstraintSyntaxError when it is not a constraint."""
    if not isinstance(text, str) or not text.strip():
        raise ConstraintSyntaxError(f"{text!r} is not a version constraint")
    allowed = VersionSet()
    for term in text.split(","):
        allowed = allowed.intersect(_term(term, grammar))
    return allowed


def intersect(constraints: Iterable[str], grammar: Grammar = "provider") -> VersionSet:
    """The versions every constraint allows at once (empty: `terraform init` cannot satisfy them)."""
    allowed = VersionSet()
    for constraint in constraints:
        allowed = allowed.intersect(parse_constraint(constraint, grammar))
    return allowed


def allows(constraint: str, version: Version, grammar: Grammar = "core") -> bool:
    return parse_constraint(constraint, grammar).allows(version)
