"""SSM values are strings: coerced per the input's Terraform type, with the same rules as typed values."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.config.samples import LICENSE
from wandb_deployer.config.terraform_types import TypeProblem, coerce_value, parse_type
from wandb_deployer.config.validation import validate_config
from wandb_deployer.errors import InvalidConfigError

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("tf_type", "text", "expected"),
    [
        ("string", "a,b", "a,b"),
        ("bool", "true", True),
        ("bool", "false", False),
        ("bool", "TRUE", True),
        ("number", "42", 42),
        ("number", "-1.5", -1.5),
        ("number", "1e3", 1000.0),
        ("list(string)", "a,b", ["a", "b"]),
        ("list(string)", "10.0.0.0/8, 192.168.0.0/16", ["10.0.0.0/8", "192.168.0.0/16"]),
        ("list(string)", "single", ["single"]),
        ("list(string)", '["a,b", "c"]', ["a,b", "c"]),
        ("list(string)", "[]", []),
        ("map(string)", '{"team": "ml"}', {"team": "ml"}),
        ("map(any)", '{"a": {"b": [1, 2]}}', {"a": {"b": [1, 2]}}),
        ("object({)", '{"tls": "true"}', {"tls": "true"}),
        (
            "list(object({rolearn = string, username = string, groups = list(string)))",
            '[{"rolearn": "r", "username": "u", "groups": []}]',
            [{"rolearn": "r", "username": "u", "groups": []}],
        ),
    ],
)
def test_strings_are_coerced(tf_type: str, text: str, expected: Any) -> None:
    assert coerce_value(tf_type, text, from_string=True) == expected


@pytest.mark.parametrize(
    ("tf_type", "text", "message"),
    [
        ("bool", "yes", "expected a bool: true or false"),
        ("number", "ten", "expected a number"),
        ("number", "1.2.3", "expected a number"),
        ("map(string)", "team=ml", "expected map(string) as JSON, but it is not valid JSON"),
        ("map(string)", '{"n": 1}', "expected a string at n, got a number"),
        ("list(string)", '["a", 1]', "expected a string at [1], got a number"),
        ("list(string)", "[not json", "not valid JSON"),
        ("object({a = string})", '{"b": "x"}', "missing attribute(s) a; unknown attribute(s) b"),
    ],
)
def test_strings_that_do_not_fit(tf_type: str, text: str, message: str) -> None:
    with pytest.raises(TypeProblem, match=None) as caught:
        coerce_value(tf_type, text, from_string=True)
    assert message in str(caught.value)


def test_type_problems_never_quote_the_value() -> None:
    with pytest.raises(TypeProblem) as caught:
        coerce_value("number", "SECRETISH-VALUE", from_string=True)
    assert "SECRETISH" not in str(caught.value)


@pytest.mark.parametrize(
    ("expr", "described"),
    [
        (
            "list(object({rolearn = string, username = string, groups = list(string)))",
            "list(object({rolearn, username, groups}))",
        ),
        ("object({)", "object"),
        ("map(any)", "map(any)"),
        ("tuple([string, number])", "any"),
    ],
)
def test_type_expressions_are_parsed_leniently(expr: str, described: str) -> None:
    assert parse_type(expr).describe() == described


def test_ssm_sections_validate_like_yaml() -> None:
    # Given the operator sample as SSM would hold it (every value a string)
    sections = {
        "deployer": {
            "generation": "operator",
            "module_version": "8.0.0",
            "health_timeout_seconds": "1200",
            "paused": "true",
        },
        "infra": {
            "namespace": "wandb-demo",
            "domain_name": "example.com",
            "zone_id": "Z0123456789ABCDEFGHIJ",
            "subdomain": "wandb",
            "allowed_inbound_cidr": "203.0.113.0/24,198.51.100.0/24",
            "allowed_inbound_ipv6_cidr": "[]",
            "eks_cluster_version": "1.33",
            "kubernetes_legacy_cluster_creator_admin": "false",
            "create_elasticache": "true",
            "kms_key_deletion_window": "10",
            "eks_cluster_tags": '{"team": "ml"}',
        },
    }

    # When validated with values_are_strings, then values are typed
    config = validate_config("demo", sections, license=LICENSE, values_are_strings=True)
    assert config.infra["allowed_inbound_cidr"] == ["203.0.113.0/24", "198.51.100.0/24"]
    assert config.infra["allowed_inbound_ipv6_cidr"] == []
    assert config.infra["kubernetes_legacy_cluster_creator_admin"] is False
    assert config.infra["kms_key_deletion_window"] == 10
    assert config.infra["eks_cluster_tags"] == {"team": "ml"}
    assert config.deployer.health_timeout_seconds == 1200
    assert config.deployer.paused is True


def test_ssm_strings_that_do_not_fit_are_problems() -> None:
    sections = {"infra": {"create_elasticache": "yes", "allowed_inbound_cidr": "10.0.0.1/8", "size": "medium"}}
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("demo", sections, license=LICENSE, values_are_strings=True)
    assert "infra/create_elasticache: expected a bool: true or false" in caught.value.problems
    assert any(
        line.startswith("infra/allowed_inbound_cidr: '10.0.0.1/8' has host bits") for line in caught.value.problems
    )
