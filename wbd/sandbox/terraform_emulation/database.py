"""Opt-in (`WBD_SANDBOX_EMULATE_DATABASE=1`, both generations): the W&B module's Aurora cluster, in state, in plans and
in the AWS emulator, so that the deployer can snapshot it before a risky apply. An emulation: one attribute set, no
instances, parameter groups or subnets.

Where it comes from, in the W&B module at every release (v1.x to v8.0.0): main.tf calls `module "database"`
(`./modules/database`), which calls `terraform-aws-modules/rds-aurora/aws` as `module "aurora"` with
`name = var.namespace` (6.2.0 up to 1.x, 7.7.1 since 2.0.0); rds-aurora declares `resource "aws_rds_cluster" "this"`
with `count = local.create_cluster ? 1 : 0` and `cluster_identifier = var.name` (7.7.1: unless
`cluster_use_name_prefix`, default false, which the W&B module does not set). Hence the address
`module.<wandb>.module.database.module.aurora.aws_rds_cluster.this[0]` and the identifier `<namespace>`; a change of
`cluster_identifier` replaces the cluster (ForceNew in the AWS provider).
"""

from __future__ import annotations

import secrets
from typing import Any

from botocore.exceptions import ClientError

from wbd.sandbox.terraform_emulation.environment import emulator_client
from wbd.sandbox.terraform_emulation.file_storage import module_prefix
from wbd.sandbox.terraform_emulation.state import ResourceRecord
from wbd.sandbox.terraform_emulation.workspace import Workspace

ENABLE_VARIABLE = "WBD_SANDBOX_EMULATE_DATABASE"
CLUSTER = "aws_rds_cluster"
CLUSTER_NAME = "this[0]"
ENGINE = "aurora-mysql"
FORCE_NEW = {CLUSTER: "cluster_identifier"}
GONE_CODES = frozenset({"DBClusterNotFoundFault"})
_MASTER_USERNAME = "wandb"


def cluster_address(workspace: Workspace) -> str:
    return f"{module_prefix(workspace)}.module.database.module.aurora.{CLUSTER}.{CLUSTER_NAME}"


def desired_database(workspace: Workspace) -> list[ResourceRecord]:
    identifier = workspace.inputs.namespace
    return [
        ResourceRecord(
            module=f"{module_prefix(workspace)}.module.database.module.aurora",
            type=CLUSTER,
            name=CLUSTER_NAME,
            attributes={"id": identifier, "cluster_identifier": identifier, "engine": ENGINE},
        )
    ]


def read_cluster(attributes: dict[str, Any], region: str) -> dict[str, Any] | None:
    try:
        found = emulator_client("rds", region).describe_db_clusters(
            DBClusterIdentifier=attributes["cluster_identifier"]
        )
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code", "")) in GONE_CODES:
            return None
        raise
    cluster = found["DBClusters"][0]
    identifier = cluster["DBClusterIdentifier"]
    return {"id": identifier, "cluster_identifier": identifier, "engine": cluster["Engine"]}


def put_cluster(attributes: dict[str, Any], region: str) -> None:
    if read_cluster(attributes, region) is not None:
        return
    emulator_client("rds", region).create_db_cluster(
        DBClusterIdentifier=attributes["cluster_identifier"],
        Engine=attributes["engine"],
        MasterUsername=_MASTER_USERNAME,
        MasterUserPassword=secrets.token_urlsafe(24),  # moto wants one; never kept, the emulated cluster holds nothing
    )


def delete_cluster(attributes: dict[str, Any], region: str) -> None:
    emulator_client("rds", region).delete_db_cluster(
        DBClusterIdentifier=attributes["cluster_identifier"], SkipFinalSnapshot=True
    )
