"""Validation's problem lines, whole (what an operator reads), and its decisions when the deployer section itself is
invalid: the generation and releases it falls back to, so that the rest is still checked against the right release."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.config.samples import API_KEY, LICENSE, legacy_sections, operator_sections
from tests.unit.config.test_validation_rules import DELETE, changed, problems_of
from wandb_deployer.config import validation
from wandb_deployer.config.validation import validate_config
from wandb_deployer.errors import InvalidConfigError

pytestmark = pytest.mark.unit

KNOWN_SETTINGS = (
    "generation, module_version, app_module_version, terraform_version, region, approval, drift_action, "
    "health_timeout_seconds, paused, probe, on_unhealthy, snapshot_retention_days"
)


@pytest.mark.parametrize(
    ("base", "changes", "lines"),
    [
        (
            "operator",
            {"infra.namespace": DELETE},
            ["infra/namespace: missing: required by wandb/wandb/aws 8.0.0 (String used for prefix resources)"],
        ),
        (
            "operator",
            {"infra.create_elasticache_subnet": True},
            [
                "infra/create_elasticache_subnet: not an input of wandb/wandb/aws 8.0.0: never an input of any "
                "wandb/wandb/aws release (1.0.0 - 8.0.0); the W&B docs' snippet uses it by mistake; the input is "
                "create_elasticache"
            ],
        ),
        (
            "operator",
            {"deployer.zzzzqqq": 1},
            [f"deployer/zzzzqqq: unknown setting (known: {KNOWN_SETTINGS})"],
        ),
        (
            "operator",
            {"deployer.aproval": "always"},
            ["deployer/aproval: unknown setting (did you mean approval?)"],
        ),
        (
            "operator",
            {"deployer.api_key": "k" * 20},
            ["deployer/api_key: is a secret: store it as the SecureString parameter deployer/api_key"],
        ),
        (
            "operator",
            {"deployer.module_version": "8.0"},
            ["deployer/module_version: must be a semantic version MAJOR.MINOR.PATCH, for example 8.0.0"],
        ),
        (
            "legacy",
            {"app.bucket": "s3://x", "app.license": "a.b.c"},
            [
                "app/bucket: is wired by the deployer from the wandb/wandb/aws outputs; remove it",
                "app/license: the license is a secret: store it as the SecureString parameter app/license, never as "
                "a config value",
            ],
        ),
        (
            "operator",
            {"app.license": "a.b.c", "app.wandb_version": "0.51.2"},
            [
                "app/license: the operator generation reads the license from the SecureString infra/license",
                "app/wandb_version: the app section is for the legacy generation only (the operator deploys W&B "
                "itself)",
            ],
        ),
        (
            "operator",
            {"infra.external_dns_image_repository": ""},
            [
                "infra/external_dns_image_repository: has no value; omit it to use the module's default "
                '("registry.k8s.io/external-dns/externa...)'
            ],
        ),
        (
            "operator",
            {"infra.size": None},
            ['infra/size: has no value; omit it to use the module\'s default ("small")'],
        ),
        (
            "operator",
            {"extras.x": 1, "more.y": 2},
            [
                "extras: unknown section (known: infra, app, deployer)",
                "more: unknown section (known: infra, app, deployer)",
            ],
        ),
        (
            "operator",
            {"infra.qqq_zzz": True},
            ["infra/qqq_zzz: unknown input of wandb/wandb/aws 8.0.0"],  # nothing close enough to suggest
        ),
        (
            "legacy",
            {"app.create_elasticache": True},
            [
                "app/create_elasticache: not an input of wandb/wandb/kubernetes 1.14.1: an input of wandb/wandb/aws "
                "only (infra/create_elasticache: an input of wandb/wandb/aws in every release)"
            ],
        ),
        (
            "operator",
            {"infra.wandb_version": "0.51.2"},
            [
                "infra/wandb_version: not an input of wandb/wandb/aws 8.0.0: an input of wandb/wandb/kubernetes only "
                "(app/wandb_version: an input of wandb/wandb/kubernetes in every release); in the operator generation "
                "the W&B version comes from W&B's release channel unless pinned in the W&B System Console"
            ],
        ),
    ],
)
def test_problem_lines_in_full(base: str, changes: dict[str, Any], lines: list[str]) -> None:
    sections = changed(operator_sections() if base == "operator" else legacy_sections(), changes)
    assert problems_of(sections) == lines


def test_an_invalid_deployer_section_still_checks_against_the_release_it_names() -> None:
    # The deployer section is invalid (approval), but module_version 7.1.0 is a release: the infra is checked there.
    sections = changed(operator_sections(), {"deployer.approval": "bad", "deployer.module_version": "7.1.0"})
    assert problems_of(sections) == [
        "deployer/approval: Input should be 'always', 'destructive' or 'never'",
        "infra/kubernetes_legacy_cluster_creator_admin: not an input of wandb/wandb/aws 7.1.0: an input of "
        "wandb/wandb/aws from 8.0.0",
    ]


def test_an_invalid_deployer_section_of_the_legacy_generation_stays_legacy() -> None:
    # create_bucket exists in 2.8.0 and not in 8.0.0; the app section is legal only for the legacy generation.
    sections = changed(legacy_sections(), {"deployer.approval": "bad", "infra.create_bucket": True})
    assert problems_of(sections) == ["deployer/approval: Input should be 'always', 'destructive' or 'never'"]


def test_an_invalid_deployer_section_without_a_usable_version_falls_back_to_the_default_release() -> None:
    sections = changed(
        legacy_sections(),
        {"deployer.approval": "bad", "deployer.module_version": "2.8", "deployer.app_module_version": "x"},
    )
    lines = problems_of(sections)
    assert lines[:3] == [
        "deployer/module_version: must be a semantic version MAJOR.MINOR.PATCH, for example 8.0.0",
        "deployer/app_module_version: must be a semantic version MAJOR.MINOR.PATCH, for example 8.0.0",
        "deployer/approval: Input should be 'always', 'destructive' or 'never'",
    ]
    # the legacy default releases are used for the rest: the legacy sample is valid against them
    assert lines[3:] == []


def test_a_secret_that_reached_a_problem_line_is_masked() -> None:
    sections = changed(operator_sections(), {"infra.namespace": LICENSE, "infra.kms_key_alias": API_KEY})
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("demo", sections, license=LICENSE, api_key=API_KEY, values_are_strings=False)
    text = "\n".join(caught.value.problems)
    assert LICENSE not in text and "infra/namespace: '********' must be lowercase" in text
    assert all("\n" not in line for line in caught.value.problems)


def test_a_secret_of_exactly_four_characters_is_masked() -> None:
    problems = problems_of(changed(operator_sections(), {"infra.size": "abcd"}), license="abcd", require_license=False)
    assert problems[0] == "infra/size: '********' is not one of small, medium, large, xlarge, xxlarge"
    assert not any("abcd" in line for line in problems)


def test_short_values_are_not_masked_as_secrets() -> None:
    # A three-character "secret" would mask every "abc" in every line: secrets shorter than 4 are left alone.
    problems = problems_of(changed(operator_sections(), {"infra.size": "abc"}), license="abc", require_license=False)
    assert "infra/size: 'abc' is not one of small, medium, large, xlarge, xxlarge" in problems


def test_the_validated_model_carries_the_secrets_as_secrets() -> None:
    config = validate_config("demo", operator_sections(), license=LICENSE, api_key=API_KEY, values_are_strings=False)
    assert config.deployment == "demo" and config.deployer.module_version == "8.0.0"
    assert config.api_key is not None and config.api_key.get_secret_value() == API_KEY
    assert config.app == {}
    unlicensed = validate_config(
        "demo", operator_sections(), license=None, values_are_strings=False, require_license=False
    )
    assert unlicensed.license is None and unlicensed.api_key is None


def test_extra_problems_of_the_source_come_first() -> None:
    with pytest.raises(InvalidConfigError) as caught:
        validate_config(
            "demo",
            changed(operator_sections(), {"infra.size": "huge"}),
            license=LICENSE,
            values_are_strings=False,
            extra_problems=["infra/license: stored as String; store it as a SecureString"],
        )
    assert caught.value.problems == [
        "infra/license: stored as String; store it as a SecureString",
        "infra/size: 'huge' is not one of small, medium, large, xlarge, xxlarge",
    ]


@pytest.mark.parametrize("name", ["d", "a" * 33, "1demo", "demo-", 7])
def test_deployment_names_outside_the_pattern_are_refused(name: Any) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        validate_config(name, operator_sections(), license=LICENSE, values_are_strings=False)
    assert caught.value.problems == [
        f"deployment: {name!r} must be 2-32 lowercase letters, digits or hyphens, starting with a letter"
    ]


def test_ssm_strings_are_coerced_to_the_variable_types() -> None:
    sections = operator_sections()
    sections["infra"] = {
        **sections["infra"],
        "public_access": "true",
        "kms_key_deletion_window": "10",
        "allowed_inbound_cidr": "203.0.113.0/24,198.51.100.0/24",  # a StringList
        "allowed_inbound_ipv6_cidr": "2001:db8::/32",
        "kubernetes_legacy_cluster_creator_admin": "false",
    }
    config = validate_config("demo", sections, license=LICENSE, values_are_strings=True)
    assert config.infra["public_access"] is True and config.infra["kms_key_deletion_window"] == 10
    assert config.infra["kubernetes_legacy_cluster_creator_admin"] is False
    assert config.infra["allowed_inbound_cidr"] == ["203.0.113.0/24", "198.51.100.0/24"]


# --- what a problem line quotes from the module's variables: a default, a description ---------------------------------
# No release's variable has a default or a required one's description right at these limits, so the limits are checked
# on the helpers that apply them.


@pytest.mark.parametrize(
    ("default", "shown"),
    [
        ("x" * 38, '"' + "x" * 38 + '"'),  # 40 characters of JSON: shown whole
        ("x" * 39, '"' + "x" * 36 + "..."),  # 41: cut to 37 and marked
        (None, "null"),
    ],
)
def test_a_default_is_quoted_up_to_40_characters(default: Any, shown: str) -> None:
    assert validation._default(default) == shown


@pytest.mark.parametrize(
    ("description", "note"),
    [
        ("String used for prefix resources.", " (String used for prefix resources)"),
        ("Chart version, for example 2.X.", " (Chart version, for example 2.X)"),  # only the final dot goes
        ("  " + "d" * 100 + "  ", " (" + "d" * 100 + ")"),  # 100 characters once stripped
        ("d" * 101, ""),
        ("first line\nsecond line", ""),
        ("", ""),
        ("   ", ""),
    ],
)
def test_a_description_is_appended_only_when_short_and_on_one_line(description: str, note: str) -> None:
    assert validation._short(description) == note
