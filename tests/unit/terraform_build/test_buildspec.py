"""The buildspec stays short, runs everything through the runner, and never echoes values."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.unit.terraform_build.conftest import RUNNER_DIR

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def buildspec() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((RUNNER_DIR / "buildspec.yml").read_text(encoding="utf-8"))
    return document


def commands(buildspec: dict[str, Any]) -> list[str]:
    return [command for phase in buildspec["phases"].values() for command in phase.get("commands", [])]


def test_buildspec_is_version_0_2_with_bash(buildspec: dict[str, Any]) -> None:
    assert str(buildspec["version"]) == "0.2"
    assert buildspec["env"]["shell"] == "bash"


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
