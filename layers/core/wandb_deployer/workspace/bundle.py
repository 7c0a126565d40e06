"""The workspace bundle: one deterministic zip that is a CodeBuild run's source.

At its root: the rendered workspace files and every file of the package directory `wandb_deployer/terraform_build/`
(the runner, its plan files module, the pinned Terraform checksums and build requirements), except Python caches and
`__init__.py`. The buildspec is not in it: it lives in the CodeBuild project, which checks these files' sha256s before
running anything from the bundle. Entries are
sorted, timestamps fixed, permissions fixed: the same workspace always gives the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from wandb_deployer.workspace.render import RenderedWorkspace

RUNNER = "tfrunner.py"
BUILD_FILES_PACKAGE_DIR = "terraform_build"

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest timestamp a zip entry can carry
_UNIX = 3  # ZipInfo.create_system: fixed, so the bytes do not depend on the OS that built the zip
_FILE_MODE = 0o100644
_SKIPPED_NAMES = frozenset({"__pycache__", "__init__.py"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


def build_bundle(rendered: RenderedWorkspace, *, extra_files_dir: Path | None = None) -> bytes:
    """Zip `rendered` with the build files (from `extra_files_dir`, else the layer's `terraform_build/`).

    Raises FileNotFoundError when the build files have no `tfrunner.py` (the project's buildspec runs it) and
    ValueError when a build file would shadow a rendered file.
    """
    build_root: Traversable = (
        extra_files_dir
        if extra_files_dir is not None
        else resources.files("wandb_deployer").joinpath(BUILD_FILES_PACKAGE_DIR)
    )
    build_files = dict(_build_files(build_root, prefix=""))
    if RUNNER not in build_files:
        raise FileNotFoundError(f"{RUNNER} is missing from the build files ({BUILD_FILES_PACKAGE_DIR}/)")
    clashes = sorted(set(build_files) & set(rendered.files))
    if clashes:
        raise ValueError(f"build files would overwrite rendered workspace files: {clashes}")
    entries = {**rendered.files, **build_files}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = _UNIX
            info.external_attr = _FILE_MODE << 16
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def _build_files(directory: Traversable, *, prefix: str) -> list[tuple[str, bytes]]:
    """(zip path, content) of every file under `directory`, recursively, without caches and `__init__.py`."""
    if not directory.is_dir():
        return []
    found: list[tuple[str, bytes]] = []
    for entry in sorted(directory.iterdir(), key=lambda item: item.name):
        if entry.name in _SKIPPED_NAMES or entry.name.endswith(_SKIPPED_SUFFIXES):
            continue
        if entry.is_dir():
            found.extend(_build_files(entry, prefix=f"{prefix}{entry.name}/"))
        elif entry.is_file():
            found.append((prefix + entry.name, entry.read_bytes()))
    return found
