"""Plan-shape rules: what a runbook step's plan may and may not do, checked on the plan's changes alone.

A rule names resources by address pattern (relative to the W&B module's call, `*` matching any text, so
`module.app_eks.module.eks.aws_eks_cluster.this[0]` also matches the plan's
`module.wandb_infra.module.app_eks.module.eks.aws_eks_cluster.this[0]`) or by resource type (`kubernetes_*`), and
carries the diagnosis of the upgrade guide it comes from. Checking is a pure function over the changes the plan
summary reads (address, type, action): no attribute value is needed, none is seen.

Kinds:
- `must-not-replace`: the resource is neither replaced nor deleted (a delete loses it as surely as a replace);
- `must-not-destroy`: the resource is not deleted, and not replaced either (a replace deletes it first);
- `must-not-create`: no resource matching is created;
- `expected-replacements`: every replacement in the plan matches one of the rule's patterns; any other
  replacement is a violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from wandb_deployer.plan.destructive import ChangeAction

RuleKind = Literal["must-not-replace", "must-not-destroy", "must-not-create", "expected-replacements"]

_FORBIDDEN: dict[RuleKind, frozenset[ChangeAction]] = {
    "must-not-replace": frozenset({"replace", "delete"}),
    "must-not-destroy": frozenset({"delete", "replace"}),
    "must-not-create": frozenset({"create"}),
}


class PlanRule(BaseModel):
    """One rule of a runbook step, with the guide's own diagnosis for a plan that breaks it."""

    model_config = ConfigDict(frozen=True)

    kind: RuleKind
    addresses: tuple[str, ...] = ()  # patterns relative to the W&B module call; `*` matches any text
    types: tuple[str, ...] = ()  # resource types; `*` matches any text (`kubernetes_*`)
    diagnosis: str
    source: str  # where the guide says so (document and section)

    def matches(self, address: str, resource_type: str) -> bool:
        return any(_pattern(p, anchored_start=True).fullmatch(resource_type) for p in self.types) or any(
            _pattern(p, anchored_start=False).fullmatch(address) for p in self.addresses
        )

    def describe(self) -> str:
        what = ", ".join([*self.addresses, *(f"type {t}" for t in self.types)]) or "none"
        return f"{self.kind}: {what}"


class ShapedChange(BaseModel):
    """What a rule sees of one planned change (PlannedChange of the plan summary has this shape)."""

    model_config = ConfigDict(frozen=True)

    address: str
    type: str
    action: ChangeAction


class RuleViolation(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: RuleKind
    address: str
    action: ChangeAction
    diagnosis: str
    source: str

    def message(self) -> str:
        return f"{self.address} would be {_PAST[self.action]} ({self.kind}): {self.diagnosis} [{self.source}]"


_PAST: dict[ChangeAction, str] = {
    "create": "created",
    "update": "updated",
    "delete": "destroyed",
    "replace": "replaced",
}


@cache
def _pattern(pattern: str, *, anchored_start: bool) -> re.Pattern[str]:
    """A glob where only `*` is special (addresses hold `[`, `"` and `.` literally)."""
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    if anchored_start:
        return re.compile(body)
    # An address pattern is relative to the module call: it matches the whole address or a `module.` path suffix.
    return re.compile(rf"(?:.*\.)?{body}")


def check_plan_shape(changes: Iterable[ShapedChange], rules: Iterable[PlanRule]) -> list[RuleViolation]:
    """Every violation of `rules` by `changes`, in plan order then rule order; empty when the plan has the shape."""
    rules = tuple(rules)
    violations: list[RuleViolation] = []
    for change in changes:
        for rule in rules:
            if rule.kind == "expected-replacements":
                broken = change.action == "replace" and not rule.matches(change.address, change.type)
            else:
                broken = change.action in _FORBIDDEN[rule.kind] and rule.matches(change.address, change.type)
            if broken:
                violations.append(
                    RuleViolation(
                        kind=rule.kind,
                        address=change.address,
                        action=change.action,
                        diagnosis=rule.diagnosis,
                        source=rule.source,
                    )
                )
    return violations
