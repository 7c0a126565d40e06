"""For the newest patch of every minor release of both modules: a minimal config validates, renders, and passes what
`terraform init` and `terraform plan` check (the emulation's contract checks, and a real terraform binary against
stub modules generated from the contract where one is installed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests import real_terraform
from tests.unit.contract.matrix import (
    APP,
    AWS,
    LEGACY_RELEASES,
    OPERATOR_RELEASES,
    legacy_pairs,
    legacy_sections,
    operator_sections,
)
from wandb_deployer.config.validation import validate_config
from wandb_deployer.contract import ReleaseInterface
from wandb_deployer.contract.constraints import intersect
from wandb_deployer.errors import InvalidConfigError
from wandb_deployer.workspace import render_workspace
from wbd.sandbox.terraform_emulation.configuration import check_init, check_plan

pytestmark = pytest.mark.unit

LICENSE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtYXRyaXgifQ.c2lnbmF0dXJl"
STATE_BUCKET = "wbd-state-matrix"


def _render(sections: dict[str, dict[str, Any]], directory: Path) -> dict[str, bytes]:
    config = validate_config("matrix", sections, license=LICENSE, values_are_strings=False)
    rendered = render_workspace(config, state_bucket=STATE_BUCKET)
    rendered.write_to(directory)
    return rendered.files


def _assert_follows_the_contract(files: dict[str, bytes], calls: dict[str, ReleaseInterface]) -> None:
    main = json.loads(files["main.tf.json"])["module"]
    for name, release in calls.items():
        arguments = {key for key in main[name] if key not in {"source", "version", "depends_on"}}
        assert arguments <= set(release.variables), (release.version, arguments - set(release.variables))
        assert {v.name for v in release.required()} <= arguments
    pinned = json.loads(files["terraform.tf.json"])["terraform"]["required_providers"]
    for provider, spec in pinned.items():
        constraints = [spec.get("version", "")] + [c for r in calls.values() for c in r.provider_constraints(provider)]
        assert not intersect([c for c in constraints if c]).empty, provider
    referenced = json.dumps([json.loads(files[name]) for name in ("outputs.tf.json", "providers.tf.json")])
    infra = calls["wandb_infra"]
    for output in {part.split("}")[0].split(")")[0] for part in referenced.split("module.wandb_infra.")[1:]}:
        assert infra.has_output(output), (infra.version, output)


def _emulation_checks(directory: Path, files: dict[str, bytes]) -> None:
    check_init(directory, "1.10.5")
    tfvars = json.loads(files["terraform.tfvars.json"])
    # A first install: the plan must not read a cluster that does not exist yet.
    check_plan(directory, tfvars, frozenset({"license"}), first_install=True)


@pytest.mark.parametrize("version", OPERATOR_RELEASES)
def test_operator_release(version: str, tmp_path: Path) -> None:
    files = _render(operator_sections(version), tmp_path)
    _assert_follows_the_contract(files, {"wandb_infra": AWS.release(version)})
    _emulation_checks(tmp_path, files)


@pytest.mark.parametrize(("version", "app_version"), legacy_pairs())
def test_legacy_pair(version: str, app_version: str, tmp_path: Path) -> None:
    sections = legacy_sections(version, app_version)
    try:
        files = _render(sections, tmp_path)
    except InvalidConfigError as exc:
        # Only a pair that cannot be wired as the aws release's own example does may be refused, and it must say so.
        assert all(line.startswith("deployer/app_module_version: ") for line in exc.problems), exc.problems
        example = AWS.release(version).example_app_wiring or {}
        missing = [
            name for name in example if name not in APP.release(app_version) and name not in {"source", "version"}
        ]
        assert missing and all(name in " ".join(exc.problems) for name in missing), exc.problems
        return
    _assert_follows_the_contract(files, {"wandb_infra": AWS.release(version), "wandb_app": APP.release(app_version)})
    _emulation_checks(tmp_path, files)


# Real Terraform (offline, stub modules from the contract): every operator minor, every legacy minor with the newest
# app module, and every app module minor with the newest legacy aws release.
REAL_CASES = [("operator", version, "") for version in OPERATOR_RELEASES]
REAL_CASES += [("legacy", version, APP.latest) for version in LEGACY_RELEASES]
REAL_CASES += [("legacy", LEGACY_RELEASES[-1], app_version) for app_version in APP.latest_patches()[:-1]]


@pytest.fixture(scope="session")
def provider_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if real_terraform.TERRAFORM is None:
        pytest.skip(real_terraform.SKIP_REASON)
    sources = {"hashicorp/aws", "hashicorp/kubernetes", "hashicorp/helm", "hashicorp/time", "hashicorp/null"}
    return real_terraform.fake_provider_mirror(tmp_path_factory.mktemp("providers") / "mirror", sources)


@pytest.mark.parametrize(("generation", "version", "app_version"), REAL_CASES)
def test_real_terraform_accepts_the_rendered_workspace(
    generation: str, version: str, app_version: str, tmp_path: Path, provider_mirror: Path
) -> None:
    sections = operator_sections(version) if generation == "operator" else legacy_sections(version, app_version)
    try:
        files = _render(sections, tmp_path / "rendered")
    except InvalidConfigError:
        pytest.skip("a pair the validator refuses (see test_legacy_pair)")
    for mode in ("init", "validate"):
        directory = tmp_path / mode
        directory.mkdir()
        real_terraform.prepare(files, directory, mode=mode)
        outcome = (
            real_terraform.init(directory, provider_mirror) if mode == "init" else real_terraform.validate(directory)
        )
        assert outcome.code == 0, outcome.text[-3000:]
