"""The least-privilege report: per role of template.yaml, what it is granted and what the sandbox runs used.

`make iam-report` runs the e2e suite and the demo with WBD_IAM_RECORD_DIR set: every sandbox writes its roles (their
policies as provisioned) and every IAM decision the emulator made (`record_iam_run`). This module then joins them with
the template's own policies (`python -m wbd.sandbox.iam_report <dir>`) and writes security/iam-report.json and .md:
for each role, each granted action of each statement, with the resources as the template writes them, whether a
sandbox run used it (an allowed request matching the statement's action and resource), and for every one never used
the reason the template gives (`Metadata.LeastPrivilege`: per role logical id, or `AllRoles`; attached managed
policies under `ManagedPolicies`). A granted action without use or reason is a finding; so is any denied request.
"""

from __future__ import annotations

import fnmatch
import json
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wbd.sandbox.template import Intrinsics, load_template

if TYPE_CHECKING:
    from wbd.sandbox.iam_enforcement import Ledger
    from wbd.sandbox.provisioning import Stack

REPORT_DIR = Path("security")
ALL_ROLES = "AllRoles"
MANAGED = "ManagedPolicies"


# -- recording (one file per sandbox run) ------------------------------------------------------------------------
def record_iam_run(directory: Path, stack: Stack, ledger: Ledger) -> Path:
    """Write the stack's roles (as provisioned) and the sandbox's IAM decisions to a new file in `directory`."""
    roles = {
        logical_id: {
            "name": record.ref,
            "policies": record.details.get("policies", {}),
            "managed_policies": record.details.get("managed_policies", []),
        }
        for logical_id, record in stack.records.items()
        if record.type == "AWS::IAM::Role" and record.status == "created"
    }
    decisions = sorted(
        {(decision.principal, decision.action, decision.resource, decision.allowed) for decision in ledger.snapshot()}
    )
    document = {"template": str(stack.template.path.resolve()), "roles": roles, "decisions": decisions}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"iam-run-{uuid.uuid4().hex}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


# -- the template's grants ---------------------------------------------------------------------------------------
@dataclass
class Grant:
    """One action of one Allow statement of a role's inline policy."""

    policy: str
    statement: int
    action: str
    resources: list[str]
    used: bool = False


@dataclass
class RoleGrants:
    logical_id: str
    grants: list[Grant] = field(default_factory=list)
    managed_policies: list[str] = field(default_factory=list)
    # Actions the runs used that no inline statement grants: an attached managed policy allowed them.
    through_managed: set[str] = field(default_factory=set)
    # The Deny statements of its inline policies, one action each (they override any grant).
    denials: list[Grant] = field(default_factory=list)


# Needs no permission on AWS (any principal may call it), so it proves nothing about a policy.
NO_PERMISSION_NEEDED = {"sts:GetCallerIdentity"}


