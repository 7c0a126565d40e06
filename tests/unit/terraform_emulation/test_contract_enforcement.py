"""The emulation refuses what real Terraform refuses, with Terraform's own diagnostics, for each mistake the
module-contract review found (and each is refused by a real terraform binary too, where one is installed: the same
`Error:` summaries, against stub modules generated from the contract).

Each case takes a workspace our renderer makes for a release and changes it the way the old renderer got it wrong.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import real_terraform
from tests.unit.terraform_emulation.workspaces import TERRAFORM_VERSION, render_workspace

pytestmark = pytest.mark.unit

PLAN = ("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode")
Documents = dict[str, Any]


def _edit(directory: Path, name: str, change: Callable[[Documents], None]) -> None:
    path = directory / name
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def _old_aws_pin(document: Documents) -> None:
    document["terraform"]["required_providers"]["aws"]["version"] = "~> 5.0"  # what 4.x-7.x got before


def _cluster_name_output(document: Documents) -> None:
    document["output"]["cluster_name"]["value"] = "${module.wandb_infra.cluster_name}"  # 4.x has cluster_id


def _removed_argument(document: Documents) -> None:
    document["module"]["wandb_infra"]["kubernetes_node_count"] = "${var.namespace}"  # removed in 5.0.0


def _missing_required(document: Documents) -> None:
    del document["module"]["wandb_infra"]["zone_id"]


def _undeclared_variable(document: Documents) -> None:
    document["module"]["wandb_infra"]["subdomain"] = "${var.subdomian}"


# (release, file, change, the command that fails, Terraform's summary)
CASES = {
    "aws ~> 5.0 with 4.7.2": (
        "4.7.2",
        "terraform.tf.json",
        _old_aws_pin,
        "init",
        "Failed to query available provider packages",
    ),
    "aws ~> 5.0 with 7.18.2": (
        "7.18.2",
        "terraform.tf.json",
        _old_aws_pin,
        "init",
        "Failed to query available provider packages",
    ),
    "cluster_name on 4.24.0": ("4.24.0", "outputs.tf.json", _cluster_name_output, "plan", "Unsupported attribute"),
    "kubernetes_node_count on 7.18.2": (
        "7.18.2",
        "main.tf.json",
        _removed_argument,
        "plan",
        "Extraneous JSON object property",
    ),
    "zone_id missing on 8.0.0": ("8.0.0", "main.tf.json", _missing_required, "plan", "Missing required argument"),
    "undeclared variable": (
        "8.0.0",
        "main.tf.json",
        _undeclared_variable,
        "plan",
        "Reference to undeclared input variable",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_the_emulation_refuses_it_as_terraform_does(case: str, workspace: Path, terraform: Any) -> None:
    version, filename, change, command, summary = CASES[case]
    for path in workspace.iterdir():
        path.unlink()
    render_workspace(workspace, module_version=version)
    _edit(workspace, filename, change)

    init = terraform("init", "-input=false", "-no-color")
    result = init if command == "init" else terraform(*PLAN)

    assert result.code == 1, result.text
    assert f"Error: {summary}" in result.err
    if command == "plan":
        assert init.code == 0, init.text


def test_the_provider_conflict_names_both_constraints(workspace: Path, terraform: Any) -> None:
    for path in workspace.iterdir():
        path.unlink()
    render_workspace(workspace, module_version="4.7.2")
    _edit(workspace, "terraform.tf.json", _old_aws_pin)

    result = terraform("init", "-input=false", "-no-color")

    assert "Could not retrieve the list of available versions for provider hashicorp/aws: no available releases " in (
        result.err
    )
    assert "match the given constraints ~> 4.0, ~> 5.0" in result.err


def test_unknown_arguments_get_terraforms_did_you_mean(workspace: Path, terraform: Any) -> None:
    # hcl's nameSuggestion: only names within Levenshtein distance 2 are suggested (as real Terraform printed here)
    for path in workspace.iterdir():
        path.unlink()
    render_workspace(workspace, module_version="7.18.2")
    _edit(workspace, "main.tf.json", _removed_argument)
    _edit(workspace, "main.tf.json", lambda d: d["module"]["wandb_infra"].update(sizee="small"))
    assert terraform("init", "-input=false").code == 0

    result = terraform(*PLAN)

    assert 'No argument or block type is named "kubernetes_node_count".\n' in result.err
    assert 'No argument or block type is named "sizee". Did you mean "size"?' in result.err


def test_a_release_that_does_not_exist_fails_init(workspace: Path, terraform: Any) -> None:
    _edit(workspace, "main.tf.json", lambda d: d["module"]["wandb_infra"].update(version="9.9.9"))

    result = terraform("init", "-input=false", "-no-color")

    assert result.code == 1
    assert "Error: Unresolvable module version constraint" in result.err
    assert "The newest available version is 8.0.0." in result.err


def test_a_module_refusing_the_terraform_version_fails_init(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 6.x requires Terraform ~> 1.9 (its versions.tf); the root pins what CodeBuild installs
    for path in workspace.iterdir():
        path.unlink()
    render_workspace(workspace, module_version="6.1.0")
    _edit(workspace, "terraform.tf.json", lambda d: d["terraform"].update(required_version="= 1.8.5"))
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", "1.8.5")

    result = terraform("init", "-input=false", "-no-color")

    assert result.code == 1
    assert "Module module.wandb_infra (from wandb/wandb/aws) does not support Terraform version 1.8.5." in result.err


def test_the_root_pin_must_match_the_running_terraform(
    workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", "1.11.0")  # the workspace pins TERRAFORM_VERSION exactly

    result = terraform("init", "-input=false", "-no-color")

    assert result.code == 1
    assert "This configuration does not support Terraform version 1.11.0." in result.err
    assert TERRAFORM_VERSION != "1.11.0"


def _data_source_provider(document: Documents) -> None:
    """What the renderer did before: kubernetes/helm configured from a data source read by the cluster's name."""
    cluster = "data.aws_eks_cluster.wandb"
    document["data"] = {"aws_eks_cluster": {"wandb": {"name": "${module.wandb_infra.cluster_name}"}}}
    kubernetes = document["provider"]["kubernetes"]
    kubernetes["host"] = "${" + cluster + ".endpoint}"
    kubernetes["cluster_ca_certificate"] = "${base64decode(" + cluster + ".certificate_authority[0].data)}"
    document["provider"]["helm"] = {"kubernetes": kubernetes}


