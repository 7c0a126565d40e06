"""Which changes count as destructive: losing data, identity or W&B itself, or changing access or retention."""

from __future__ import annotations

import pytest

from wandb_deployer.plan.destructive import access_controlled_by, change_action, data_held_by, is_destructive

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


@pytest.mark.parametrize(
    "resource_type",
    [
        "aws_sqs_queue",
        "helm_release",
        "kubernetes_namespace",
        "kubernetes_deployment_v1",
        "aws_acm_certificate",
        "aws_acm_certificate_validation",
        "aws_secretsmanager_secret",
        "aws_secretsmanager_secret_version",
    ],
)
def test_losing_the_queue_w_and_b_itself_its_certificate_or_a_secret_is_destructive(resource_type: str) -> None:
    # The security review's finding: these were missed.
    assert is_destructive(resource_type, "delete")
    assert is_destructive(resource_type, "replace")
    assert not is_destructive(resource_type, "update")
    assert not is_destructive(resource_type, "create")


@pytest.mark.parametrize(
    "resource_type",
    [
        "aws_iam_role",
        "aws_iam_role_policy",
        "aws_iam_policy",
        "aws_iam_role_policy_attachment",
        "aws_security_group",
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
        "aws_s3_bucket_policy",
        "aws_s3_bucket_public_access_block",
        "aws_s3_bucket_lifecycle_configuration",
        "aws_sqs_queue_policy",
        "aws_eks_access_entry",
    ],
)
def test_changing_access_or_retention_is_destructive_even_in_place(resource_type: str) -> None:
    assert access_controlled_by(resource_type)
    assert is_destructive(resource_type, "delete")
    assert is_destructive(resource_type, "replace")
    assert is_destructive(resource_type, "update")  # which attributes change is not known: assume access
    assert is_destructive(resource_type, "update", ["policy"])
    assert is_destructive(resource_type, "update", ["tags", "ingress"])
    assert not is_destructive(resource_type, "update", ["tags", "tags_all"])  # tags alone change no access
    assert not is_destructive(resource_type, "create")


@pytest.mark.parametrize(
    "resource_type", ["terraform_data", "aws_s3_bucket_notification", "aws_s3_bucket_cors_configuration", "aws_vpc"]
)
def test_resources_without_data_or_access_are_never_destructive(resource_type: str) -> None:
    assert data_held_by(resource_type) is None
    for action in ("create", "update", "delete", "replace"):
        assert not is_destructive(resource_type, action)  # type: ignore[arg-type]
