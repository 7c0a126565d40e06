"""Synthetic `terraform show -json` documents for the plan summary tests."""

from __future__ import annotations

import json
from typing import Any

SECRET = "db-password-NEVER-IN-A-SUMMARY-8c1f"
LICENSE = "eyJhbGciOiJSUzI1NiJ9.license-NEVER-IN-A-SUMMARY.sig"


def resource_change(address: str, resource_type: str, actions: list[str], *, mode: str = "managed") -> dict[str, Any]:
    return {
        "address": address,
        "mode": mode,
        "type": resource_type,
        "name": address.rsplit(".", 1)[-1],
        "provider_name": "registry.terraform.io/hashicorp/aws",
        "change": {
            "actions": actions,
            "before": {"password": SECRET, "tags": {"note": 'quotes " and \\ backslashes }]'}},
            "after": {"password": SECRET, "license": LICENSE, "nested": [{"deep": ["[", "{"]}]},
            "after_unknown": {},
            "before_sensitive": {"password": True},
            "after_sensitive": {"password": True, "license": True},
        },
    }


def plan_document(changes: list[dict[str, Any]], *, drift: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A plan with every top-level section a real one has, around the given resource changes."""
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "variables": {"license": {"value": LICENSE}, "namespace": {"value": "wandb"}},
        "planned_values": {"root_module": {"resources": [{"address": "x", "values": {"password": SECRET}}]}},
        # Same shape as resource_changes, but drift is not a change this plan makes: it must not be counted.
        "resource_drift": drift
        or [resource_change("module.wandb.aws_db_instance.gone", "aws_db_instance", ["delete"])],
        "resource_changes": changes,
        "output_changes": {"url": {"actions": ["no-op"], "before": "https://w", "after": "https://w"}},
        "prior_state": {"values": {"root_module": {}}, "format_version": "1.0"},
        "configuration": {"root_module": {"variables": {"license": {"sensitive": True}}}},
        "relevant_attributes": [],
        "timestamp": "2026-01-01T00:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def plan_bytes(changes: list[dict[str, Any]], **kwargs: Any) -> bytes:
    return json.dumps(plan_document(changes, **kwargs), indent=1).encode()


MIXED = [
    resource_change("module.wandb.aws_s3_bucket.file_storage", "aws_s3_bucket", ["no-op"]),
    resource_change("data.aws_caller_identity.current", "aws_caller_identity", ["read"], mode="data"),
    resource_change("module.wandb.aws_sqs_queue.file_storage", "aws_sqs_queue", ["create"]),
    resource_change("module.wandb.aws_iam_role.node", "aws_iam_role", ["update"]),
    resource_change("module.wandb.aws_security_group.old", "aws_security_group", ["delete"]),
    resource_change("module.wandb.module.database.aws_rds_cluster.this", "aws_rds_cluster", ["delete", "create"]),
    resource_change(
        "module.wandb.module.app_eks.aws_eks_node_group.default", "aws_eks_node_group", ["create", "delete"]
    ),
    resource_change(
        "module.wandb.module.redis.aws_elasticache_replication_group.default",
        "aws_elasticache_replication_group",
        ["delete"],
    ),
    resource_change("module.wandb.aws_route53_record.wandb", "aws_route53_record", ["update"]),
    resource_change("module.wandb.aws_kms_key.key", "aws_kms_key", ["forget"]),
]
