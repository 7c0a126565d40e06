"""The contract generator on a small git repository made here: tags, HCL reading, runs, and the layer's unfolding."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from wandb_deployer.contract.interface import ModuleContract, UnknownReleaseError
from wbd.module_contract.build import build_contract, encode_contract
from wbd.module_contract.git_tags import GitReadError, files_at, release_tags
from wbd.module_contract.hcl_interface import HclReadError, read_release

pytestmark = pytest.mark.unit

VERSIONS_V1 = """
terraform {
  required_version = "~> 1.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 4.0"
    }
  }
}
"""
VARIABLES_V1 = """
variable "namespace" {
  type        = string
  description = "String used for prefix resources."
}
variable "node_count" {
  type    = number
  default = 2
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "snapshot" {
  type    = string
  default = null
}
"""
VARIABLES_V2 = """
variable "namespace" {
  type     = string
  nullable = false
}
variable "min_nodes_per_az" {
  type    = number
  default = null
}
variable "tags" {
  type    = map(string)
  default = {}
}
variable "secret" {
  type      = string
  sensitive = true
}
variable "roles" {
  type    = list(object({ rolearn = string, groups = list(string) }))
  default = []
}
"""
OUTPUTS_V1 = 'output "cluster_id" {\n  value = "c"\n}\noutput "url" {\n  value = "u"\n}\n'
OUTPUTS_V2 = 'output "cluster_name" {\n  value = "c"\n}\noutput "url" {\n  value = "u"\n}\n'
SUBMODULE = """
terraform {
  required_version = "~> 1.0"
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 3.60" }
  }
}
module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 17.23"
}
module "local" {
  source = "./inner"
}
"""
EXAMPLE = """
module "wandb_infra" {
  source = "../../"
}
module "wandb_app" {
  source     = "wandb/wandb/kubernetes"
  version    = "1.12.0"
  license    = var.wandb_license
  host       = module.wandb_infra.url
  bucket     = "s3://${module.wandb_infra.bucket_name}"
  depends_on = [module.wandb_infra]
}
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def _commit(repo: Path, files: dict[str, str], tag: str) -> None:
    for path in repo.rglob("*.tf"):
        path.unlink()
    for relative, text in files.items():
        path = repo / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", tag, "--allow-empty")
    _git(repo, "tag", tag)


@pytest.fixture
def module_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "module"
    repo.mkdir()
    _git(repo, "init", "-q")
    v1 = {
        "versions.tf": VERSIONS_V1,
        "variables.tf": VARIABLES_V1,
        "outputs.tf": OUTPUTS_V1,
        "modules/app/main.tf": SUBMODULE,
    }
    v1["examples/public-dns-external/main.tf"] = EXAMPLE
    v1["docs/migration/main.tf"] = 'variable "not_the_module" {\n  type = string\n}\n'
    _commit(repo, v1, "v1.0.0")
    _commit(repo, v1, "v1.0.1")
    v2 = {
        "versions.tf": VERSIONS_V1.replace("~> 4.0", "~> 5.95"),
        "variables.tf": VARIABLES_V2,
        "outputs.tf": OUTPUTS_V2,
    }
    _commit(repo, v2, "v2.0.0")
    _commit(repo, v2, "v10.0.0")  # numeric order, not text order
    _commit(repo, v2, "v2.1.0-rc1")  # not a release
    _commit(repo, v2, "latest")  # not a release
    return repo


def _contract(repo: Path) -> ModuleContract:
    releases = release_tags(repo)
    interfaces = [read_release(files_at(repo, release.commit)) for release in releases]
    text = encode_contract(build_contract("test/module/aws", "https://example.com/repo", releases, interfaces))
    return ModuleContract(json.loads(text))


def test_only_release_tags_in_version_order(module_repo: Path) -> None:
    assert [release.version for release in release_tags(module_repo)] == ["1.0.0", "1.0.1", "2.0.0", "10.0.0"]


