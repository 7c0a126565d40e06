"""The committed contract data: its invariants, the facts the module-contract issue found in the modules' sources,
and (where the modules' git repositories are at hand) that regenerating it changes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from wandb_deployer.contract import APP_MODULE, AWS_MODULE, CONTRACT_FILES, contract_data_directory, contract_for
from wandb_deployer.contract.constraints import parse_constraint
from wandb_deployer.contract.versions import parse_version

pytestmark = pytest.mark.unit

MODULES = (AWS_MODULE, APP_MODULE)
# Git checkouts of the modules, named by the maintainer (`make contract-check` sets them; reading 207 tags takes
# minutes).
MIRRORS = {
    AWS_MODULE: os.environ.get("WBD_AWS_MODULE_REPO", ""),
    APP_MODULE: os.environ.get("WBD_KUBERNETES_MODULE_REPO", ""),
}


def _document(module: str) -> dict:
    return json.loads((contract_data_directory() / CONTRACT_FILES[module]).read_text())


@pytest.mark.parametrize("module", MODULES)
def test_releases_are_unique_sorted_and_pinned_to_commits(module: str) -> None:
    releases = _document(module)["releases"]
    versions = [parse_version(version) for version, _commit in releases]
    assert versions == sorted(set(versions))
    assert all(len(commit) == 40 and int(commit, 16) >= 0 for _version, commit in releases)


@pytest.mark.parametrize("module", MODULES)
def test_runs_are_in_bounds_ordered_and_never_overlap(module: str) -> None:
    document = _document(module)
    count = len(document["releases"])
    facts = [
        document[kind] for kind in ("variables", "outputs", "required_version", "required_providers", "module_calls")
    ]
    runs_by_key = [runs for fact in facts for runs in fact.values()]
    runs_by_key.append(document.get("example_app_wiring", []))
    for runs in runs_by_key:
        previous_last = -1
        for first, last, value in runs:
            assert previous_last < first <= last < count
            assert value is not None
            previous_last = last


@pytest.mark.parametrize("module", MODULES)
def test_every_release_unfolds_into_a_consistent_interface(module: str) -> None:
    contract = contract_for(module)
    for version in contract.releases:
        release = contract.release(version)
        assert release.version == version
        assert "namespace" in release.variables or module == APP_MODULE
        assert release.required_version, version
        for variable in release.variables.values():
            assert variable.required == ("default" not in _raw_variable(module, variable.name, version))
        for requirement in release.required_providers:
            if requirement.version:
                parse_constraint(requirement.version)  # every constraint is one Terraform accepts
        for constraint in release.required_version.values():
            parse_constraint(constraint, "core")


def _raw_variable(module: str, name: str, version: str) -> dict:
    contract = contract_for(module)
    index = contract.releases.index(version)
    for first, last, value in _document(module)["variables"][name]:
        if first <= index <= last:
            return dict(value)
    raise AssertionError(f"{name} not at {version}")


def test_releases_covered() -> None:
    aws, app = contract_for(AWS_MODULE), contract_for(APP_MODULE)
    assert (aws.releases[0], aws.latest, len(aws.releases)) == ("1.0.0", "8.0.0", 180)
    assert (app.releases[0], app.latest, len(app.releases)) == ("1.0.0", "1.14.1", 27)


@pytest.mark.parametrize(
    ("first", "last", "constraint"),
    [("1.0.0", "1.16.10", "~> 3.60"), ("2.0.0", "7.18.2", "~> 4.0"), ("8.0.0", "8.0.0", "~> 5.95")],
)
def test_aws_provider_constraint_of_the_root_module(first: str, last: str, constraint: str) -> None:
    # The module-contract issue's first finding, from versions.tf at every tag
    contract = contract_for(AWS_MODULE)
    for version in contract.releases_between(first, last):
        roots = [
            r.version for r in contract.release(version).required_providers if r.directory == "." and r.name == "aws"
        ]
        assert roots == [constraint], version


def test_cluster_output_is_cluster_id_before_5_and_cluster_name_from_5() -> None:
    contract = contract_for(AWS_MODULE)
    assert contract.lifetime("cluster_id", "outputs") == [("1.0.0", "4.24.0")]
    assert contract.lifetime("cluster_name", "outputs") == [("5.0.0", "8.0.0")]
    assert contract.lifetime("cluster_endpoint", "outputs") == [("8.0.0", "8.0.0")]


def test_node_inputs_at_7_18_2_and_app_inputs_at_1_14_1() -> None:
    aws = contract_for(AWS_MODULE).release("7.18.2")
    assert "kubernetes_min_nodes_per_az" in aws and "kubernetes_node_count" not in aws
    app = contract_for(APP_MODULE).release("1.14.1")
    assert len(app.variables) == 43 and "wandb_replicas" in app
    assert [v.name for v in app.required()] == [
        "bucket",
        "bucket_queue",
        "database_connection_string",
        "host",
        "license",
    ]


def test_required_without_default_is_known() -> None:
    # e.g. v1.x database_performance_insights_kms_key_arn: required, so "omit it" is not an option there
    v1 = contract_for(AWS_MODULE).release("1.16.10")
    assert v1.variables["database_performance_insights_kms_key_arn"].required


def test_8_0_0_requires_the_creator_admin_flag_and_eks_v20() -> None:
    release = contract_for(AWS_MODULE).release("8.0.0")
    assert release.variables["kubernetes_legacy_cluster_creator_admin"].required
    eks = [call for call in release.module_calls if call.source == "terraform-aws-modules/eks/aws"]
    assert [call.version for call in eks] == ["~> 20.37"]


@pytest.mark.parametrize("module", MODULES)
def test_the_data_is_small(module: str) -> None:
    size = (contract_data_directory() / CONTRACT_FILES[module]).stat().st_size
    assert size < 128 * 1024  # it ships in the Lambda layer; measured sizes are in the README


def test_regenerating_from_the_modules_sources_changes_nothing() -> None:
    if not all(MIRRORS.values()):
        pytest.skip(
            "needs git checkouts of wandb/terraform-aws-wandb and wandb/terraform-kubernetes-wandb: "
            "`make contract-check AWS_MODULE_REPO=... KUBERNETES_MODULE_REPO=...`"
        )
    pytest.importorskip("hcl2")
    from wbd.module_contract.__main__ import generate

    for module, checkout in MIRRORS.items():
        committed = (contract_data_directory() / CONTRACT_FILES[module]).read_text()
        assert generate(module, Path(checkout)) == committed, f"{module}: run `make contract` and commit the result"
