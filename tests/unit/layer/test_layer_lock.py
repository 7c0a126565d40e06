"""The Lambda layer is built from a hash lock, with boto3/botocore once (the runtime's): security review, item 11."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.conftest import REPO
from wbd.dependency_locks import RUNTIME_PROVIDED

pytestmark = pytest.mark.unit

LAYER = REPO / "layers" / "core"
LOCKED = re.compile(r"^(?P<name>[a-z0-9-]+)==(?P<version>[A-Za-z0-9_.+-]+) --hash=sha256:[0-9a-f]{64}$")


def locked() -> dict[str, str]:
    lines = [line for line in (LAYER / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    found = {}
    for line in lines:
        match = LOCKED.fullmatch(line)
        assert match, f"not a hash-pinned requirement: {line}"
        found[match.group("name")] = match.group("version")
    return found


def test_every_layer_requirement_is_pinned_by_hash_and_botocore_is_the_runtimes() -> None:
    packages = locked()
    assert {"aws-lambda-powertools", "aws-xray-sdk", "pydantic", "pydantic-core", "wrapt"} <= set(packages)
    assert not RUNTIME_PROVIDED & set(packages)  # boto3, botocore, ... exist once: in the runtime


def test_the_layer_pins_what_the_project_runs_with() -> None:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = [line for line in (LAYER / "requirements.in").read_text().splitlines() if line and line[0] != "#"]
    assert set(wanted) <= set(dependencies)
    packages = locked()
    for line in wanted:
        name, version = line.split("[")[0].split("==")[0], line.split("==")[1]
        assert packages[name] == version


def test_sam_builds_the_layer_with_its_makefile_from_the_lock() -> None:
    text = (REPO / "template.yaml").read_text()
    assert "BuildMethod: makefile" in text
    makefile = (LAYER / "Makefile").read_text()
    for flag in (
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        "-r requirements.txt",
        "manylinux2014_aarch64",
    ):
        assert flag in makefile