def test_variables_as_terraform_sees_them(module_repo: Path) -> None:
    contract = _contract(module_repo)
    v1 = contract.release("1.0.0")
    assert v1.variables["namespace"].required and v1.variables["namespace"].type == "string"
    assert v1.variables["namespace"].description == "String used for prefix resources."
    assert not v1.variables["node_count"].required and v1.variables["node_count"].default == 2
    assert not v1.variables["snapshot"].required and v1.variables["snapshot"].default is None  # `default = null`
    assert v1.variables["tags"].type == "map(string)"
    assert "not_the_module" not in v1  # docs/ is not the module
    v2 = contract.release("2.0.0")
    assert not v2.variables["namespace"].nullable
    assert v2.variables["secret"].sensitive and v2.variables["secret"].required
    assert v2.variables["roles"].type == "list(object({rolearn = string, groups = list(string)}))"
    assert [variable.name for variable in v2.sensitive()] == ["secret"]


def test_lifetimes_come_from_the_runs(module_repo: Path) -> None:
    contract = _contract(module_repo)
    assert contract.lifetime("node_count") == [("1.0.0", "1.0.1")]
    assert contract.describe_lifetime("node_count") == "an input of test/module/aws 1.0.0 - 1.0.1 (removed in 2.0.0)"
    assert contract.describe_lifetime("min_nodes_per_az") == "an input of test/module/aws from 2.0.0"
    assert contract.describe_lifetime("tags") == "an input of test/module/aws in every release"
    assert contract.describe_lifetime("nope") == "never an input of any test/module/aws release (1.0.0 - 10.0.0)"
    assert contract.describe_lifetime("cluster_id", "outputs") == (
        "an output of test/module/aws 1.0.0 - 1.0.1 (removed in 2.0.0)"
    )


def test_outputs_providers_and_module_calls_per_release(module_repo: Path) -> None:
    contract = _contract(module_repo)
    v1, v2 = contract.release("1.0.1"), contract.release("2.0.0")
    assert set(v1.outputs) == {"cluster_id", "url"} and set(v2.outputs) == {"cluster_name", "url"}
    assert v1.required_version == {".": "~> 1.0", "modules/app": "~> 1.0"}
    assert v1.provider_constraints("aws") == ["~> 4.0", "~> 3.60"]  # root, then the submodule
    assert v2.provider_constraints("aws") == ["~> 5.95"]
    assert [(call.directory, call.name, call.source, call.version) for call in v1.module_calls] == [
        ("modules/app", "eks", "terraform-aws-modules/eks/aws", "~> 17.23")  # local sources are not calls
    ]
    assert v1.example_app_wiring == {
        "bucket": "s3://${module.wandb_infra.bucket_name}",
        "host": "${module.wandb_infra.url}",
        "license": "${var.wandb_license}",
        "source": "wandb/wandb/kubernetes",
        "version": "1.12.0",
    }
    assert v2.example_app_wiring is None


def test_unknown_release_names_the_nearest(module_repo: Path) -> None:
    contract = _contract(module_repo)
    with pytest.raises(UnknownReleaseError) as caught:
        contract.release("2.0.5")
    assert caught.value.nearest == ["2.0.0", "10.0.0", "1.0.1"]
    assert str(caught.value) == "2.0.5 is not a release of test/module/aws (nearest: 2.0.0, 10.0.0, 1.0.1)"


def test_encoding_is_deterministic_and_one_line_per_fact(module_repo: Path) -> None:
    releases = release_tags(module_repo)
    interfaces = [read_release(files_at(module_repo, release.commit)) for release in releases]
    first = encode_contract(build_contract("m", "r", releases, interfaces))
    second = encode_contract(build_contract("m", "r", releases, list(interfaces)))
    assert first == second
    assert (
        '    "node_count": [[0,1,{"default":2,"nullable":true,"required":false,"sensitive":false,"type":"number"}]],'
        in (first.splitlines())
    )


def test_unparseable_hcl_names_the_file() -> None:
    with pytest.raises(HclReadError, match=r"variables\.tf: not parseable as HCL"):
        read_release({"variables.tf": 'variable "x" {\n  type = \n'})


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(GitReadError):
        release_tags(tmp_path)