def _listed(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


def _allow_statements(document: Any, effect: str = "Allow") -> list[tuple[int, dict[str, Any]]]:
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    statements = statements if isinstance(statements, list) else [statements]
    return [(index, s) for index, s in enumerate(statements) if isinstance(s, dict) and s.get("Effect") == effect]


def template_grants(template_path: Path) -> dict[str, RoleGrants]:
    """Every role of the expanded template with its grants, resources as the template writes them (`${X.Arn}`)."""
    template = load_template(template_path)

    def lookup(logical_id: str, attribute: str | None) -> str:
        return "${" + logical_id + ("." + attribute if attribute else "") + "}"

    pseudo = {name: "${" + name + "}" for name in ("AWS::Region", "AWS::AccountId", "AWS::StackName", "AWS::URLSuffix")}
    intrinsics = Intrinsics(template, {**pseudo, "AWS::Partition": "aws"}, lookup)
    roles: dict[str, RoleGrants] = {}
    for logical_id, resource in template.resources_of_type("AWS::IAM::Role"):
        properties = intrinsics.resolve(resource.get("Properties") or {})
        role = RoleGrants(logical_id, managed_policies=_listed(properties.get("ManagedPolicyArns")))
        for policy in properties.get("Policies") or []:
            for effect, found in (("Allow", role.grants), ("Deny", role.denials)):
                for index, statement in _allow_statements(policy.get("PolicyDocument"), effect):
                    resources = _listed(statement.get("Resource"))
                    for action in _listed(statement.get("Action")):
                        found.append(Grant(str(policy["PolicyName"]), index, action, resources))
        roles[logical_id] = role
    return roles


def justifications(template_path: Path) -> dict[str, dict[str, str]]:
    """`Metadata.LeastPrivilege` of the template: role logical id (or AllRoles, ManagedPolicies) -> name -> reason."""
    from wbd.sandbox.template import parse_template_text

    body = parse_template_text(template_path.read_text(encoding="utf-8"))
    found = (body.get("Metadata") or {}).get("LeastPrivilege") or {}
    return {str(key): {str(k): str(v) for k, v in (value or {}).items()} for key, value in found.items()}


# -- joining runs and template -----------------------------------------------------------------------------------
def _matches(pattern: str, value: str, *, case_sensitive: bool) -> bool:
    if case_sensitive:
        return fnmatch.fnmatchcase(value, pattern)
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


def _mark_used(role: RoleGrants, provisioned: dict[str, Any], allowed: list[tuple[str, str]]) -> None:
    """Mark the grants an allowed (action, resource) of the run matches, statement by statement as provisioned; an
    allowed request no inline statement matches went through a managed policy."""
    matched: set[tuple[str, str]] = set()
    for grant in role.grants:
        document = (provisioned.get("policies") or {}).get(grant.policy)
        statements = dict(_allow_statements(document))
        statement = statements.get(grant.statement)
        if statement is None:
            continue
        resources = _listed(statement.get("Resource"))
        actions = [action for action in _listed(statement.get("Action")) if action.lower() == grant.action.lower()]
        for action, resource in allowed:
            if any(_matches(pattern, action, case_sensitive=False) for pattern in actions) and any(
                _matches(pattern, resource, case_sensitive=True) or resource == "*" for pattern in resources
            ):
                grant.used = True
                matched.add((action, resource))
    role.through_managed.update(
        action
        for action, resource in allowed
        if (action, resource) not in matched and action not in NO_PERMISSION_NEEDED
    )


def _role_name_of(principal: str) -> str | None:
    if ":assumed-role/" not in principal:
        return None
    return principal.split(":assumed-role/", 1)[1].split("/", 1)[0]


def build_report(run_files: Iterable[Path], template_path: Path) -> dict[str, Any]:
    roles = template_grants(template_path)
    reasons = justifications(template_path)
    runs = 0
    denied: dict[str, set[tuple[str, str]]] = {}
    for path in run_files:
        run = json.loads(path.read_text(encoding="utf-8"))
        if Path(run["template"]).resolve() != template_path.resolve():
            continue
        runs += 1
        by_name = {str(details["name"]): logical_id for logical_id, details in run["roles"].items()}
        allowed: dict[str, list[tuple[str, str]]] = {}
        for principal, action, resource, was_allowed in run["decisions"]:
            logical_id = by_name.get(_role_name_of(principal) or "")
            if logical_id is None:
                continue
            if was_allowed:
                allowed.setdefault(logical_id, []).append((action, resource))
            else:
                denied.setdefault(logical_id, set()).add((action, resource))
        for logical_id, role in roles.items():
            if logical_id in run["roles"] and logical_id in allowed:
                _mark_used(role, run["roles"][logical_id], allowed[logical_id])
    report: dict[str, Any] = {"runs": runs, "roles": {}}
    managed_reasons = reasons.get(MANAGED, {})
    for logical_id, role in sorted(roles.items()):
        unused_reasons = {**reasons.get(ALL_ROLES, {}), **reasons.get(logical_id, {})}
        grants = []
        for grant in role.grants:
            entry: dict[str, Any] = {"action": grant.action, "resources": grant.resources, "used": grant.used}
            if not grant.used:
                entry["reason"] = unused_reasons.get(grant.action)
            grants.append(entry)
        report["roles"][logical_id] = {
            "grants": grants,
            "managed_policies": [
                {"arn": arn, "reason": managed_reasons.get(arn) or managed_reasons.get(arn.rsplit("/", 1)[-1])}
                for arn in role.managed_policies
            ],
            "used_through_managed_policies": sorted(role.through_managed),
            "denied": [list(item) for item in sorted(denied.get(logical_id, set()))],
        }
    return report


def findings(report: dict[str, Any]) -> list[str]:
    """What the report must not show: a grant unused without a reason, a managed policy without one, a denial."""
    found = []
    for logical_id, role in report["roles"].items():
        for grant in role["grants"]:
            if not grant["used"] and not grant.get("reason"):
                found.append(f"{logical_id}: {grant['action']} on {', '.join(grant['resources'])} is never used")
        for managed in role["managed_policies"]:
            if not managed.get("reason"):
                found.append(f"{logical_id}: managed policy {managed['arn']} has no reason")
        for action, resource in role["denied"]:
            found.append(f"{logical_id}: denied {action} on {resource}")
    return found


def render_markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Least privilege: what each role is granted and what the sandbox used",
        "",
        "Generated by `make iam-report` from template.yaml and "
        f"{report['runs']} sandbox runs (the e2e suite and the demo) with IAM enforced; do not edit by hand.",
        "A grant is *used* when an allowed request of the role matched its action and resource. Every grant never",
        "used gives the template's reason (`Metadata.LeastPrivilege`); the moto limits behind most of them are in",
        "wbd/sandbox/iam_enforcement.py.",
        "",
    ]
    for logical_id, role in report["roles"].items():
        lines += [f"## {logical_id}", "", "| action | resources | used | reason if not |", "|---|---|---|---|"]
        for grant in role["grants"]:
            resources = "<br>".join(f"`{resource}`" for resource in grant["resources"])
            used = "yes" if grant["used"] else "no"
            lines.append(f"| `{grant['action']}` | {resources} | {used} | {grant.get('reason') or ''} |")
        through = ", ".join(f"`{action}`" for action in role["used_through_managed_policies"])
        for managed in role["managed_policies"]:
            used = f"through managed policies: {through}" if through else ""
            lines.append(f"| managed `{managed['arn']}` | | {used} | {managed.get('reason') or ''} |")
        for action, resource in role["denied"]:
            lines.append(f"| **denied** `{action}` | `{resource}` | | |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m wbd.sandbox.iam_report <record dir> [template.yaml]", file=sys.stderr)
        return 2
    template = Path(argv[1] if len(argv) == 2 else "template.yaml")
    report = build_report(sorted(Path(argv[0]).glob("iam-run-*.json")), template)
    REPORT_DIR.mkdir(exist_ok=True)
    (REPORT_DIR / "iam-report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    (REPORT_DIR / "iam-report.md").write_text(render_markdown(report), encoding="utf-8")
    problems = findings(report)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{REPORT_DIR}/iam-report.json, .md: {report['runs']} runs, {len(problems)} finding(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
