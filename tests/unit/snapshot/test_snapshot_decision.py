"""Which runs take a database snapshot before they apply: a version change against the config last applied, or a
plan that deletes or replaces the database; and of which cluster (the one the plan names as existing before it)."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from tests.unit.plan.plans import SECRET, plan_bytes, plan_document, resource_change
from wandb_deployer.config.model import DeployerSettings
from wandb_deployer.plan.snapshot_decision import (
    RISKY_VERSION_KEYS,
    DatabaseChange,
    decide_snapshot,
    snapshot_identifier,
    version_changes,
)
from wandb_deployer.plan.summary import summarise_plan_json
from wandb_deployer.terraform_build.planfiles import redact_plan

pytestmark = pytest.mark.unit

APPLIED = {
    "app/wandb_version": "0.61.0",
    "deployer/module_version": "7.4.0",
    "deployer/app_module_version": "1.15.0",
    "deployer/generation": "legacy",
    "infra/eks_cluster_version": "1.30",
    "infra/size": "small",
}
CLUSTER_ADDRESS = "module.wandb.module.database.module.aurora.aws_rds_cluster.this[0]"


@pytest.mark.parametrize("key", RISKY_VERSION_KEYS)
def test_each_version_change_is_risky(key: str) -> None:
    desired = {**APPLIED, key: "changed"}

    assert version_changes(APPLIED, desired) == [key]


def test_a_version_set_for_the_first_time_or_removed_is_a_change() -> None:
    applied = {k: v for k, v in APPLIED.items() if k != "infra/eks_cluster_version"}

    assert version_changes(applied, APPLIED) == ["infra/eks_cluster_version"]
    assert version_changes(APPLIED, applied) == ["infra/eks_cluster_version"]


def test_other_changes_and_a_first_install_are_not_version_changes() -> None:
    assert version_changes(APPLIED, {**APPLIED, "infra/size": "large"}) == []
    assert version_changes(APPLIED, dict(APPLIED)) == []
    assert version_changes(None, APPLIED) == []


@pytest.mark.parametrize("resource_type", ["aws_rds_cluster", "aws_rds_cluster_instance", "aws_db_instance"])
@pytest.mark.parametrize("action", ["delete", "replace"])
def test_deleting_or_replacing_the_database_is_risky(resource_type: str, action: str) -> None:
    change = DatabaseChange(address=f"module.wandb.{resource_type}.this", type=resource_type, action=action)

    decision = decide_snapshot(has_changes=True, version_keys=[], destructive=[change], clusters=["wandb"])

    assert decision.required
    assert decision.reasons == [f"{action} of module.wandb.{resource_type}.this"]
    assert decision.clusters == ["wandb"]


@pytest.mark.parametrize(
    ("resource_type", "action"),
    [
        ("aws_rds_cluster", "update"),
        ("aws_rds_cluster", "create"),
        ("aws_s3_bucket", "replace"),
        ("aws_kms_key", "delete"),
    ],
)
def test_other_changes_are_not_risky_for_the_database(resource_type: str, action: str) -> None:
    change = DatabaseChange(address=f"module.wandb.{resource_type}.this", type=resource_type, action=action)

    decision = decide_snapshot(has_changes=True, version_keys=[], destructive=[change], clusters=["wandb"])

    assert not decision.required
    assert decision.reasons == []


def test_a_version_change_with_a_cluster_is_snapshotted() -> None:
    decision = decide_snapshot(
        has_changes=True, version_keys=["app/wandb_version"], destructive=[], clusters=["wandb", "wandb"]
    )

    assert decision.required
    assert decision.reasons == ["app/wandb_version changes"]
    assert decision.clusters == ["wandb"]


def test_without_changes_or_without_an_existing_cluster_nothing_is_snapshotted() -> None:
    no_changes = decide_snapshot(has_changes=False, version_keys=["app/wandb_version"], destructive=[], clusters=["w"])
    no_cluster = decide_snapshot(has_changes=True, version_keys=["app/wandb_version"], destructive=[], clusters=[])

    assert not no_changes.required and no_changes.reasons == []
    assert not no_cluster.required and no_cluster.reasons == ["app/wandb_version changes"]


@pytest.mark.parametrize(
    ("deployment", "run", "expected"),
    [
        ("prod", "run-1", "wbd-prod-run-1"),
        ("Prod_EU", "manual--2026.11.29_", "wbd-prod-eu-manual-2026-11-29"),
        ("a", "x" * 300, ("wbd-a-" + "x" * 300)[:255]),
    ],
)
def test_snapshot_identifiers_are_ones_rds_accepts(deployment: str, run: str, expected: str) -> None:
    identifier = snapshot_identifier(deployment, run)

    assert identifier == expected
    assert len(identifier) <= 255 and identifier[0].isalpha() and "--" not in identifier
    assert not identifier.endswith("-")


def _cluster_change(actions: list[str], identifier: str | None) -> dict[str, Any]:
    change = resource_change(CLUSTER_ADDRESS, "aws_rds_cluster", actions)
    change["change"]["before"] = (
        None if identifier is None else {"cluster_identifier": identifier, "master_password": SECRET}
    )
    return change


def test_the_stored_plan_keeps_the_existing_cluster_identifier_and_no_other_value() -> None:
    document = plan_document([_cluster_change(["no-op"], "wandb"), _cluster_change(["create"], None)])

    redacted = redact_plan(document)

    assert redacted["resource_changes"][0]["change"]["cluster_identifier"] == "wandb"
    assert "cluster_identifier" not in redacted["resource_changes"][1]["change"]
    assert SECRET not in json.dumps(redacted)


@pytest.mark.parametrize("stored", [True, False], ids=["stored plan", "full plan"])
def test_the_summary_names_the_clusters_that_exist_before_the_plan(stored: bool) -> None:
    document = plan_document(
        [
            _cluster_change(["update"], "wandb"),
            resource_change("module.wandb.aws_s3_bucket.file_storage", "aws_s3_bucket", ["no-op"]),
        ]
    )
    body = json.dumps(redact_plan(document) if stored else document).encode()

    digest = summarise_plan_json(io.BytesIO(body))

    assert digest.database_clusters == ["wandb"]


def test_a_cluster_the_plan_creates_is_not_snapshotted() -> None:
    digest = summarise_plan_json(io.BytesIO(plan_bytes([_cluster_change(["create"], None)])))

    assert digest.database_clusters == []


def test_the_retention_is_a_validated_deployer_setting() -> None:
    assert DeployerSettings().snapshot_retention_days == 14
    assert DeployerSettings(snapshot_retention_days=30).snapshot_retention_days == 30
    with pytest.raises(ValueError, match="snapshot_retention_days"):
        DeployerSettings(snapshot_retention_days=0)
