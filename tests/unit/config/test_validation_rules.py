"""Every validation rule, with a passing and a failing case (YAML-typed values; SSM strings in test_ssm_values)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.config.samples import LICENSE, legacy_sections, operator_sections
from wandb_deployer.config.validation import validate_config
from wandb_deployer.errors import InvalidConfigError

pytestmark = pytest.mark.unit

DELETE = object()


def problems_of(
    sections: dict[str, dict[str, Any]],
    *,
    license: str | None = LICENSE,
    require_license: bool = True,
    api_key: str | None = None,
) -> list[str]:
    try:
        validate_config(
            "demo",
            sections,
            license=license,
            api_key=api_key,
            values_are_strings=False,
            require_license=require_license,
        )
    except InvalidConfigError as exc:
        return exc.problems
    return []


def changed(base: dict[str, dict[str, Any]], changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`changes` maps `section.key` to a new value, or DELETE."""
    for path, value in changes.items():
        section, key = path.split(".", 1)
        if value is DELETE:
            base.setdefault(section, {}).pop(key, None)
        else:
            base.setdefault(section, {})[key] = value
    return base


# (id, generation base, changes, expected problem line prefix + fragment, or None for valid)
CASES: list[tuple[str, str, dict[str, Any], str | None]] = [
    ("baseline operator", "operator", {}, None),
    ("baseline legacy", "legacy", {}, None),
    # unknown keys, did you mean
    ("known key", "operator", {"infra.create_elasticache": True}, None),
    (
        "unknown key suggests",
        "operator",
        {"infra.create_elasticach": True},
        "infra/create_elasticach: unknown input of wandb/wandb/aws 8.0.0 (did you mean create_elasticache?)",
    ),
    (
        "create_elasticache_subnet never existed",
        "operator",
        {"infra.create_elasticache_subnet": True},
        "infra/create_elasticache_subnet: not an input of wandb/wandb/aws 8.0.0: never an input",
    ),
    ("create_elasticache_subnet legacy", "legacy", {"infra.create_elasticache_subnet": True}, "create_elasticache"),
    # required inputs
    ("required missing", "operator", {"infra.namespace": DELETE}, "infra/namespace: missing: required by"),
    (
        "v8 creator admin missing",
        "operator",
        {"infra.kubernetes_legacy_cluster_creator_admin": DELETE},
        "infra/kubernetes_legacy_cluster_creator_admin: missing: required from wandb/wandb/aws 8.0.0: true when "
        "upgrading an existing 7.x install",
    ),
    ("v8 creator admin true", "operator", {"infra.kubernetes_legacy_cluster_creator_admin": True}, None),
    ("eks version required from 2.1.0", "legacy", {"infra.eks_cluster_version": DELETE}, "infra/eks_cluster_version"),
    (
        "eks version optional on 2.0.0",
        "legacy",
        {"infra.eks_cluster_version": DELETE, "deployer.module_version": "2.0.0"},
        None,
    ),
    # wired inputs
    ("legacy app wandb_version", "legacy", {"app.wandb_version": "0.52.0"}, None),
    ("legacy app wired bucket", "legacy", {"app.bucket": "s3://x"}, "app/bucket: is wired by the deployer"),
    ("legacy app wired host", "legacy", {"app.host": "https://x"}, "app/host: is wired by the deployer"),
    ("app license in section", "legacy", {"app.license": "x.y.z"}, "app/license: the license is a secret"),
    # Terraform types
    ("string ok", "operator", {"infra.kms_key_alias": "alias/wandb"}, None),
    ("string gets number", "operator", {"infra.eks_cluster_version": 1.3}, "expected a string, got a number (quote it"),
    ("number ok", "operator", {"infra.kms_key_deletion_window": 10}, None),
    ("number gets string", "operator", {"infra.kms_key_deletion_window": "10"}, "expected a number, got a string"),
    ("number gets bool", "operator", {"infra.kms_key_deletion_window": True}, "expected a number, got a bool"),
    ("bool ok", "operator", {"infra.public_access": True}, None),
    ("bool gets string", "operator", {"infra.public_access": "yes"}, "infra/public_access: expected a bool"),
    ("list ok", "operator", {"infra.extra_fqdn": ["a.example.com"]}, None),
    ("list gets string", "operator", {"infra.extra_fqdn": "a.example.com"}, "expected list(string), got a string"),
    ("list element", "operator", {"infra.extra_fqdn": ["a", 3]}, "expected a string at [1], got a number"),
    ("map(string) ok", "operator", {"infra.eks_cluster_tags": {"team": "ml"}}, None),
    ("map(string) value", "operator", {"infra.eks_cluster_tags": {"n": 1}}, "expected a string at n, got a number"),
    ("map(string) gets list", "operator", {"infra.eks_cluster_tags": ["a"]}, "expected map(string), got a list"),
    ("map(any) ok", "operator", {"infra.other_wandb_env": {"A": "1", "B": 2, "C": {"d": [1]}}}, None),
    (
        "list(object) ok",
        "operator",
        {"infra.kubernetes_map_roles": [{"rolearn": "arn:aws:iam::1:role/r", "username": "u", "groups": ["g"]}]},
        None,
    ),
    (
        "list(object) missing attribute",
        "operator",
        {"infra.kubernetes_map_roles": [{"rolearn": "arn:aws:iam::1:role/r", "groups": ["g"]}]},
        "infra/kubernetes_map_roles: expected object({rolearn, username, groups}) at [0]: missing attribute(s) "
        "username",
    ),
    ("object ok", "operator", {"infra.external_redis_params": {"tls": "true"}}, None),
    ("object gets list", "operator", {"infra.external_redis_params": ["x"]}, "expected object, got a list"),
    ("null value", "operator", {"infra.subdomain": None}, "infra/subdomain: has no value; omit it"),
    ("empty value", "operator", {"infra.kms_key_alias": ""}, "infra/kms_key_alias: has no value"),
    # CIDRs
    ("ipv4 list ok", "operator", {"infra.allowed_inbound_cidr": ["0.0.0.0/0", "10.0.0.0/8"]}, None),
    ("ipv4 not a cidr", "operator", {"infra.allowed_inbound_cidr": ["10.0.0.300/8"]}, "is not a CIDR block"),
    ("ipv4 host bits", "operator", {"infra.allowed_inbound_cidr": ["10.0.0.1/8"]}, "(did you mean 10.0.0.0/8?)"),
    ("ipv4 no prefix", "operator", {"infra.allowed_inbound_cidr": ["10.1.2.3"]}, "has no prefix length"),
    ("ipv6 in ipv4 list", "operator", {"infra.allowed_inbound_cidr": ["::/0"]}, "IPv6 CIDR where IPv4 is expected"),
    ("ipv6 list ok", "operator", {"infra.allowed_inbound_ipv6_cidr": ["::/0"]}, None),
    ("ipv6 empty ok", "operator", {"infra.allowed_inbound_ipv6_cidr": []}, None),
    ("ipv4 in ipv6 list", "operator", {"infra.allowed_inbound_ipv6_cidr": ["0.0.0.0/0"]}, "IPv4 CIDR where IPv6"),
    ("private endpoint ok", "operator", {"infra.allowed_private_endpoint_cidr": ["172.16.0.0/12"]}, None),
    ("private endpoint bad", "operator", {"infra.allowed_private_endpoint_cidr": ["foo"]}, "infra/allowed_private"),
    ("public access cidrs bad", "operator", {"infra.kubernetes_public_access_cidrs": ["1.2.3.4/33"]}, "not a CIDR"),
    ("network cidr ok", "operator", {"infra.network_cidr": "10.20.0.0/16"}, None),
    ("network cidr bad", "operator", {"infra.network_cidr": "10.20.0.0/33"}, "infra/network_cidr"),
    ("subnet cidrs bad", "operator", {"infra.network_private_subnet_cidrs": ["10.10.10.1/24"]}, "host bits"),
    # DNS
    ("domain ok", "operator", {"infra.domain_name": "ml.example.co.uk"}, None),
    ("domain one label", "operator", {"infra.domain_name": "localhost"}, "is not a domain name"),
    ("domain underscore", "operator", {"infra.domain_name": "my_corp.com"}, "infra/domain_name: 'my_corp.com' is not"),
    ("domain hyphen edge", "operator", {"infra.domain_name": "-corp.com"}, "infra/domain_name"),
    ("domain too long", "operator", {"infra.domain_name": ("a" * 60 + ".") * 5 + "com"}, "at most 253"),
    ("subdomain ok", "operator", {"infra.subdomain": "wandb-prod"}, None),
    ("subdomain bad", "operator", {"infra.subdomain": "wandb prod"}, "infra/subdomain: 'wandb prod' is not a valid"),
    ("subdomain label too long", "operator", {"infra.subdomain": "a" * 64}, "infra/subdomain"),
    # Route53 zone id
    ("zone ok", "operator", {"infra.zone_id": "Z1"}, None),
    ("zone lowercase", "operator", {"infra.zone_id": "z0123abc"}, "infra/zone_id: 'z0123abc' is not a Route53"),
    ("zone too long", "operator", {"infra.zone_id": "Z" + "A" * 33}, "infra/zone_id"),
    # namespace
    ("namespace ok", "operator", {"infra.namespace": "a" * 29}, None),
    ("namespace too long", "operator", {"infra.namespace": "a" * 30}, "is 30 characters; at most 29"),
    ("namespace uppercase", "operator", {"infra.namespace": "Wandb"}, "infra/namespace: 'Wandb' must be lowercase"),
    ("namespace underscore", "operator", {"infra.namespace": "wandb_prod"}, "infra/namespace"),
    ("namespace digit start", "operator", {"infra.namespace": "1wandb"}, "infra/namespace"),
    ("namespace reserved", "operator", {"infra.namespace": "sthree-x"}, "prefix S3 reserves"),
    # size
    ("size ok", "operator", {"infra.size": "xxlarge"}, None),
    ("size bad", "operator", {"infra.size": "huge"}, "infra/size: 'huge' is not one of small, medium, large"),
    (
        "size before 4.3.0",
        "operator",
        {
            "infra.size": "small",
            "deployer.module_version": "4.2.0",
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        "infra/size: not an input of wandb/wandb/aws 4.2.0: an input of wandb/wandb/aws from 4.3.0",
    ),
    (
        "size on 4.3.0",
        "operator",
        {
            "infra.size": "small",
            "deployer.module_version": "4.3.0",
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        None,
    ),
    # eks_cluster_version
    ("eks ok", "operator", {"infra.eks_cluster_version": "1.29"}, None),
    ("eks one digit minor", "operator", {"infra.eks_cluster_version": "1.3"}, "is not an EKS version shaped 1.NN"),
    ("eks major 2", "operator", {"infra.eks_cluster_version": "2.30"}, "infra/eks_cluster_version"),
    # external_dns
    ("external dns with subdomain", "operator", {"infra.external_dns": True}, None),
    ("external dns off without subdomain", "operator", {"infra.external_dns": False, "infra.subdomain": DELETE}, None),
    (
        "external dns without subdomain",
        "operator",
        {"infra.external_dns": True, "infra.subdomain": DELETE},
        "infra/external_dns: true requires subdomain",
    ),
    # inputs of some versions only
    (
        "dummy dns on 8.x",
        "operator",
        {"infra.enable_dummy_dns": True},
        "infra/enable_dummy_dns: not an input of wandb/wandb/aws 8.0.0: an input of wandb/wandb/aws 4.1.0 - 4.24.0 "
        "(removed in 5.0.0)",
    ),
    (
        "operator alb on 4.7.2",
        "operator",
        {
            "infra.enable_operator_alb": True,
            "deployer.module_version": "4.7.2",
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        None,
    ),
    (
        "operator alb on 4.0.0",
        "operator",
        {
            "infra.enable_operator_alb": True,
            "deployer.module_version": "4.0.0",
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        "infra/enable_operator_alb: not an input of wandb/wandb/aws 4.0.0",
    ),
    (
        "operator alb on 5.x",
        "operator",
        {
            "infra.enable_operator_alb": True,
            "deployer.module_version": "5.2.0",
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        "(removed in 5.0.0)",
    ),
    (
        "creator admin on 7.x",
        "operator",
        {"deployer.module_version": "7.1.0"},
        "infra/kubernetes_legacy_cluster_creator_admin: not an input of wandb/wandb/aws 7.1.0: an input of "
        "wandb/wandb/aws from 8.0.0",
    ),
    (
        "create_bucket on 7.x",
        "operator",
        {
            "infra.create_bucket": True,
            "deployer.module_version": "7.1.0",
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        "infra/create_bucket: not an input of wandb/wandb/aws 7.1.0: an input of wandb/wandb/aws 1.13.1 - 6.1.0 "
        "(removed in 7.0.0)",
    ),
    ("create_bucket on 2.x", "legacy", {"infra.create_bucket": True}, None),
    (
        "license as aws input on 2.x",
        "legacy",
        {"infra.license": "x.y.z"},
        "infra/license: not an input of wandb/wandb/aws 2.8.0: an input of wandb/wandb/aws from 4.0.0; in the legacy "
        "generation the license belongs to the kubernetes app module",
    ),
    ("license as infra value on 8.x", "operator", {"infra.license": "x.y.z"}, "infra/license: the license is a secret"),
    (
        "wandb_version in infra",
        "operator",
        {"infra.wandb_version": "0.51.2"},
        "infra/wandb_version: not an input of wandb/wandb/aws 8.0.0: an input of wandb/wandb/kubernetes only "
        "(app/wandb_version",
    ),
    ("wandb_version in infra legacy", "legacy", {"infra.wandb_version": "0.51.2"}, "release channel"),
    # app section only for legacy
    (
        "app for operator",
        "operator",
        {"app.wandb_version": "0.51.2"},
        "app/wandb_version: the app section is for the legacy generation only",
    ),
    ("unknown app input", "legacy", {"app.wandb_verison": "0.51.2"}, "(did you mean wandb_version?)"),
    # generation and module versions
    (
        "operator on 2.x",
        "operator",
        {"deployer.module_version": "2.8.0", "infra.kubernetes_legacy_cluster_creator_admin": DELETE},
        "deployer/module_version: the operator generation needs wandb/wandb/aws 4.0.0 or newer",
    ),
    ("legacy on 8.x", "legacy", {"deployer.module_version": "8.0.0"}, "deployer/module_version: the legacy generation"),
    ("app module 2.x", "legacy", {"deployer.app_module_version": "2.0.0"}, "deployer/app_module_version"),
    ("terraform ok", "operator", {"deployer.terraform_version": "1.11.0"}, None),
    ("terraform too old", "operator", {"deployer.terraform_version": "1.9.8"}, "deployer/terraform_version: 1.9.8 is"),
    # deployer settings
    ("deployer approval ok", "operator", {"deployer.approval": "always"}, None),
    ("deployer approval bad", "operator", {"deployer.approval": "sometimes"}, "deployer/approval: Input should be"),
    ("deployer unknown", "operator", {"deployer.aproval": "always"}, "deployer/aproval: unknown setting (did you mean"),
    ("deployer semver", "operator", {"deployer.module_version": "8.0"}, "deployer/module_version: must be a semantic"),
    ("deployer timeout", "operator", {"deployer.health_timeout_seconds": 5}, "deployer/health_timeout_seconds"),
    ("deployer api key in section", "operator", {"deployer.api_key": "k" * 20}, "deployer/api_key: is a secret"),
    ("unknown section", "operator", {"extras.x": 1}, "extras: unknown section"),
    # releases that do not exist: refused, the nearest real ones named
    (
        "module 9.9.9",
        "operator",
        {"deployer.module_version": "9.9.9"},
        "deployer/module_version: 9.9.9 is not a release of wandb/wandb/aws (nearest: 8.0.0, 7.18.2, 7.18.1)",
    ),
    (
        "module 8.0.99",
        "operator",
        {"deployer.module_version": "8.0.99"},
        "deployer/module_version: 8.0.99 is not a release of wandb/wandb/aws (nearest: 8.0.0, 7.18.2, 7.18.1)",
    ),
    (
        "module 2.0.5",
        "legacy",
        {"deployer.module_version": "2.0.5"},
        "deployer/module_version: 2.0.5 is not a release of wandb/wandb/aws (nearest: 2.0.0, 2.1.0, 2.8.0)",
    ),
    (
        "app module 1.14.2",
        "legacy",
        {"deployer.app_module_version": "1.14.2"},
        "deployer/app_module_version: 1.14.2 is not a release of wandb/wandb/kubernetes (nearest: 1.14.1, 1.14.0",
    ),
    (
        "major 6 has no creator admin input",
        "operator",
        {"deployer.module_version": "6.0.0"},
        "infra/kubernetes_legacy_cluster_creator_admin: not an input of wandb/wandb/aws 6.0.0: an input of "
        "wandb/wandb/aws from 8.0.0",
    ),
    # exact per release (the findings of the module-contract issue)
    (
        "min nodes per az on 7.18.2",
        "operator",
        {
            "deployer.module_version": "7.18.2",
            "infra.kubernetes_min_nodes_per_az": 2,
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        None,
    ),
    (
        "node count on 7.18.2",
        "operator",
        {
            "deployer.module_version": "7.18.2",
            "infra.kubernetes_node_count": 2,
            "infra.kubernetes_legacy_cluster_creator_admin": DELETE,
        },
        "infra/kubernetes_node_count: not an input of wandb/wandb/aws 7.18.2: an input of wandb/wandb/aws "
        "4.3.0 - 4.24.0 (removed in 5.0.0)",
    ),
    ("wandb_replicas on app 1.14.1", "legacy", {"app.wandb_replicas": 2}, None),
    # required without a default (1.16.9-1.16.10): "" is a value the module reads as "use the module's key"
    (
        "required input set to empty on 1.16.10",
        "legacy",
        {
            "deployer.module_version": "1.16.10",
            "infra.database_performance_insights_kms_key_arn": "",
            "infra.create_elasticache": False,
        },
        None,
    ),
    (
        "required input missing on 1.16.10",
        "legacy",
        {"deployer.module_version": "1.16.10", "infra.create_elasticache": False},
        "infra/database_performance_insights_kms_key_arn: missing: required by wandb/wandb/aws 1.16.10",
    ),
    (
        "required input null on 1.16.10",
        "legacy",
        {
            "deployer.module_version": "1.16.10",
            "infra.database_performance_insights_kms_key_arn": None,
            "infra.create_elasticache": False,
        },
        "infra/database_performance_insights_kms_key_arn: has no value; wandb/wandb/aws 1.16.10 requires it",
    ),
    (
        "wandb_replicas on app 1.6.0",
        "legacy",
        {"app.wandb_replicas": 2, "deployer.app_module_version": "1.6.0"},
        "app/wandb_replicas: not an input of wandb/wandb/kubernetes 1.6.0: an input of wandb/wandb/kubernetes from",
    ),
]


@pytest.mark.parametrize(("base", "changes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule(base: str, changes: dict[str, Any], expected: str | None) -> None:
    # Given a valid config of one generation with one change
    sections = changed(operator_sections() if base == "operator" else legacy_sections(), changes)

    # When it is validated
    problems = problems_of(sections)

    # Then it is valid, or one problem line says what is wrong
    if expected is None:
        assert problems == []
    else:
        assert any(expected in line for line in problems), problems
        assert all("\n" not in line for line in problems)


@pytest.mark.parametrize(
    ("license", "require", "expected"),
    [
        (LICENSE, True, None),
        (None, False, None),
        (None, True, "infra/license: missing: store the W&B license as a SecureString parameter"),
        ("", True, "infra/license: missing"),
        ("only.two", True, "infra/license: is not a W&B license: expected a compact JWS"),
        ("a.b.c.d", False, "infra/license: is not a W&B license"),
        ("a b.c.d", True, "infra/license: is not a W&B license"),
        ("a..c", True, "infra/license: is not a W&B license"),
    ],
)
def test_license_presence_and_shape(license: str | None, require: bool, expected: str | None) -> None:
    problems = problems_of(operator_sections(), license=license, require_license=require)
    assert (problems == []) if expected is None else any(expected in line for line in problems), problems


def test_legacy_license_lives_in_the_app_section() -> None:
    problems = problems_of(legacy_sections(), license=None)
    assert problems == ["app/license: missing: store the W&B license as a SecureString parameter"]


@pytest.mark.parametrize(
    ("api_key", "ok"), [(None, True), ("local-0123456789abcdef", True), ("short", False), ("has space inside", False)]
)
def test_api_key_shape(api_key: str | None, ok: bool) -> None:
    problems = problems_of(operator_sections(), api_key=api_key)
    assert (problems == []) if ok else problems[0].startswith("deployer/api_key: is not an API key")


def test_all_problems_are_reported_at_once() -> None:
    # Given a config with problems in every section
    sections = changed(
        operator_sections(),
        {
            "deployer.approval": "sometimes",
            "infra.create_elasticache_subnet": True,
            "infra.size": "huge",
            "infra.namespace": DELETE,
            "app.wandb_version": "0.51.2",
        },
    )

    # When it is validated, then every problem is one line of the same error
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("demo", sections, license="bad", values_are_strings=False)
    keys = [line.split(":", 1)[0] for line in caught.value.problems]
    assert keys == [
        "deployer/approval",
        "infra/create_elasticache_subnet",
        "infra/size",
        "infra/namespace",
        "app/wandb_version",
        "infra/license",
    ]
    assert caught.value.deployment == "demo"


def test_deployment_name_is_checked() -> None:
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("Demo_1", operator_sections(), license=LICENSE, values_are_strings=False)
    assert caught.value.problems[0].startswith("deployment: 'Demo_1' must be")


def test_valid_config_is_the_model() -> None:
    config = validate_config("demo", legacy_sections(), license=LICENSE, values_are_strings=False)
    assert config.deployer.generation == "legacy"
    assert config.license_section == "app"
    assert config.app == {"wandb_version": "0.51.2"}
    assert config.infra["allowed_inbound_cidr"] == ["203.0.113.0/24"]
    assert config.license is not None and config.license.get_secret_value() == LICENSE


@pytest.mark.parametrize(
    ("legacy", "section", "key", "value"),
    [
        (False, "infra", "license", "x.y.z"),  # the license as a config value
        (True, "app", "bucket", "s3://elsewhere"),  # wired by the deployer from the aws module's outputs
        (False, "infra", "aaa_not_an_input", "1"),  # no such input at the release
        (False, "infra", "namespace", None),  # required, no default: null is no value
        (False, "infra", "kubernetes_min_nodes_per_az", ""),  # optional: "" is no value either
        (False, "infra", "create_vpc", "perhaps"),  # not a bool
    ],
)
def test_a_problem_with_one_input_never_hides_the_inputs_after_it(
    legacy: bool, section: str, key: str, value: object
) -> None:
    """Every input is checked, whatever the one before it had: a problem is reported and the next input is read
    (mutation testing found every `continue` of the loop could be a `break` unnoticed)."""
    sections = legacy_sections() if legacy else operator_sections()
    sections[section][key] = value
    sections[section]["zzz_not_an_input"] = "1"  # sorts after every input

    problems = problems_of(sections)

    assert any(line.startswith(f"{section}/{key}:") for line in problems), problems
    assert any(line.startswith(f"{section}/zzz_not_an_input:") for line in problems), problems


def test_without_a_release_every_input_is_still_checked_for_what_needs_none() -> None:
    """An unknown module version: inputs are not type-checked, but a license given as a value after them is found."""
    sections = operator_sections()
    sections["deployer"]["module_version"] = "9.9.9"
    sections["infra"]["license"] = "x.y.z"  # sorts after allowed_inbound_cidr, domain_name, eks_cluster_version, ...

    problems = problems_of(sections)

    assert any(line.startswith("deployer/module_version:") for line in problems), problems
    assert any(line.startswith("infra/license:") for line in problems), problems
