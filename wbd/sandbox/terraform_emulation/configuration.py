"""What real Terraform refuses in a configuration before it touches a resource, enforced from the module contract.

The contract (`wandb_deployer.contract`) is generated from the W&B modules' sources at every release tag, so the
emulation knows each release's variables, outputs, `required_version` and `required_providers` as the module declares
them. With them it fails the way Terraform fails, with Terraform's own diagnostics (summary and detail as written in
hashicorp/terraform and hashicorp/hcl at v1.10.5, and checked against a real terraform binary where one is installed,
see tests/support/real_terraform.py):

`init`
- `Unsupported Terraform Core version`: the root's or a module's `required_version` refuses the running version;
- `Unresolvable module version constraint`: no release of the module matches the call's `version`;
- `Failed to query available provider packages`: no version satisfies every constraint on a provider at once (the
  root's and those of every module in the tree). The real installer also needs a published release inside that set,
  which cannot be known offline: a non-empty set counts as satisfiable.
`plan`
- `Extraneous JSON object property` / `Missing required argument`: a module argument that is not a variable of the
  release, or a required variable (no default) that is not set (the workspace is `.tf.json`: HCL's JSON body says so);
- `Unsupported attribute`: a reference to an output the release does not export;
- `Reference to undeclared input variable`; `No value for required variable` (no tfvars value, no `TF_VAR_`);
- the AWS provider's `reading EKS Cluster (<name>): couldn't find resource` when a `data "aws_eks_cluster"` is read
  by a name that is known at plan (the release's EKS module is v18 or newer, as 8.0.0's `modules/app_eks/outputs.tf`
  explains) before the cluster exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wandb_deployer.contract import ReleaseInterface, UnknownReleaseError, contract_for
from wandb_deployer.contract.constraints import ConstraintSyntaxError, intersect, parse_constraint
from wandb_deployer.contract.interface import CONTRACT_FILES
from wandb_deployer.contract.versions import parse_version
from wbd.sandbox.terraform_emulation.errors import ConfigurationError, WorkspaceError

META_ARGUMENTS = frozenset({"source", "version", "providers", "count", "for_each", "depends_on"})
# Blocks whose JSON strings Terraform evaluates as templates (variable blocks and the terraform block hold literals).
EXPRESSION_BLOCKS = ("module", "output", "provider", "data", "resource", "locals")
EKS_MODULE_SOURCE = "terraform-aws-modules/eks/aws"
FIRST_EKS_MAJOR_WITH_STATIC_NAME = 18  # v18+ output the cluster name from configuration: known at plan time

_MODULE_REFERENCE = re.compile(r"\bmodule\.([a-z_][a-z0-9_-]*)\.([a-z_][a-z0-9_]*)")
_VARIABLE_REFERENCE = re.compile(r"\bvar\.([a-z_][a-z0-9_]*)")
_CORE_DETAIL = (
    "To proceed, either choose another supported Terraform version or update this version constraint. Version "
    "constraints are normally set for good reason, so updating the constraint may lead to other errors or unexpected "
    "behavior."
)


@dataclass(frozen=True)
class ResolvedCall:
    """A module call of the root and the release of the module it resolves to."""

    name: str
    source: str
    release: ReleaseInterface
    arguments: dict[str, Any]


def _documents(directory: Path) -> dict[str, dict[str, Any]]:
    documents = {}
    for path in sorted(directory.glob("*.tf.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise WorkspaceError(f"cannot read {path.name}: {type(exc).__name__}") from exc
        if isinstance(document, dict):
            documents[path.name] = document
    return documents


def _blocks(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _named(documents: dict[str, dict[str, Any]], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file, name, body) of every `kind` block (`module`, `variable`, `output`...)."""
    for filename, document in documents.items():
        for block in _blocks(document.get(kind)):
            for name, body in block.items():
                for item in _blocks(body):
                    yield filename, name, item


def _registry_source(source: str) -> str:
    return source.removeprefix("registry.terraform.io/")


def _known_module(source: str) -> bool:
    return _registry_source(source) in CONTRACT_FILES


def _resolve(name: str, filename: str, source: str, constraint: str) -> ReleaseInterface:
    contract = contract_for(_registry_source(source))
    if constraint:
        try:
            wanted = parse_constraint(constraint, "core")
        except ConstraintSyntaxError as exc:
            raise ConfigurationError([("Invalid version constraint", str(exc))]) from exc
        matching = [version for version in contract.releases if wanted.allows(parse_version(version))]
    else:
        matching = list(contract.releases)
    if not matching:
        raise ConfigurationError(
            [
                (
                    "Unresolvable module version constraint",
                    f'There is no available version of module "{name}" ({filename}:1) which matches the given '
                    f"version constraint. The newest available version is {contract.latest}.",
                )
            ]
        )
    try:
        return contract.release(matching[-1])
    except UnknownReleaseError as exc:  # pragma: no cover - matching holds releases only
        raise WorkspaceError(str(exc)) from exc


