"""Rules on input values beyond their Terraform type: CIDRs, DNS names, Route53 zone ids, the namespace, sizes.

Each rule takes an already type-checked value and returns what is wrong with it (empty when nothing is). Values here are
never secrets (the license and API key are not inputs of these sections), so messages may quote them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from functools import partial

IPV4_CIDR_LISTS = frozenset(
    {
        "allowed_inbound_cidr",
        "allowed_private_endpoint_cidr",
        "kubernetes_public_access_cidrs",
        "network_private_subnet_cidrs",
        "network_public_subnet_cidrs",
        "network_database_subnet_cidrs",
        "network_elasticache_subnet_cidrs",
    }
)
IPV6_CIDR_LISTS = frozenset({"allowed_inbound_ipv6_cidr"})
IPV4_CIDRS = frozenset({"network_cidr"})
SIZES = ("small", "medium", "large", "xlarge", "xxlarge")
BUCKET_PERMISSIONS_MODES = ("strict", "restricted", "public")

# The module names its bucket and queue `<namespace>-file-storage-<random_pet>`: 14 characters of infix plus a pet name
# of about 20; S3 allows 63 characters in a bucket name.
NAMESPACE_MAX_LENGTH = 29
_NAMESPACE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
_DNS_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_ZONE_ID = re.compile(r"^Z[A-Z0-9]{1,32}$")
_EKS_VERSION = re.compile(r"^1\.\d{2}$")


def cidr_problem(text: str, version: int) -> str | None:
    """What is wrong with one CIDR of IP `version` (4 or 6), or None."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"{text!r} is not a CIDR block (for example {'10.0.0.0/16' if version == 4 else '2001:db8::/32'})"
    if network.version != version:
        return f"{text!r} is an IPv{network.version} CIDR where IPv{version} is expected"
    if "/" not in text:
        return f"{text!r} has no prefix length (write {network.with_prefixlen})"
    try:
        ipaddress.ip_network(text, strict=True)
    except ValueError:
        return f"{text!r} has host bits set (did you mean {network.with_prefixlen}?)"
    return None


def _cidr_list(version: int, value: object) -> list[str]:
    items = value if isinstance(value, list) else []
    found = [cidr_problem(item, version) for item in items if isinstance(item, str)]
    return [problem for problem in found if problem]


def _single_cidr(value: object) -> list[str]:
    problem = cidr_problem(value, 4) if isinstance(value, str) else None
    return [problem] if problem else []


def dns_name_problem(name: str, *, min_labels: int) -> str | None:
    """What is wrong with a DNS name (lowercase letters, digits, hyphens; labels of 1-63; at most 253), or None."""
    if len(name) > 253:
        return f"is {len(name)} characters; a DNS name has at most 253"
    labels = name.rstrip(".").split(".")
    bad = [label for label in labels if not _DNS_LABEL.fullmatch(label)]
    if bad:
        return (
            f"{name!r} is not a valid DNS name: label {bad[0]!r} must be 1-63 lowercase letters, digits or hyphens, "
            "not starting or ending with a hyphen"
        )
    if len(labels) < min_labels:
        return f"{name!r} is not a domain name (expected at least {min_labels} labels, for example example.com)"
    return None


def _domain_name(value: object) -> list[str]:
    problem = dns_name_problem(value, min_labels=2) if isinstance(value, str) else None
    return [problem] if problem else []


def _subdomain(value: object) -> list[str]:
    problem = dns_name_problem(value, min_labels=1) if isinstance(value, str) else None
    return [problem] if problem else []


def _zone_id(value: object) -> list[str]:
    if isinstance(value, str) and not _ZONE_ID.fullmatch(value):
        return [f"{value!r} is not a Route53 hosted zone id (Z followed by up to 32 uppercase letters or digits)"]
    return []


def _namespace(value: object) -> list[str]:
    if not isinstance(value, str):
        return []
    problems = []
    if not _NAMESPACE.fullmatch(value):
        problems.append(
            f"{value!r} must be lowercase letters, digits and hyphens, starting with a letter and ending with a "
            "letter or digit (it prefixes S3 bucket and other resource names)"
        )
    if len(value) > NAMESPACE_MAX_LENGTH:
        problems.append(
            f"is {len(value)} characters; at most {NAMESPACE_MAX_LENGTH} keep the bucket name "
            "<namespace>-file-storage-<random pet> within S3's 63"
        )
    if value.startswith(("xn--", "sthree-")):
        problems.append(f"{value!r} starts with a prefix S3 reserves (xn--, sthree-)")
    return problems


def _one_of(choices: tuple[str, ...], value: object) -> list[str]:
    if isinstance(value, str) and value not in choices:
        return [f"{value!r} is not one of {', '.join(choices)}"]
    return []


def _eks_cluster_version(value: object) -> list[str]:
    if isinstance(value, str) and not _EKS_VERSION.fullmatch(value):
        return [f"{value!r} is not an EKS version shaped 1.NN (for example 1.31)"]
    return []


# Rules that take a parameter are bound with `partial`, not built as closures: the rule's own code then runs at each
# check (and mutation testing, which swaps a function's code at call time, reaches it).
VALUE_RULES: Mapping[str, Callable[[object], list[str]]] = {
    **{name: partial(_cidr_list, 4) for name in IPV4_CIDR_LISTS},
    **{name: partial(_cidr_list, 6) for name in IPV6_CIDR_LISTS},
    **{name: _single_cidr for name in IPV4_CIDRS},
    "domain_name": _domain_name,
    "subdomain": _subdomain,
    "zone_id": _zone_id,
    "namespace": _namespace,
    "size": partial(_one_of, SIZES),
    "bucket_permissions_mode": partial(_one_of, BUCKET_PERMISSIONS_MODES),
    "eks_cluster_version": _eks_cluster_version,
}


def value_problems(name: str, value: object) -> list[str]:
    """Problems of one infra input's value (empty when it has no rule or passes)."""
    rule = VALUE_RULES.get(name)
    return rule(value) if rule else []


def infra_cross_problems(infra: Mapping[str, object]) -> list[tuple[str, str]]:
    """Rules across infra inputs, as (key, problem)."""
    problems: list[tuple[str, str]] = []
    if infra.get("external_dns") is True and not infra.get("subdomain"):
        problems.append(("external_dns", "true requires subdomain (external-dns manages <subdomain>.<domain_name>)"))
    domain, subdomain = infra.get("domain_name"), infra.get("subdomain")
    if isinstance(domain, str) and isinstance(subdomain, str) and len(f"{subdomain}.{domain}") > 253:
        problems.append(("subdomain", "with domain_name makes a host name longer than 253 characters"))
    return problems
