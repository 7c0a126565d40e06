"""What `terraform init` writes and `apply` of a saved plan checks: the dependency lock file and the installed modules.

Checked against a real terraform binary (1.11, offline, see tests/unit/terraform_emulation/test_dependencies.py):
`init` writes `.terraform.lock.hcl` (one `provider "<registry address>"` block per provider with `version`,
`constraints` and `hashes`) and `.terraform/modules/modules.json` (`{"Modules": [{"Key", "Source", "Version", "Dir"}]}`,
the root as `{"Key": "", "Source": "", "Dir": "."}`); a saved plan carries the lock file next to its configuration
snapshot, and `apply` refuses a working directory whose locks differ (hashicorp/terraform, backend_local.go:
"Inconsistent dependency lock file").

What is emulated: no provider or module is downloaded. The selected provider version is the lowest one the
constraints allow (the real installer takes the newest published release, which cannot be known offline) and its
hash is a made-up `h1:` digest of the address and version; a nested registry module (from the contract's module calls,
for example `terraform-aws-modules/eks/aws ~> 20.37`) is "installed" at the lowest version its constraint allows, as a
directory holding a note, under a key built from its caller's directory (`wandb_infra.app_eks.eks`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from wandb_deployer.contract.constraints import ConstraintSyntaxError, intersect, parse_constraint
from wandb_deployer.contract.versions import format_version
from wbd.sandbox.terraform_emulation import EMULATION_LABEL
from wbd.sandbox.terraform_emulation.configuration import ResolvedCall
from wbd.sandbox.terraform_emulation.errors import ConfigurationError

LOCK_FILE = ".terraform.lock.hcl"
MODULES_DIR = Path(".terraform") / "modules"
MANIFEST = MODULES_DIR / "modules.json"
REGISTRY = "registry.terraform.io"
_LOCK_HEADER = (
    '# This file is maintained automatically by "terraform init".\n# Manual edits may be lost in future updates.\n'
)
_PROVIDER_BLOCK = re.compile(r'provider\s+"([^"]+)"\s*\{(.*?)\n\}', re.DOTALL)
_VERSION = re.compile(r'\bversion\s*=\s*"([^"]+)"')
_HASH = re.compile(r'"(h1:[^"]+|zh:[^"]+)"')
_NOT_INSTALLED = (
    "Module not installed",
    'This module is not yet installed. Run "terraform init" to install all modules required by this configuration.',
)
_LOCK_READONLY = (
    "Provider dependency changes detected",
    "Changes to the required provider dependencies were detected, but the lock file is read-only. To use and "
    'record these requirements, run "terraform init" without the "-lockfile=readonly" flag.',
)
INCONSISTENT_LOCKS = (
    "Inconsistent dependency lock file",
    "The given plan file was created with a different set of external dependency selections than the current "
    "configuration. A saved plan can be applied only to the same configuration it was created from.\n\n"
    "Create a new plan from the updated configuration.",
)


def registry_address(source: str) -> str:
    return source if source.count("/") == 2 else f"{REGISTRY}/{source}"


def _emulated_hash(address: str, version: str) -> str:
    digest = hashlib.sha256(f"{EMULATION_LABEL}:{address}:{version}".encode()).digest()
    return "h1:" + base64.b64encode(digest).decode()


def select_providers(constraints: dict[str, list[str]]) -> dict[str, tuple[str, str]]:
    """Provider registry address -> (selected version, the constraints as the lock file records them)."""
    selected: dict[str, tuple[str, str]] = {}
    for source, found in sorted(constraints.items()):
        allowed = intersect(found) if found else parse_constraint(">= 0.0.0")
        version = allowed.lower
        while version in allowed.excluded:
            version = (version[0], version[1], version[2] + 1)
        selected[registry_address(source)] = (format_version(version), ", ".join(dict.fromkeys(found)))
    return selected


def lock_file_text(selected: dict[str, tuple[str, str]]) -> str:
    blocks = []
    for address, (version, constraints) in sorted(selected.items()):
        lines = [f'provider "{address}" {{', f'  version     = "{version}"']
        if constraints:
            lines.append(f'  constraints = "{constraints}"')
        lines += ["  hashes = [", f'    "{_emulated_hash(address, version)}",', "  ]", "}"]
        blocks.append("\n".join(lines) + "\n")
    return _LOCK_HEADER + "".join("\n" + block for block in blocks)


def read_locks(text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Provider address -> (version, hashes) of a lock file's text."""
    locks = {}
    for address, body in _PROVIDER_BLOCK.findall(text):
        version = _VERSION.search(body)
        locks[address] = (version.group(1) if version else "", tuple(sorted(_HASH.findall(body))))
    return locks


