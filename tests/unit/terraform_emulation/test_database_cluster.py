"""The emulation's Aurora cluster (opt-in, database.py): at the module's address with `<namespace>` as identifier,
created in the emulator by apply, no-op when unchanged, replaced when the namespace changes, and deleted outside
Terraform it is planned again; the plan's summary names the existing cluster (what the deployer snapshots)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.terraform_emulation.test_eks_shape import PLAN, apply, render
from wandb_deployer.plan.summary import summarise_plan_json
from wbd.sandbox.terraform_emulation.database import ENABLE_VARIABLE
from wbd.sandbox.terraform_emulation.environment import clear_caches

pytestmark = pytest.mark.unit

CLUSTER = "module.wandb_infra.module.database.module.aurora.aws_rds_cluster.this[0]"


@pytest.fixture
def database_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    clear_caches()
    yield workspace
    clear_caches()


def planned(terraform: Any) -> tuple[dict[str, Any], list[str]]:
    assert terraform("init", "-input=false", "-no-color").code == 0
    result = terraform(*PLAN)
    assert result.code in (0, 2), result.text
    shown = terraform("show", "-json", "tfplan").out
    (cluster,) = [c for c in json.loads(shown)["resource_changes"] if c["type"] == "aws_rds_cluster"]
    return cluster, summarise_plan_json(io.BytesIO(shown.encode())).database_clusters


def clusters() -> list[str]:
    return [c["DBClusterIdentifier"] for c in boto3.client("rds", "us-east-1").describe_db_clusters()["DBClusters"]]


def test_the_cluster_is_created_then_left_as_it_is_and_named_in_the_summary(
    database_workspace: Path, terraform: Any
) -> None:
    render(database_workspace, "7.18.2")
    first, existing = planned(terraform)
    assert (first["address"], first["change"]["actions"], existing) == (CLUSTER, ["create"], [])
    apply(terraform)
    assert clusters() == ["wandb"]

    again, existing = planned(terraform)

    assert again["change"]["actions"] == ["no-op"]
    assert again["change"]["before"]["cluster_identifier"] == "wandb"
    assert existing == ["wandb"]


def test_a_new_namespace_replaces_the_cluster(database_workspace: Path, terraform: Any) -> None:
    render(database_workspace, "7.18.2")
    planned(terraform)
    apply(terraform)
    render(database_workspace, "7.18.2", namespace="wandb-blue")

    change, existing = planned(terraform)

    assert change["change"]["actions"] == ["delete", "create"]
    assert change["change"]["replace_paths"] == [["cluster_identifier"]]
    assert existing == ["wandb"]


def test_a_cluster_deleted_outside_terraform_is_created_again(database_workspace: Path, terraform: Any) -> None:
    render(database_workspace, "7.18.2")
    planned(terraform)
    apply(terraform)
    boto3.client("rds", "us-east-1").delete_db_cluster(DBClusterIdentifier="wandb", SkipFinalSnapshot=True)

    change, existing = planned(terraform)

    assert (change["change"]["actions"], existing) == (["create"], [])


def test_without_the_opt_in_there_is_no_cluster(workspace: Path, terraform: Any) -> None:
    render(workspace, "7.18.2")
    assert terraform("init", "-input=false", "-no-color").code == 0
    assert terraform(*PLAN).code in (0, 2)
    shown = json.loads(terraform("show", "-json", "tfplan").out)
    assert not [c for c in shown["resource_changes"] if c["type"] == "aws_rds_cluster"]