def resolved_calls(directory: Path) -> list[ResolvedCall]:
    """The root's calls of the W&B modules, each with the release `terraform init` would install."""
    calls = []
    for filename, name, body in _named(_documents(directory), "module"):
        source = str(body.get("source", ""))
        if not _known_module(source):
            continue
        release = _resolve(name, filename, source, str(body.get("version", "")))
        arguments = {key: value for key, value in body.items() if key not in META_ARGUMENTS}
        calls.append(ResolvedCall(name=name, source=_registry_source(source), release=release, arguments=arguments))
    return calls


# init --------------------------------------------------------------------------------------------------------------
def check_init(directory: Path, terraform_version: str) -> list[str]:
    """Everything `terraform init` checks; returns the lines it prints about providers. Raises ConfigurationError."""
    documents = _documents(directory)
    diagnostics: list[tuple[str, str]] = []
    running = parse_version(terraform_version.split("-", maxsplit=1)[0].split("+", maxsplit=1)[0])
    for block in (b for document in documents.values() for b in _blocks(document.get("terraform"))):
        constraint = block.get("required_version")
        if isinstance(constraint, str) and not _allows_core(constraint, running):
            diagnostics.append(
                (
                    "Unsupported Terraform Core version",
                    f"This configuration does not support Terraform version {terraform_version}. {_CORE_DETAIL}",
                )
            )
    calls = resolved_calls(directory)
    for call in calls:
        for module_directory, constraint in sorted(call.release.required_version.items()):
            if not _allows_core(constraint, running):
                path = f"module.{call.name}" if module_directory == "." else f"module.{call.name} ({module_directory})"
                diagnostics.append(
                    (
                        "Unsupported Terraform Core version",
                        f"Module {path} (from {call.source}) does not support Terraform version {terraform_version}. "
                        f"{_CORE_DETAIL}",
                    )
                )
    constraints = _provider_constraints(documents, calls)
    lines = []
    for source, found in sorted(constraints.items()):
        shown = _display(found)
        lines.append(f'- Finding {source} versions matching "{shown}"...' if found else f"- Finding latest {source}...")
        if found and intersect(found).empty:
            diagnostics.append(
                (
                    "Failed to query available provider packages",
                    f"Could not retrieve the list of available versions for provider {source}: no available "
                    f"releases match the given constraints {shown}\n\nTo see which modules are currently depending "
                    f"on {source} and what versions are specified, run the following command:\n"
                    "    terraform providers",
                )
            )
    if diagnostics:
        raise ConfigurationError(diagnostics)
    return lines


def provider_requirements(directory: Path) -> dict[str, list[str]]:
    """Provider source -> every version constraint on it in the configuration tree (what the lock file records)."""
    return _provider_constraints(_documents(directory), resolved_calls(directory))


def _allows_core(constraint: str, running: tuple[int, int, int]) -> bool:
    try:
        return parse_constraint(constraint, "core").allows(running)
    except ConstraintSyntaxError:
        return False


def _provider_constraints(documents: dict[str, dict[str, Any]], calls: list[ResolvedCall]) -> dict[str, list[str]]:
    """Provider source -> every version constraint on it in the configuration tree (root and module releases)."""
    constraints: dict[str, list[str]] = {}
    for block in (b for document in documents.values() for b in _blocks(document.get("terraform"))):
        for requirements in _blocks(block.get("required_providers")):
            for name, spec in requirements.items():
                source = str(spec.get("source", f"hashicorp/{name}")) if isinstance(spec, dict) else f"hashicorp/{name}"
                version = spec.get("version") if isinstance(spec, dict) else spec
                found = constraints.setdefault(source, [])
                if isinstance(version, str) and version:
                    found.extend(part.strip() for part in version.split(","))
    for call in calls:
        for requirement in call.release.required_providers:
            found = constraints.setdefault(requirement.source, [])
            if requirement.version:
                found.extend(part.strip() for part in requirement.version.split(","))
    return constraints


def _display(constraints: list[str]) -> str:
    """As Terraform shows them: each distinct constraint once, ordered by the versions they start from."""
    unique = list(dict.fromkeys(constraints))

    def order(text: str) -> tuple[tuple[int, int, int], str]:
        try:
            return parse_constraint(text).lower, text
        except ConstraintSyntaxError:
            return (0, 0, 0), text

    return ", ".join(sorted(unique, key=order))