def install_providers(directory: Path, selected: dict[str, tuple[str, str]], *, readonly: bool) -> list[str]:
    """Write (or, read-only, check) the lock file; returns what init prints. Raises ConfigurationError."""
    path = directory / LOCK_FILE
    locked = read_locks(path.read_text(encoding="utf-8")) if path.is_file() else {}
    lines = []
    for address, (version, constraints) in selected.items():
        previous = locked.get(address)
        if previous is not None and _satisfies(previous[0], constraints):
            lines.append(f"- Reusing previous version of {address} from the dependency lock file")
            lines.append(f"- Installed {address} v{previous[0]} (emulated: nothing is downloaded)")
        elif readonly:
            raise ConfigurationError([_LOCK_READONLY])
        else:
            lines.append(f"- Installed {address} v{version} (emulated: nothing is downloaded)")
    if readonly:
        if set(locked) - set(selected):
            raise ConfigurationError([_LOCK_READONLY])
        return lines
    kept = {
        address: (locked[address][0], constraints)
        if address in locked and _satisfies(locked[address][0], constraints)
        else (version, constraints)
        for address, (version, constraints) in selected.items()
    }
    path.write_text(lock_file_text(kept), encoding="utf-8")
    return [*lines, "Terraform has created a lock file .terraform.lock.hcl to record the provider selections."]


def _satisfies(version: str, constraints: str) -> bool:
    try:
        wanted = intersect([part.strip() for part in constraints.split(",") if part.strip()]) if constraints else None
        numbers = tuple(int(part) for part in version.split("."))
    except (ConstraintSyntaxError, ValueError):
        return False
    return wanted is None or (len(numbers) == 3 and wanted.allows((numbers[0], numbers[1], numbers[2])))


def _lowest(constraint: str | None) -> str:
    if not constraint:
        return "0.0.0"
    try:
        return format_version(parse_constraint(constraint, "core").lower)
    except ConstraintSyntaxError:
        return "0.0.0"


def module_entries(calls: Iterable[ResolvedCall]) -> list[dict[str, str]]:
    """modules.json entries of the root, each W&B module call and the registry modules its release calls."""
    entries = [{"Key": "", "Source": "", "Dir": "."}]
    for call in calls:
        entries.append(
            {
                "Key": call.name,
                "Source": f"{REGISTRY}/{call.source}",
                "Version": call.release.version,
                "Dir": str(MODULES_DIR / call.name),
            }
        )
        for nested in call.release.module_calls:
            parent = "" if nested.directory == "." else "." + nested.directory.rstrip("/").rsplit("/", 1)[-1]
            key = f"{call.name}{parent}.{nested.name}"
            entries.append(
                {
                    "Key": key,
                    "Source": registry_address(nested.source),
                    "Version": _lowest(nested.version),
                    "Dir": str(MODULES_DIR / key),
                }
            )
    return entries


def install_modules(directory: Path, calls: list[ResolvedCall], *, get: bool) -> list[str]:
    """Write `.terraform/modules` (or, with `-get=false`, check it is there); returns what init prints."""
    wanted = module_entries(calls)
    manifest = directory / MANIFEST
    if not get:
        installed = json.loads(manifest.read_text(encoding="utf-8")).get("Modules", []) if manifest.is_file() else []
        have = {(entry.get("Key"), entry.get("Version")) for entry in installed}
        if any((entry["Key"], entry.get("Version")) not in have for entry in wanted[1:]):
            raise ConfigurationError([_NOT_INSTALLED])
        return [f"- {entry['Key']}: using the installed {entry['Source']} {entry['Version']}" for entry in wanted[1:]]
    for entry in wanted[1:]:
        module_dir = directory / entry["Dir"]
        module_dir.mkdir(parents=True, exist_ok=True)
        note = f"{EMULATION_LABEL}: stands for {entry['Source']} {entry['Version']} (nothing was downloaded)\n"
        (module_dir / "EMULATED-MODULE.txt").write_text(note, encoding="utf-8")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"Modules": wanted}, separators=(",", ":")), encoding="utf-8")
    return [
        f"Downloading {entry['Source']} {entry['Version']} for {entry['Key']}... (emulated)" for entry in wanted[1:]
    ]
