"""The buildspec lives in the CodeBuild project (template.yaml), never in a run's bundle: it pins the bundle's build
files by sha256, installs only hash-pinned wheels, runs everything through the runner and never echoes values
(security review, item 3)."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest
import yaml

from tests.conftest import REPO
from tests.unit.terraform_build.conftest import RUNNER_DIR
from wbd.sandbox.template import parse_template_text

pytestmark = pytest.mark.unit

PINNED = re.compile(r"'([0-9a-f]{64})  ([A-Za-z0-9_.-]+)'")
REQUIREMENT = re.compile(r"^[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+ --hash=sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    template = parse_template_text((REPO / "template.yaml").read_text(encoding="utf-8"))
    properties: dict[str, Any] = template["Resources"]["TerraformProject"]["Properties"]
    return properties


@pytest.fixture(scope="module")
def buildspec(project: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(project["Source"]["BuildSpec"])
    return document


def commands(buildspec: dict[str, Any]) -> list[str]:
    return [command for phase in buildspec["phases"].values() for command in phase.get("commands", [])]


def test_the_buildspec_is_inline_in_the_project_and_not_in_the_bundle(project: dict[str, Any]) -> None:
    assert "\n" in project["Source"]["BuildSpec"]  # inline YAML, not a path into the source
    assert not (RUNNER_DIR / "buildspec.yml").exists()
    assert not (REPO / "buildspecs").exists()


def test_buildspec_is_version_0_2_with_bash(buildspec: dict[str, Any]) -> None:
    assert str(buildspec["version"]) == "0.2"
    assert buildspec["env"]["shell"] == "bash"


def test_every_build_file_is_pinned_by_its_current_sha256_before_anything_runs(buildspec: dict[str, Any]) -> None:
    first = buildspec["phases"]["install"]["commands"][0]
    assert first.rstrip().endswith("| sha256sum --check --strict --quiet -")
    pinned = {name: digest for digest, name in PINNED.findall(first)}
    shipped = {
        path.name for path in RUNNER_DIR.iterdir() if path.is_file() and path.name != "__init__.py" and path.suffix
    }
    assert set(pinned) == shipped - {"__init__.py"}
    stale = {
        name: hashlib.sha256((RUNNER_DIR / name).read_bytes()).hexdigest()
        for name, digest in pinned.items()
        if hashlib.sha256((RUNNER_DIR / name).read_bytes()).hexdigest() != digest
    }
    assert not stale, f"template.yaml's buildspec pins stale sha256s (run `make buildspec-pins`): {stale}"


def test_what_the_build_installs_is_pinned_by_hash(buildspec: dict[str, Any]) -> None:
    install = buildspec["phases"]["install"]["commands"]
    pip = next(command for command in install if "pip install" in command)
    for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:", "--target .wbd/python"):
        assert flag in pip
    assert buildspec["env"]["variables"]["PYTHONPATH"] == ".wbd/python"
    lines = [
        line
        for line in (RUNNER_DIR / "build-requirements.txt").read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    ]
    assert lines and all(REQUIREMENT.fullmatch(line) for line in lines), lines
    assert {line.split("==")[0] for line in lines} >= {"boto3", "botocore", "s3transfer", "jmespath", "urllib3"}


def test_all_logic_is_in_the_runner(buildspec: dict[str, Any]) -> None:
    assert buildspec["phases"]["install"]["commands"][-1] == "python3 tfrunner.py install"
    assert buildspec["phases"]["build"]["commands"] == ["python3 tfrunner.py run"]


def test_nothing_echoes_values_and_no_secret_is_declared(buildspec: dict[str, Any]) -> None:
    text = " ".join(commands(buildspec))
    for forbidden in ("set -x", "printenv", "echo", "env ", "TF_VAR_", "$"):
        assert forbidden not in text
    assert "parameter-store" not in buildspec["env"]
    assert "secrets-manager" not in buildspec["env"]
    assert not any(name.startswith("TF_VAR_") for name in buildspec["env"].get("variables", {}))


def test_the_provider_plugin_cache_is_under_the_build_dir_and_cached(buildspec: dict[str, Any]) -> None:
    cache_dir = buildspec["env"]["variables"]["TF_PLUGIN_CACHE_DIR"]
    assert not cache_dir.startswith("/")
    assert buildspec["cache"]["paths"] == [f"{cache_dir}/**/*"]
