"""The release matrix: the newest patch of every minor release of both modules, and minimal valid configs for them."""

from __future__ import annotations

from typing import Any

from wandb_deployer.config.module_rules import is_operator_release
from wandb_deployer.contract import APP_MODULE, AWS_MODULE, ReleaseInterface, contract_for

TERRAFORM_VERSION = "1.10.5"
AWS = contract_for(AWS_MODULE)
APP = contract_for(APP_MODULE)
OPERATOR_RELEASES = [v for v in AWS.latest_patches() if is_operator_release(AWS.release(v))]
LEGACY_RELEASES = [v for v in AWS.latest_patches() if not is_operator_release(AWS.release(v))]
APP_RELEASES = APP.latest_patches()

# A value for every input that some release requires (the contract lists them: a new one fails the matrix here).
REQUIRED_SAMPLES: dict[str, Any] = {
    "namespace": "wandb",
    "domain_name": "example.com",
    "zone_id": "Z0123456789ABCDEFGHIJ",
    "allowed_inbound_cidr": ["203.0.113.0/24"],
    "allowed_inbound_ipv6_cidr": ["2001:db8::/32"],
    "eks_cluster_version": "1.29",
    "kubernetes_legacy_cluster_creator_admin": False,
    # 1.16.9-1.16.10: required, and "" means "encrypt with the module's own key" (modules/database/main.tf)
    "database_performance_insights_kms_key_arn": "",
}


def infra_for(release: ReleaseInterface) -> dict[str, Any]:
    infra = {}
    for variable in release.required():
        if variable.name == "license":
            continue
        if variable.name not in REQUIRED_SAMPLES:
            raise AssertionError(f"{release.version} requires {variable.name}: add a sample value to the matrix")
        infra[variable.name] = REQUIRED_SAMPLES[variable.name]
    if "subdomain" in release:
        infra["subdomain"] = "wandb"
    return infra


def operator_sections(version: str) -> dict[str, dict[str, Any]]:
    release = AWS.release(version)
    return {
        "deployer": {"generation": "operator", "module_version": version, "terraform_version": TERRAFORM_VERSION},
        "infra": infra_for(release),
    }


def legacy_sections(version: str, app_version: str) -> dict[str, dict[str, Any]]:
    release = AWS.release(version)
    infra = infra_for(release)
    if AWS.first_release_wiring("redis_connection_string") is not None and (
        release.example_app_wiring is None or "redis_connection_string" not in release.example_app_wiring
    ):
        infra["create_elasticache"] = False  # the release's own wiring passes no Redis to W&B
    return {
        "deployer": {
            "generation": "legacy",
            "module_version": version,
            "app_module_version": app_version,
            "terraform_version": TERRAFORM_VERSION,
        },
        "infra": infra,
        "app": {"wandb_version": "0.51.2"},
    }


def legacy_pairs() -> list[tuple[str, str]]:
    return [(aws, app) for aws in LEGACY_RELEASES for app in APP_RELEASES]
