"""`wbd config` through typer's CliRunner, against moto's SSM."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.unit.config.samples import API_KEY, LICENSE
from wbd.cli.main import app

pytestmark = pytest.mark.unit

OPERATOR = str(REPO / "examples" / "operator.yaml")
LEGACY = str(REPO / "examples" / "legacy.yaml")


def versions_under(ssm: Any, path: str) -> dict[str, int]:
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True)
    return {p["Name"]: p["Version"] for page in pages for p in page["Parameters"]}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


@pytest.fixture
def license_file(tmp_path: Path) -> Path:
    path = tmp_path / "license.jws"
    path.write_text(LICENSE + "\n")
    return path


@pytest.fixture
def aws_ssm(ssm: Any) -> Iterator[Any]:
    """moto's SSM; the CLI's own client (wandb_deployer.aws_clients) is created inside the same mock."""
    yield ssm


def test_help_everywhere(runner: CliRunner) -> None:
    for command in ([], ["validate"], ["render"], ["push"], ["show"]):
        result = runner.invoke(app, ["config", *command, "--help"])
        assert result.exit_code == 0, result.output
        assert "Usage" in result.stdout


@pytest.mark.parametrize(("example", "generation"), [(OPERATOR, "operator"), (LEGACY, "legacy")])
def test_validate_a_valid_file(runner: CliRunner, example: str, generation: str) -> None:
    result = runner.invoke(app, ["config", "validate", example])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout
    assert generation in result.stdout
    assert "fingerprint" in result.stdout


def test_validate_an_invalid_file_prints_every_problem_on_stderr(runner: CliRunner, tmp_path: Path) -> None:
    text = (REPO / "examples" / "operator.yaml").read_text()
    text = text.replace("create_elasticache: true", "create_elasticache_subnet: true").replace(
        "size: small", "size: huge"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(text)

    result = runner.invoke(app, ["config", "validate", str(path)])

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("infra/create_elasticache_subnet: not an input of wandb/wandb/aws 8.0.0")
    assert lines[1].startswith("infra/size: 'huge' is not one of")
    assert len(lines) == 2
    assert result.stdout == ""


@pytest.mark.parametrize("version", ["9.9.9", "8.0.99"])
def test_validate_refuses_a_module_release_that_does_not_exist(runner: CliRunner, tmp_path: Path, version: str) -> None:
    path = tmp_path / "future.yaml"
    path.write_text((REPO / "examples" / "operator.yaml").read_text().replace('"8.0.0"', f'"{version}"'))

    result = runner.invoke(app, ["config", "validate", str(path)])

    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"deployer/module_version: {version} is not a release of wandb/wandb/aws (nearest: 8.0.0, 7.18.2, 7.18.1)"
    ]


def test_validate_is_exact_for_7_18_2(runner: CliRunner, tmp_path: Path) -> None:
    text = (REPO / "examples" / "operator.yaml").read_text().replace('"8.0.0"', '"7.18.2"')
    text = text.replace("  kubernetes_legacy_cluster_creator_admin: false", "  kubernetes_min_nodes_per_az: 2")
    path = tmp_path / "seven.yaml"
    path.write_text(text)
    assert runner.invoke(app, ["config", "validate", str(path)]).exit_code == 0

    path.write_text(text.replace("kubernetes_min_nodes_per_az: 2", "kubernetes_node_count: 2"))
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "infra/kubernetes_node_count: not an input of wandb/wandb/aws 7.18.2: an input of wandb/wandb/aws "
        "4.3.0 - 4.24.0 (removed in 5.0.0)"
    )


def test_validate_accepts_wandb_replicas_with_the_app_module_1_14_1(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "replicas.yaml"
    path.write_text((REPO / "examples" / "legacy.yaml").read_text() + "  wandb_replicas: 2\n")
    result = runner.invoke(app, ["config", "validate", str(path)])
    assert result.exit_code == 0, result.output


def test_validate_an_unreadable_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["config", "validate", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert "cannot read the file" in result.stderr


def test_push_shows_the_diff_and_writes_only_what_changed(runner: CliRunner, aws_ssm: Any, license_file: Path) -> None:
    # Given a first push of the operator example with its license
    first = runner.invoke(app, ["config", "push", OPERATOR, "--license-file", str(license_file), "--yes"])
    assert first.exit_code == 0, first.output
    assert "/wandb-deployer/demo/infra/license" in first.stdout
    assert LICENSE not in first.output
    versions = versions_under(aws_ssm, "/wandb-deployer/demo")

    # When the file changes one value and is pushed again (the license stays in SSM)
    changed = Path(license_file.parent / "operator.yaml")
    changed.write_text((REPO / "examples" / "operator.yaml").read_text().replace("size: small", "size: medium"))
    second = runner.invoke(app, ["config", "push", str(changed), "--yes"])

    # Then only that parameter is written
    assert second.exit_code == 0, second.output
    assert "0 to add, 1 to change" in second.stdout
    assert "wrote 1 parameter(s)" in second.stdout
    after = versions_under(aws_ssm, "/wandb-deployer/demo")
    bumped = {name for name in after if after[name] != versions[name]}
    assert bumped == {"/wandb-deployer/demo/infra/size"}
    assert aws_ssm.get_parameter(Name="/wandb-deployer/demo/infra/size")["Parameter"]["Value"] == "medium"

    # And a third push has nothing to do
    third = runner.invoke(app, ["config", "push", str(changed), "--yes"])
    assert third.exit_code == 0
    assert "already matches" in third.stdout


def test_push_without_prune_keeps_parameters_not_in_the_file(
    runner: CliRunner, aws_ssm: Any, license_file: Path
) -> None:
    aws_ssm.put_parameter(Name="/wandb-deployer/demo/infra/extra_fqdn", Value="old.example.com", Type="StringList")
    result = runner.invoke(app, ["config", "push", OPERATOR, "--license-file", str(license_file), "--yes"])
    assert result.exit_code == 0, result.output
    assert "kept: not in the file" in result.stdout
    assert aws_ssm.get_parameter(Name="/wandb-deployer/demo/infra/extra_fqdn")

    pruned = runner.invoke(app, ["config", "push", OPERATOR, "--yes", "--prune"])
    assert pruned.exit_code == 0, pruned.output
    assert "deleted 1" in pruned.stdout
    names = set(versions_under(aws_ssm, "/wandb-deployer/demo"))
    assert "/wandb-deployer/demo/infra/extra_fqdn" not in names
    assert "/wandb-deployer/demo/infra/license" in names  # the license is never pruned when not given


def test_push_asks_for_confirmation(runner: CliRunner, aws_ssm: Any, license_file: Path) -> None:
    declined = runner.invoke(app, ["config", "push", OPERATOR, "--license-file", str(license_file)], input="n\n")
    assert declined.exit_code == 1
    assert "nothing written" in declined.stderr
    assert versions_under(aws_ssm, "/wandb-deployer/demo") == {}

    accepted = runner.invoke(app, ["config", "push", OPERATOR, "--license-file", str(license_file)], input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert aws_ssm.get_parameter(Name="/wandb-deployer/demo/infra/license")["Parameter"]["Type"] == "SecureString"


def test_push_reads_the_license_from_stdin(runner: CliRunner, aws_ssm: Any) -> None:
    result = runner.invoke(app, ["config", "push", LEGACY, "--license-stdin", "--yes"], input=LICENSE + "\n")
    assert result.exit_code == 0, result.output
    stored = aws_ssm.get_parameter(Name="/wandb-deployer/legacy-demo/app/license", WithDecryption=True)["Parameter"]
    assert (stored["Type"], stored["Value"]) == ("SecureString", LICENSE)
    assert LICENSE not in result.output


def test_push_needs_a_license_somewhere(runner: CliRunner, aws_ssm: Any) -> None:
    result = runner.invoke(app, ["config", "push", OPERATOR, "--yes"])
    assert result.exit_code == 2
    assert "infra/license: missing: pass --license-file PATH or --license-stdin" in result.stderr


def test_push_refuses_an_invalid_file_before_any_write(runner: CliRunner, aws_ssm: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text((REPO / "examples" / "operator.yaml").read_text().replace("wandb-demo", "Wandb_Demo"))
    result = runner.invoke(app, ["config", "push", str(path), "--license-stdin", "--yes"], input=LICENSE + "\n")
    assert result.exit_code == 2
    assert result.stderr.startswith("infra/namespace:")
    assert versions_under(aws_ssm, "/wandb-deployer") == {}


def test_push_with_another_deployment_name_and_prefix(runner: CliRunner, aws_ssm: Any, license_file: Path) -> None:
    result = runner.invoke(
        app,
        [
            "config",
            "push",
            OPERATOR,
            "--deployment",
            "prod",
            "--prefix",
            "/wbd-test",
            "--license-file",
            str(license_file),
            "-y",
        ],
    )
    assert result.exit_code == 0, result.output
    assert aws_ssm.get_parameter(Name="/wbd-test/prod/infra/namespace")["Parameter"]["Value"] == "wandb-demo"


def test_show_masks_secure_strings(runner: CliRunner, aws_ssm: Any, tmp_path: Path, license_file: Path) -> None:
    key_file = tmp_path / "api-key"
    key_file.write_text(API_KEY)
    pushed = runner.invoke(
        app, ["config", "push", OPERATOR, "--license-file", str(license_file), "--api-key-file", str(key_file), "-y"]
    )
    assert pushed.exit_code == 0, pushed.output

    result = runner.invoke(app, ["config", "show", "demo"])

    assert result.exit_code == 0, result.output
    assert "infra/license" in result.stdout
    assert "deployer/api_key" in result.stdout
    assert "********" in result.stdout
    assert "infra/size" in result.stdout and "small" in result.stdout
    for secret in (LICENSE, API_KEY, *LICENSE.split(".")):
        assert secret not in result.output


def test_show_an_unknown_deployment(runner: CliRunner, aws_ssm: Any) -> None:
    result = runner.invoke(app, ["config", "show", "nope"])
    assert result.exit_code == 2
    assert result.stderr.strip() == "deployment 'nope' not found under /wandb-deployer (known: none)"


def test_render_writes_the_workspace(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "workspace"
    result = runner.invoke(app, ["config", "render", OPERATOR, "--out", str(out), "--state-bucket", "my-state"])
    assert result.exit_code == 0, result.output
    assert (out / "terraform.tfvars.json").is_file()
    assert any(path.suffix == ".json" and path.name.endswith(".tf.json") for path in out.iterdir())
    assert "my-state" in "".join(p.read_text() for p in out.iterdir() if p.name.endswith(".tf.json"))
    assert "fingerprint" in result.stdout


def test_render_an_invalid_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("deployment: demo\ninfra:\n  nope: 1\n")
    result = runner.invoke(app, ["config", "render", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "infra/nope: unknown input" in result.stderr
    assert not (tmp_path / "out").exists()


def test_push_refuses_a_module_major_across_a_documented_transition(
    runner: CliRunner, aws_ssm: Any, license_file: Path, tmp_path: Path
) -> None:
    """SSM holds 7.18.2; a file at 8.0.0 would skip the v8 guide's runbook: refused, --force or not, nothing written."""
    text = (REPO / "examples" / "operator.yaml").read_text()
    old = tmp_path / "v7.yaml"
    old.write_text(
        text.replace('module_version: "8.0.0"', 'module_version: "7.18.2"').replace(
            "  kubernetes_legacy_cluster_creator_admin: false", "  # (not an input of 7.18.2)"
        )
    )
    first = runner.invoke(app, ["config", "push", str(old), "--license-file", str(license_file), "--yes"])
    assert first.exit_code == 0, first.output
    before = versions_under(aws_ssm, "/wandb-deployer/demo")

    for force in ([], ["--force"]):
        result = runner.invoke(app, ["config", "push", OPERATOR, "--license-file", str(license_file), "--yes", *force])
        assert result.exit_code == 2, result.output
        assert "crosses the v7-to-v8 transition" in result.stderr
        assert "wbd upgrade demo --module-version 8.0.0" in " ".join(result.stderr.split())
        assert versions_under(aws_ssm, "/wandb-deployer/demo") == before
