"""Every `wbd` command that talks to AWS, without credentials, without a region, against an unreachable endpoint and
for an unknown deployment: one line on stderr, exit 2, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.unit.cli.conftest import OPERATOR, Deployer
from wbd.cli.aws import NO_CREDENTIALS, NO_REGION
from wbd.cli.main import app

pytestmark = pytest.mark.unit

DEPLOYMENT = "{deployment}"


def aws_commands(license_file: Path) -> list[list[str]]:
    """Every command that uses AWS, with valid arguments (DEPLOYMENT stands for the deployment's name)."""
    return [
        ["runs", DEPLOYMENT],
        ["runs", DEPLOYMENT, "latest", "--json"],
        ["status", DEPLOYMENT],
        ["approve", DEPLOYMENT, "--plan", "0" * 64],
        ["reject", DEPLOYMENT, "--reason", "not now"],
        ["verify", DEPLOYMENT],
        ["drift", DEPLOYMENT],
        ["upgrade", DEPLOYMENT, "--eks-cluster-version", "1.34", "--wait"],
        ["watch", DEPLOYMENT],
        ["config", "show", DEPLOYMENT, "--json"],
        ["config", "pull", DEPLOYMENT],
        ["config", "push", str(OPERATOR), "--deployment", DEPLOYMENT, "--license-file", str(license_file), "--yes"],
    ]


def _for(command: list[str], deployment: str) -> list[str]:
    return [deployment if part == DEPLOYMENT else part for part in command]


def _assert_one_line(result: object, expected: str) -> None:
    output = result.output  # type: ignore[attr-defined]
    assert result.exit_code == 2, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    assert result.stderr.strip() == expected, output  # type: ignore[attr-defined]


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No shared config or credentials files, no instance metadata: only the environment counts."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in (
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)


def test_without_credentials_every_command_says_so_in_one_line(
    runner: CliRunner, license_file: Path, no_aws_configuration: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for command in aws_commands(license_file):
        _assert_one_line(runner.invoke(app, _for(command, "demo")), NO_CREDENTIALS)


def test_without_a_region_every_command_says_so_and_region_fixes_it(
    runner: CliRunner, license_file: Path, no_aws_configuration: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    for command in aws_commands(license_file):
        _assert_one_line(runner.invoke(app, _for(command, "demo")), NO_REGION)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_against_an_unreachable_endpoint_every_command_names_it(
    runner: CliRunner, license_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    expected = f"cannot reach {endpoint}/: check the network, the region or AWS_ENDPOINT_URL"
    for command in aws_commands(license_file):
        _assert_one_line(runner.invoke(app, _for(command, "demo")), expected)


def test_an_unknown_deployment_is_named_with_the_known_ones(
    runner: CliRunner, license_file: Path, deployer: Deployer
) -> None:
    expected = "deployment 'nosuch' not found under /wandb-deployer (known: demo)"
    for command in aws_commands(license_file):
        if command[:2] == ["config", "push"]:
            continue  # a push creates the deployment
        _assert_one_line(runner.invoke(app, _for(command, "nosuch")), expected)
    invalid = runner.invoke(app, ["status", "No_Such"])
    _assert_one_line(
        invalid, "deployment 'No_Such': a name is 2-32 lowercase letters, digits or hyphens, starting with a letter"
    )


def test_region_and_profile_are_options_of_every_aws_command(
    runner: CliRunner,
    license_file: Path,
    deployer: Deployer,
    no_aws_configuration: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    # --region replaces the missing region (the run history of `demo` is empty: exit 0)
    listed = runner.invoke(app, ["runs", "demo", "--region", "us-east-1"])
    assert listed.exit_code == 0, listed.output
    assert "no runs yet" in listed.stdout
    # AWS_REGION is honoured (botocore alone reads only AWS_DEFAULT_REGION)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    assert runner.invoke(app, ["config", "show", "demo"]).exit_code == 0
    for command in aws_commands(license_file):
        _assert_one_line(
            runner.invoke(app, [*_for(command, "demo"), "--profile", "nosuch"]),
            "AWS profile 'nosuch' not found (aws configure list-profiles)",
        )


def test_the_installed_entry_point_fails_the_same_way(tmp_path: Path) -> None:
    """The real `wbd` process (not the test runner): no region, then no credentials, one line each, exit 2."""
    wbd = Path(sys.executable).parent / "wbd"
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    clean.update(
        {
            "HOME": str(tmp_path),
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    no_region = subprocess.run([str(wbd), "status", "demo"], env=clean, capture_output=True, text=True, check=False)
    assert (no_region.returncode, no_region.stderr.strip(), no_region.stdout) == (2, NO_REGION, "")
    clean["AWS_REGION"] = "eu-west-1"
    no_keys = subprocess.run(
        [str(wbd), "config", "show", "demo"], env=clean, capture_output=True, text=True, check=False
    )
    assert (no_keys.returncode, no_keys.stderr.strip(), no_keys.stdout) == (2, NO_CREDENTIALS, "")
