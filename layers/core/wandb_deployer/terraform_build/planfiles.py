"""What the plan build keeps of a plan besides the saved plan itself: a JSON view without values, and the dependencies
the apply must use (standard library only; tfrunner.py imports it from the same directory).

`redact_plan`: `terraform show -json` holds every input value and every attribute value before and after, sensitive
ones included (`variables`, `prior_state`, `planned_values`, `before`/`after`). The stored `plan.json` keeps what the
summary, the drift record and a human need: per resource change its address, type and actions, and the names (never
the values) of the top-level attributes that change; per output its actions. One value is kept: the
`cluster_identifier` an `aws_rds_cluster` has before the change (a name, not a secret), which the deployer snapshots
before a risky apply (plan/snapshot_decision.py).

`pack_dependencies` / `unpack_dependencies`: the provider lock file (`.terraform.lock.hcl`) and the downloaded modules
(`.terraform/modules/`) of the plan build, as one deterministic zip. The apply build unpacks it and initialises with
`-lockfile=readonly -get=false`: the exact provider packages (by the lock file's hashes) and no module download. A
saved plan also carries a snapshot of the configuration (modules included) and of the locks, which `terraform apply`
uses and compares with the working directory's lock file ("Inconsistent dependency lock file").
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

LOCK_FILE = ".terraform.lock.hcl"
MODULES_DIR = ".terraform/modules"
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_KEPT_ELEMENT_KEYS = (
    "address",
    "module_address",
    "mode",
    "type",
    "name",
    "index",
    "provider_name",
    "deposed",
    "action_reason",
    "previous_address",
)
_KEPT_TOP_LEVEL = ("format_version", "terraform_version", "applyable", "complete", "errored", "timestamp")


class DependenciesError(ValueError):
    """The dependencies archive is not one the plan build wrote (an entry outside the lock file and modules)."""


def changed_attributes(change: Any) -> list[str]:
    """Names of the top-level attributes whose value differs (or is unknown until apply); never the values."""
    if not isinstance(change, dict):
        return []
    before, after, unknown = change.get("before"), change.get("after"), change.get("after_unknown")
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    unknown = unknown if isinstance(unknown, dict) else {}
    names = set(before) | set(after) | set(unknown)
    return sorted(name for name in names if before.get(name) != after.get(name) or unknown.get(name))


def _element(element: Any) -> dict[str, Any]:
    if not isinstance(element, dict):
        return {}
    kept = {key: element[key] for key in _KEPT_ELEMENT_KEYS if key in element}
    found = element.get("change")
    change: dict[str, Any] = found if isinstance(found, dict) else {}
    kept["change"] = {
        "actions": [str(action) for action in change.get("actions", [])],
        "changed_attributes": changed_attributes(change),
    }
    if isinstance(change.get("replace_paths"), list):
        kept["change"]["replace_paths"] = change["replace_paths"]  # attribute paths, no values
    identifier = cluster_identifier_before(element)
    if identifier is not None:
        kept["change"]["cluster_identifier"] = identifier
    return kept


def cluster_identifier_before(element: Any) -> str | None:
    """The identifier of an existing Aurora cluster (`aws_rds_cluster`, managed) the change starts from; None for any
    other resource and for a cluster the plan creates."""
    if not isinstance(element, dict) or element.get("type") != "aws_rds_cluster" or element.get("mode") == "data":
        return None
    change = element.get("change")
    before = change.get("before") if isinstance(change, dict) else None
    identifier = before.get("cluster_identifier") if isinstance(before, dict) else None
    return identifier if isinstance(identifier, str) and identifier else None


def redact_plan(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan JSON without a single value (see the module docstring)."""
    redacted: dict[str, Any] = {key: plan[key] for key in _KEPT_TOP_LEVEL if key in plan}
    redacted["values_removed"] = True
    for section in ("resource_changes", "resource_drift"):
        redacted[section] = [_element(element) for element in plan.get(section) or []]
    outputs = plan.get("output_changes") or {}
    redacted["output_changes"] = {
        str(name): {"actions": [str(action) for action in (change or {}).get("actions", [])]}
        for name, change in (outputs.items() if isinstance(outputs, dict) else [])
    }
    return redacted


def _dependency_files(workdir: Path) -> list[Path]:
    found = [workdir / LOCK_FILE] if (workdir / LOCK_FILE).is_file() else []
    modules = workdir / MODULES_DIR
    if modules.is_dir():
        found += sorted(path for path in modules.rglob("*") if path.is_file() and not path.is_symlink())
    return found


def pack_dependencies(workdir: Path) -> bytes:
    """The lock file and `.terraform/modules/` of `workdir` as a deterministic zip (sorted, fixed times and modes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w") as archive:
        for path in _dependency_files(workdir):
            info = zipfile.ZipInfo(path.relative_to(workdir).as_posix(), date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100755 if path.stat().st_mode & 0o111 else 0o100644) << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def unpack_dependencies(blob: bytes, workdir: Path) -> list[str]:
    """Write the archive's lock file and modules into `workdir`; refuses any other entry. Returns the entry names."""
    root = workdir.resolve()
    with zipfile.ZipFile(io.BytesIO(blob)) as archive:
        names = archive.namelist()
        for name in names:
            path = PurePosixPath(name)
            allowed = name == LOCK_FILE or (path.parts[:2] == (".terraform", "modules") and ".." not in path.parts)
            target = (root / name).resolve()
            if not allowed or path.is_absolute() or not target.is_relative_to(root):
                raise DependenciesError(f"the dependencies archive holds {name!r}, which is not a lock file or module")
        for info in archive.infolist():
            if info.is_dir():
                continue
            target = root / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))
            target.chmod(0o755 if (info.external_attr >> 16) & 0o111 else 0o644)
    return names