def test_on_8x_a_data_source_on_the_cluster_name_fails_the_first_plan(
    workspace: Path, terraform: Any, init_plan_apply: Any
) -> None:
    # 8.0.0's modules/app_eks/outputs.tf: the name is known at plan time under EKS module v20, so the data source is
    # read before the cluster exists ("couldn't find resource")
    _edit(workspace, "providers.tf.json", _data_source_provider)
    assert terraform("init", "-input=false").code == 0

    first = terraform(*PLAN)

    assert first.code == 1
    assert "Error: reading EKS Cluster (wandb): couldn't find resource" in first.err


def test_before_8x_the_data_source_is_deferred_and_plans(workspace: Path, terraform: Any) -> None:
    for path in workspace.iterdir():
        path.unlink()
    render_workspace(workspace, module_version="7.18.2")  # EKS module v17: the name is unknown until apply
    assert "data" in json.loads((workspace / "providers.tf.json").read_text())
    assert terraform("init", "-input=false").code == 0

    assert terraform(*PLAN).code == 2


def test_on_8x_the_rendered_providers_plan_a_fresh_install(workspace: Path, terraform: Any) -> None:
    assert "data" not in json.loads((workspace / "providers.tf.json").read_text())
    assert terraform("init", "-input=false").code == 0
    assert terraform(*PLAN).code == 2


# Real Terraform: the same mistakes get the same summaries (against stub modules generated from the contract).
REAL_CASES = [case for case in CASES if CASES[case][1] != "providers.tf.json"]


@pytest.fixture(scope="module")
def provider_mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if real_terraform.TERRAFORM is None:
        pytest.skip(real_terraform.SKIP_REASON)
    sources = {"hashicorp/aws", "hashicorp/kubernetes", "hashicorp/helm", "hashicorp/time", "hashicorp/null"}
    return real_terraform.fake_provider_mirror(tmp_path_factory.mktemp("providers") / "mirror", sources)


@pytest.mark.parametrize("case", REAL_CASES)
def test_real_terraform_refuses_it_with_the_same_summary(case: str, tmp_path: Path, provider_mirror: Path) -> None:
    version, filename, change, command, summary = CASES[case]
    rendered = tmp_path / "rendered"
    rendered.mkdir()
    render_workspace(rendered, module_version=version)
    _edit(rendered, filename, change)
    files = {path.name: path.read_bytes() for path in rendered.iterdir()}
    directory = tmp_path / command
    directory.mkdir()

    if command == "init":
        real_terraform.prepare(files, directory, mode="init")
        outcome = real_terraform.init(directory, provider_mirror)
    else:
        real_terraform.prepare(files, directory, mode="validate")
        outcome = real_terraform.validate(directory)

    assert outcome.code == 1
    assert outcome.summaries() == [summary], outcome.text[-2000:]