# plan --------------------------------------------------------------------------------------------------------------
def check_plan(directory: Path, variables: dict[str, Any], env_variables: frozenset[str], first_install: bool) -> None:
    """Everything a plan checks before it reads or changes a resource. Raises ConfigurationError."""
    documents = _documents(directory)
    calls = {call.name: call for call in resolved_calls(directory)}
    diagnostics: list[tuple[str, str]] = []
    for call in calls.values():
        diagnostics.extend(_argument_diagnostics(call))
    declared = {name: body for _file, name, body in _named(documents, "variable")}
    for expression in _expressions(documents):
        for module_name, attribute in _MODULE_REFERENCE.findall(expression):
            target = calls.get(module_name)
            if target is not None and not target.release.has_output(attribute):
                diagnostics.append(
                    ("Unsupported attribute", f'This object does not have an attribute named "{attribute}".')
                )
        for name in _VARIABLE_REFERENCE.findall(expression):
            if name not in declared:
                diagnostics.append(
                    (
                        "Reference to undeclared input variable",
                        f'An input variable with the name "{name}" has not been declared. This variable can be '
                        f'declared with a variable "{name}" {{}} block.',
                    )
                )
    for name, body in sorted(declared.items()):
        if "default" not in body and name not in variables and name not in env_variables:
            diagnostics.append(
                (
                    "No value for required variable",
                    f'The root module input variable "{name}" is not set, and has no default value. Use a -var or '
                    "-var-file command line argument to provide a value for this variable.",
                )
            )
    if not diagnostics and first_install:
        diagnostics.extend(_cluster_data_source(documents, calls, variables))
    if diagnostics:
        raise ConfigurationError(list(dict.fromkeys(diagnostics)))


def _argument_diagnostics(call: ResolvedCall) -> list[tuple[str, str]]:
    found = []
    release = call.release
    for argument in sorted(call.arguments):
        if argument not in release.variables:
            guess = _name_suggestion(argument, [n for n in release.variables if n not in call.arguments])
            suggestion = f' Did you mean "{guess}"?' if guess else ""
            found.append(
                ("Extraneous JSON object property", f'No argument or block type is named "{argument}".{suggestion}')
            )
    for variable in release.required():
        if variable.name not in call.arguments:
            found.append(
                (
                    "Missing required argument",
                    f'The argument "{variable.name}" is required, but no definition was found.',
                )
            )
    return found


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def _name_suggestion(given: str, names: list[str]) -> str | None:
    """HCL's `nameSuggestion` (json/didyoumean.go): a name within Levenshtein distance 2, else nothing."""
    scored = sorted((_levenshtein(given, name), name) for name in names)
    return scored[0][1] if scored and scored[0][0] < 3 else None


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _expressions(documents: dict[str, dict[str, Any]]) -> Iterator[str]:
    """Every template string of the blocks Terraform evaluates (module sources and versions are literals)."""
    for document in documents.values():
        for kind in EXPRESSION_BLOCKS:
            for block in _blocks(document.get(kind)):
                evaluated = block
                if kind == "module":
                    evaluated = {
                        name: {k: v for k, v in body.items() if k not in {"source", "version"}}
                        for name, body in block.items()
                        if isinstance(body, dict)
                    }
                yield from (text for text in _strings(evaluated) if "${" in text)


def _eks_major(release: ReleaseInterface) -> int | None:
    for call in release.module_calls:
        if call.source == EKS_MODULE_SOURCE and call.version:
            try:
                return parse_constraint(call.version).lower[0]
            except ConstraintSyntaxError:
                return None
    return None


def _cluster_data_source(
    documents: dict[str, dict[str, Any]], calls: dict[str, ResolvedCall], variables: dict[str, Any]
) -> list[tuple[str, str]]:
    found = []
    for document in documents.values():
        for data in _blocks(document.get("data")):
            for block in _blocks(data.get("aws_eks_cluster")):
                for _name, body in block.items():
                    reference = _MODULE_REFERENCE.search(str(body.get("name", "")) if isinstance(body, dict) else "")
                    if reference is None or reference.group(1) not in calls:
                        continue
                    major = _eks_major(calls[reference.group(1)].release)
                    if major is not None and major >= FIRST_EKS_MAJOR_WITH_STATIC_NAME:
                        cluster = str(variables.get("namespace", "wandb"))
                        found.append((f"reading EKS Cluster ({cluster}): couldn't find resource", ""))
    return found
