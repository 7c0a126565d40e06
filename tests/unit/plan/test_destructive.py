"""Which changes count as destructive: deletes and replaces of resources that hold data or identity."""

from __future__ import annotations

import pytest

from wandb_deployer.plan.destructive import change_action, data_held_by, is_destructive

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["create"], "create"),
        (["update"], "update"),
        (["delete"], "delete"),
        (["delete", "create"], "replace"),
        (["create", "delete"], "replace"),
        (["no-op"], None),
        (["read"], None),
        (["forget"], None),
        ([], None),
    ],
)
def test_terraform_actions_map_to_one_kind_of_change(actions: list[str], expected: str | None) -> None:
    assert change_action(actions) == expected


@pytest.mark.parametrize(
    "resource_type",
    [
        "aws_rds_cluster",
        "aws_rds_cluster_instance",
        "aws_db_instance",
        "aws_s3_bucket",
        "aws_kms_key",
        "aws_eks_cluster",
        "aws_eks_node_group",
        "aws_efs_file_system",
        "aws_elasticache_replication_group",
        "aws_elasticache_cluster",
        "aws_route53_record",
    ],
)
def test_deleting_or_replacing_a_data_holding_resource_is_destructive(resource_type: str) -> None:
    assert data_held_by(resource_type)
    assert is_destructive(resource_type, "delete")
    assert is_destructive(resource_type, "replace")
    assert not is_destructive(resource_type, "update")
    assert not is_destructive(resource_type, "create")


@pytest.mark.parametrize("resource_type", ["aws_security_group", "aws_iam_role", "aws_sqs_queue", "helm_release"])
def test_resources_without_data_are_never_destructive(resource_type: str) -> None:
    assert data_held_by(resource_type) is None
    assert not is_destructive(resource_type, "delete")
