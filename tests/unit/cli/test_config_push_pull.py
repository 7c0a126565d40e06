"""`wbd config push` against what SSM holds (an empty license, a file behind SSM, the upgrade guards, --force),
`wbd config pull`, and the smaller things: render onto a file, a file with thousands of problems, --version."""

from __future__ import annotations

import getpass
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.unit.cli.conftest import OPERATOR, Deployer
from wbd.cli.main import app, installed_version

pytestmark = pytest.mark.unit


def value(deployer: Deployer, key: str) -> str:
    return str(deployer.ssm.get_parameter(Name=f"/wandb-deployer/demo/{key}")["Parameter"]["Value"])


def versions(deployer: Deployer) -> dict[str, int]:
    pages = deployer.ssm.get_paginator("get_parameters_by_path").paginate(Path="/wandb-deployer/demo", Recursive=True)
    return {p["Name"]: p["Version"] for page in pages for p in page["Parameters"]}


def test_an_empty_license_on_stdin_is_refused(runner: CliRunner, deployer: Deployer, tmp_path: Path) -> None:
    before = versions(deployer)
    for given in ("", "\n", "   \n"):
        result = runner.invoke(app, ["config", "push", str(OPERATOR), "--license-stdin", "--yes"], input=given)
        assert (result.exit_code, result.stderr.strip()) == (
            2,
            "license: no license read from stdin (pipe it in, or use --license-file)",
        )
    empty = tmp_path / "empty.jws"
    empty.write_text("\n")
    from_file = runner.invoke(app, ["config", "push", str(OPERATOR), "--license-file", str(empty), "--yes"])
    assert (from_file.exit_code, from_file.stderr.strip()) == (2, f"license: {empty} is empty")
    assert versions(deployer) == before


def test_a_file_behind_ssm_is_warned_and_its_downgrade_refused(runner: CliRunner, deployer: Deployer) -> None:
    # Given an upgrade moved EKS to 1.34 in SSM, pushing the unchanged file (1.33)
    deployer.ssm.put_parameter(
        Name="/wandb-deployer/demo/infra/eks_cluster_version", Value="1.34", Type="String", Overwrite=True
    )
    before = versions(deployer)
    result = runner.invoke(app, ["config", "push", str(OPERATOR), "--yes"])

    # warns that the file is behind SSM, refuses the downgrade (not even --force allows an EKS one), writes nothing.
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(
        "warning: infra/eks_cluster_version: the file has 1.33, SSM has 1.34: the file is behind"
    )
    assert "wbd config pull demo --out FILE" in lines[0]
    assert lines[1:] == [
        "refused: eks_cluster_version: EKS cannot be downgraded (1.34 -> 1.33), not even forced",
        "nothing written",
    ]
    forced = runner.invoke(app, ["config", "push", str(OPERATOR), "--yes", "--force"])
    assert forced.exit_code == 2
    assert "refused even with --force: eks_cluster_version: EKS cannot be downgraded" in forced.stderr
    assert versions(deployer) == before


def test_force_allows_a_downgrade_once_through_deployer_allow_downgrade(runner: CliRunner, deployer: Deployer) -> None:
    deployer.ssm.put_parameter(
        Name="/wandb-deployer/demo/deployer/terraform_version", Value="1.10.6", Type="String", Overwrite=True
    )
    refused = runner.invoke(app, ["config", "push", str(OPERATOR), "--yes"])
    assert refused.exit_code == 2
    assert "refused: terraform_version: 1.10.5 is a downgrade from 1.10.6 (allow it once with `wbd config push " in (
        refused.stderr
    )

    forced = runner.invoke(app, ["config", "push", str(OPERATOR), "--yes", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "--force: deployer/allow_downgrade lets the next applied run make this downgrade, once" in forced.stdout
    assert value(deployer, "deployer/terraform_version") == "1.10.5"
    assert value(deployer, "deployer/allow_downgrade").startswith(f"forced by {getpass.getuser()} at ")

    # the allowance is not part of the file: pushing it again neither shows it nor removes it
    again = runner.invoke(app, ["config", "push", str(OPERATOR), "--yes"])
    assert again.exit_code == 0 and "SSM already matches" in again.stdout
    assert value(deployer, "deployer/allow_downgrade").startswith("forced by")


def test_pull_writes_what_ssm_holds_back_to_yaml(runner: CliRunner, deployer: Deployer, tmp_path: Path) -> None:
    deployer.ssm.put_parameter(
        Name="/wandb-deployer/demo/infra/eks_cluster_version", Value="1.34", Type="String", Overwrite=True
    )
    pulled = tmp_path / "demo.yaml"
    result = runner.invoke(app, ["config", "pull", "demo", "--out", str(pulled)])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(pulled.read_text())
    assert document["deployment"] == "demo"
    assert document["infra"]["eks_cluster_version"] == "1.34"
    assert document["infra"]["allowed_inbound_cidr"] == ["203.0.113.0/24", "198.51.100.0/24"]
    assert document["infra"]["create_elasticache"] is True
    assert "license" not in json.dumps(document["infra"]) and "api_key" not in document["deployer"]

    assert runner.invoke(app, ["config", "validate", str(pulled)]).exit_code == 0
    pushed = runner.invoke(app, ["config", "push", str(pulled), "--yes"])
    assert pushed.exit_code == 0 and "SSM already matches" in pushed.stdout, pushed.output

    exists = runner.invoke(app, ["config", "pull", "demo", "--out", str(pulled)])
    assert (exists.exit_code, exists.stderr.strip()) == (2, f"--out {pulled}: exists; pass --overwrite to replace it")
    printed = runner.invoke(app, ["config", "pull", "demo"])
    assert printed.exit_code == 0 and yaml.safe_load(printed.stdout)["infra"]["eks_cluster_version"] == "1.34"


def test_show_as_json_masks_secure_strings(runner: CliRunner, deployer: Deployer) -> None:
    result = runner.invoke(app, ["config", "show", "demo", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["parameters"]["infra/license"] == {"type": "SecureString", "value": "********"}
    assert shown["parameters"]["infra/size"] == {"type": "String", "value": "small"}


def test_render_onto_a_file_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "ws"
    target.write_text("not a directory")
    result = runner.invoke(app, ["config", "render", str(OPERATOR), "--out", str(target)])
    assert (result.exit_code, result.stderr.strip()) == (
        2,
        f"--out {target}: is a file; give a directory (it is created when missing)",
    )
    assert "Traceback" not in result.output


def test_thousands_of_problems_are_capped(runner: CliRunner, tmp_path: Path) -> None:
    huge = tmp_path / "huge.yaml"
    huge.write_text("deployment: demo\ninfra:\n" + "".join(f"  nope_{index}: {index}\n" for index in range(5000)))
    result = runner.invoke(app, ["config", "validate", str(huge)])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2
    assert len(lines) == 51
    assert all(line.startswith("infra/nope_") for line in lines[:50])
    hidden = re.fullmatch(r"… and (\d+) more", lines[-1])
    assert hidden is not None and int(hidden[1]) >= 4950  # every unknown input, and the required ones missing


def test_version_and_bare_groups(runner: CliRunner) -> None:
    shown = runner.invoke(app, ["--version"])
    assert (shown.exit_code, shown.stdout.strip()) == (0, f"wbd {installed_version()}")
    assert installed_version()[0].isdigit()
    for bare in ([], ["sandbox"], ["config"]):
        result = runner.invoke(app, bare)
        assert result.exit_code == 2, bare
        assert "Usage" in result.output
