"""Samples of the config tests: valid sections of both generations and secret-shaped values."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

PREFIX = "/wandb-deployer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# A valid-shaped (compact JWS) fake license with a marker that must never show up anywhere.
LICENSE = ".".join(
    [
        _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode()),
        _b64url(json.dumps({"sub": "acme-LICENSEMARKER", "seats": 10}).encode()),
        _b64url(b"signature-bytes-LICENSEMARKER-" + bytes(range(32))),
    ]
)
# An invalid, hostile license: not a JWS, full of syntax that could be interpreted somewhere on its way.
HOSTILE_LICENSE = 'HOSTILE-LICENSE ${file("/etc/passwd")} [red]markup[/red] %{ for x in y } \'"\\ line\nbreak'
API_KEY = "local-APIKEYMARKER-0123456789abcdef0123456789"

OPERATOR_SECTIONS: dict[str, dict[str, Any]] = {
    "deployer": {"generation": "operator", "module_version": "8.0.0", "terraform_version": "1.10.5"},
    "infra": {
        "namespace": "wandb-demo",
        "domain_name": "example.com",
        "zone_id": "Z0123456789ABCDEFGHIJ",
        "subdomain": "wandb",
        "allowed_inbound_cidr": ["203.0.113.0/24"],
        "allowed_inbound_ipv6_cidr": ["2001:db8::/32"],
        "eks_cluster_version": "1.33",
        "kubernetes_legacy_cluster_creator_admin": False,
    },
}

LEGACY_SECTIONS: dict[str, dict[str, Any]] = {
    "deployer": {
        "generation": "legacy",
        "module_version": "2.8.0",
        "app_module_version": "1.14.1",
        "terraform_version": "1.10.5",
    },
    "infra": {
        "namespace": "wandb",
        "domain_name": "example.com",
        "zone_id": "Z0123456789ABCDEFGHIJ",
        "subdomain": "wandb-aws",
        "allowed_inbound_cidr": ["203.0.113.0/24"],
        "allowed_inbound_ipv6_cidr": ["2001:db8::/32"],
        "eks_cluster_version": "1.29",
    },
    "app": {"wandb_version": "0.51.2"},
}


def operator_sections() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(OPERATOR_SECTIONS)


def legacy_sections() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(LEGACY_SECTIONS)
