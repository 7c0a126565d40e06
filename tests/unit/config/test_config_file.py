"""The YAML source: the examples validate, secrets are refused, broken files fail with one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.unit.config.samples import LICENSE
from wandb_deployer.errors import InvalidConfigError
from wbd.config_file import ConfigFileError, load_config_file

pytestmark = pytest.mark.unit


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "deployment.yaml"
    path.write_text(text)
    return path


def test_operator_example_validates() -> None:
    config = load_config_file(REPO / "examples" / "operator.yaml")
    assert (config.deployment, config.deployer.generation, config.deployer.module_version) == (
        "demo",
        "operator",
        "8.0.0",
    )
    assert config.infra["create_elasticache"] is True
    assert config.infra["use_internal_queue"] is True  # as the module's own examples: 8.0.0 passes W&B no queue
    assert config.infra["kubernetes_legacy_cluster_creator_admin"] is False
    assert config.infra["size"] == "small"
    assert config.app == {}
    assert config.license is None


def test_legacy_example_validates() -> None:
    config = load_config_file(REPO / "examples" / "legacy.yaml")
    assert (config.deployer.generation, config.deployer.module_version) == ("legacy", "2.8.0")
    assert config.app == {"wandb_version": "0.51.2"}
    assert "eks_cluster_version" in config.infra
    assert "create_elasticache_subnet" not in config.infra


def test_a_license_given_beside_the_file_is_checked(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        load_config_file(REPO / "examples" / "operator.yaml", license="not-a-jws")
    assert caught.value.problems == [
        "infra/license: is not a W&B license: expected a compact JWS, three base64url parts separated by dots "
        "(found 1 part(s) or characters outside base64url)"
    ]
    assert load_config_file(REPO / "examples" / "operator.yaml", license=LICENSE).license is not None


@pytest.mark.parametrize(
    ("section", "key"), [("infra", "license"), ("app", "license"), ("deployer", "api_key"), ("deployer", "license")]
)
def test_secrets_in_the_file_are_refused_without_echo(tmp_path: Path, section: str, key: str) -> None:
    example = (REPO / "examples" / "legacy.yaml").read_text()
    text = example.replace(f"{section}:\n", f"{section}:\n  {key}: {LICENSE}\n", 1)
    with pytest.raises(InvalidConfigError) as caught:
        load_config_file(write(tmp_path, text))
    assert caught.value.problems[0].startswith(f"{section}/{key}: secrets never go in the file")
    assert LICENSE not in str(caught.value)


def test_a_top_level_license_is_refused(tmp_path: Path) -> None:
    text = (REPO / "examples" / "operator.yaml").read_text() + f"license: {LICENSE}\n"
    with pytest.raises(InvalidConfigError) as caught:
        load_config_file(write(tmp_path, text))
    assert caught.value.problems[0].startswith("license: unknown top-level key")
    assert LICENSE not in str(caught.value)


def test_the_deployment_name_is_required_or_given(tmp_path: Path) -> None:
    text = (REPO / "examples" / "operator.yaml").read_text().replace("deployment: demo\n", "")
    with pytest.raises(InvalidConfigError) as caught:
        load_config_file(write(tmp_path, text))
    assert caught.value.problems == ["deployment: missing: name the deployment, for example `deployment: demo`"]
    assert load_config_file(write(tmp_path, text), deployment="prod").deployment == "prod"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deployment: [unclosed\n", "not valid YAML at line 2, column 1: expected"),
        ("- a list\n", "expected a mapping with keys deployment, deployer, infra, app"),
        ("", "expected a mapping"),
    ],
)
def test_broken_files_fail_with_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigFileError) as caught:
        load_config_file(write(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read the file"):
        load_config_file(tmp_path / "nope.yaml")


def test_a_section_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        load_config_file(write(tmp_path, "deployment: demo\ninfra: [a, b]\n"))
    assert "infra: expected a mapping of names to values" in caught.value.problems


def test_yaml_numbers_where_strings_are_expected(tmp_path: Path) -> None:
    text = (
        (REPO / "examples" / "operator.yaml")
        .read_text()
        .replace('eks_cluster_version: "1.33"', "eks_cluster_version: 1.30")
    )
    with pytest.raises(InvalidConfigError) as caught:
        load_config_file(write(tmp_path, text))
    assert caught.value.problems == ["infra/eks_cluster_version: expected a string, got a number (quote it in YAML)"]
