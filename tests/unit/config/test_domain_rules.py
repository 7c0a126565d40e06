"""The domain rules on input values, each message whole and each limit at its edge (the length limits are S3's and
DNS's: 63 characters in a bucket name, labels of 1-63 and names of at most 253)."""

from __future__ import annotations

import pytest

from wandb_deployer.config.domain_rules import (
    NAMESPACE_MAX_LENGTH,
    cidr_problem,
    dns_name_problem,
    infra_cross_problems,
    value_problems,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "version", "problem"),
    [
        ("10.0.0.0/16", 4, None),
        ("2001:db8::/32", 6, None),
        ("10.0.0.0/33", 4, "'10.0.0.0/33' is not a CIDR block (for example 10.0.0.0/16)"),
        ("nope", 6, "'nope' is not a CIDR block (for example 2001:db8::/32)"),
        ("::/0", 4, "'::/0' is an IPv6 CIDR where IPv4 is expected"),
        ("10.0.0.0/8", 6, "'10.0.0.0/8' is an IPv4 CIDR where IPv6 is expected"),
        ("10.1.2.3", 4, "'10.1.2.3' has no prefix length (write 10.1.2.3/32)"),
        ("10.1.2.3/8", 4, "'10.1.2.3/8' has host bits set (did you mean 10.0.0.0/8?)"),
    ],
)
def test_cidr_problem(text: str, version: int, problem: str | None) -> None:
    assert cidr_problem(text, version) == problem


def test_cidr_lists_report_each_bad_entry_and_ignore_non_strings() -> None:
    assert value_problems("allowed_inbound_cidr", ["10.0.0.0/8", "x", 3, "10.0.0.1/8"]) == [
        "'x' is not a CIDR block (for example 10.0.0.0/16)",
        "'10.0.0.1/8' has host bits set (did you mean 10.0.0.0/8?)",
    ]
    assert value_problems("allowed_inbound_ipv6_cidr", ["0.0.0.0/0"]) == [
        "'0.0.0.0/0' is an IPv4 CIDR where IPv6 is expected"
    ]
    assert value_problems("allowed_inbound_cidr", "10.0.0.0/8") == []  # not a list: the type check reports it
    assert value_problems("network_cidr", "10.0.0.1/16") == [
        "'10.0.0.1/16' has host bits set (did you mean 10.0.0.0/16?)"
    ]
    assert value_problems("network_cidr", 7) == []


@pytest.mark.parametrize(
    ("name", "labels", "problem"),
    [
        ("example.com", 2, None),
        ("example.com.", 2, None),
        ("wandb", 1, None),
        ("a" * 63 + ".com", 2, None),
        (
            "a" * 64 + ".com",
            2,
            f"'{'a' * 64}.com' is not a valid DNS name: label '{'a' * 64}' must be 1-63 lowercase "
            "letters, digits or hyphens, not starting or ending with a hyphen",
        ),
        (
            "wandb-.com",
            2,
            "'wandb-.com' is not a valid DNS name: label 'wandb-' must be 1-63 lowercase letters, digits "
            "or hyphens, not starting or ending with a hyphen",
        ),
        (
            "a..com",
            2,
            "'a..com' is not a valid DNS name: label '' must be 1-63 lowercase letters, digits or hyphens, "
            "not starting or ending with a hyphen",
        ),
        ("localhost", 2, "'localhost' is not a domain name (expected at least 2 labels, for example example.com)"),
        (
            "wandb.example.X",  # only the final dot is dropped: the last label stays and is checked
            2,
            "'wandb.example.X' is not a valid DNS name: label 'X' must be 1-63 lowercase letters, digits or "
            "hyphens, not starting or ending with a hyphen",
        ),
    ],
)
def test_dns_name_problem(name: str, labels: int, problem: str | None) -> None:
    assert dns_name_problem(name, min_labels=labels) == problem


def test_a_dns_name_is_at_most_253_characters() -> None:
    at_limit = ".".join(["a" * 63] * 3 + ["b" * 61])
    assert len(at_limit) == 253 and dns_name_problem(at_limit, min_labels=2) is None
    assert dns_name_problem(at_limit + "b", min_labels=2) == "is 254 characters; a DNS name has at most 253"


@pytest.mark.parametrize(
    ("value", "problems"),
    [
        ("a" * NAMESPACE_MAX_LENGTH, []),
        ("w1", []),
        (
            "a" * (NAMESPACE_MAX_LENGTH + 1),
            ["is 30 characters; at most 29 keep the bucket name <namespace>-file-storage-<random pet> within S3's 63"],
        ),
        (
            "w",
            [
                "'w' must be lowercase letters, digits and hyphens, starting with a letter and ending with a letter or "
                "digit (it prefixes S3 bucket and other resource names)"
            ],
        ),
        ("xn--wandb", ["'xn--wandb' starts with a prefix S3 reserves (xn--, sthree-)"]),
        ("sthree-wandb", ["'sthree-wandb' starts with a prefix S3 reserves (xn--, sthree-)"]),
        (5, []),
    ],
)
def test_namespace(value: object, problems: list[str]) -> None:
    assert value_problems("namespace", value) == problems


@pytest.mark.parametrize(
    ("name", "value", "problems"),
    [
        ("zone_id", "Z" + "A" * 32, []),
        (
            "zone_id",
            "Z" + "A" * 33,
            [f"'Z{'A' * 33}' is not a Route53 hosted zone id (Z followed by up to 32 uppercase letters or digits)"],
        ),
        ("zone_id", 5, []),
        ("size", "large", []),
        ("size", "LARGE", ["'LARGE' is not one of small, medium, large, xlarge, xxlarge"]),
        ("bucket_permissions_mode", "public", []),
        ("bucket_permissions_mode", "open", ["'open' is not one of strict, restricted, public"]),
        ("eks_cluster_version", "1.33", []),
        ("eks_cluster_version", "1.3", ["'1.3' is not an EKS version shaped 1.NN (for example 1.31)"]),
        ("eks_cluster_version", 1.33, []),
        (
            "subdomain",
            "w_b",
            [
                "'w_b' is not a valid DNS name: label 'w_b' must be 1-63 lowercase letters, digits or "
                "hyphens, not starting or ending with a hyphen"
            ],
        ),
        ("subdomain", 3, []),
        ("domain_name", 3, []),
        ("no_rule_for_this", "anything", []),
    ],
)
def test_value_rules(name: str, value: object, problems: list[str]) -> None:
    assert value_problems(name, value) == problems


def test_cross_rules() -> None:
    assert infra_cross_problems({"external_dns": True}) == [
        ("external_dns", "true requires subdomain (external-dns manages <subdomain>.<domain_name>)")
    ]
    assert infra_cross_problems({"external_dns": True, "subdomain": ""}) != []
    assert infra_cross_problems({"external_dns": "true", "subdomain": ""}) == []  # typed values only
    assert infra_cross_problems({"external_dns": True, "subdomain": "w"}) == []
    domain = "d" * 63 + "." + "e" * 63 + "." + "f" * 60 + ".com"  # 192 characters
    assert infra_cross_problems({"domain_name": domain, "subdomain": "s" * 60}) == []  # exactly 253
    assert infra_cross_problems({"domain_name": domain, "subdomain": "s" * 61}) == [
        ("subdomain", "with domain_name makes a host name longer than 253 characters")
    ]
    assert infra_cross_problems({"domain_name": domain, "subdomain": 5}) == []
