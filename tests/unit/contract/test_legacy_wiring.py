"""The legacy app module is wired as the aws module's own example wires it, at every legacy release: the oracle is
`examples/public-dns-external/main.tf` at each tag (recorded in the contract), not our belief."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.unit.contract.matrix import APP, AWS, legacy_sections
from wandb_deployer.config.module_rules import is_operator_release
from wandb_deployer.config.validation import validate_config
from wandb_deployer.contract.legacy_wiring import BUCKET_QUEUE_EXPRESSION
from wandb_deployer.errors import InvalidConfigError
from wandb_deployer.workspace import render_workspace

pytestmark = pytest.mark.unit

LICENSE = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3aXJpbmcifQ.c2lnbmF0dXJl"
LEGACY = [version for version in AWS.releases if not is_operator_release(AWS.release(version))]
OUTPUTS = re.compile(r"module\.wandb_infra\.([a-z_]+)")


def _rendered_app_call(version: str, tmp_path: Path) -> dict:
    sections = legacy_sections(version, APP.latest)
    config = validate_config("wiring", sections, license=LICENSE, values_are_strings=False)
    files = render_workspace(config, state_bucket="wbd-state-wiring").files
    return dict(json.loads(files["main.tf.json"])["module"]["wandb_app"])


@pytest.mark.parametrize("version", LEGACY)
def test_app_wiring_matches_the_example_at_this_release(version: str, tmp_path: Path) -> None:
    example = {
        k: v for k, v in (AWS.release(version).example_app_wiring or {}).items() if k not in {"source", "version"}
    }
    assert example, f"{version}: every legacy release has the example"
    ours = _rendered_app_call(version, tmp_path)
    ours.pop("source"), ours.pop("version"), ours.pop("depends_on")
    user_inputs = {name for name, value in example.items() if value == "${var." + name + "}"}

    # Every argument of the example is wired the same way, except the ones the user sets (app/<input>).
    assert set(ours) - {"wandb_version"} == set(example) - user_inputs
    for name, value in example.items():
        if name in user_inputs:
            continue
        if name == "license":
            assert (value, ours[name]) == ("${var.wandb_license}", "${var.license}")
        elif name == "bucket_queue":
            # ours passes the queue the module made, else internal:// (the example hard-codes one of them)
            assert ours[name] == BUCKET_QUEUE_EXPRESSION
            assert value in {"internal://", "sqs://${module.wandb_infra.bucket_queue_name}"}
            continue
        elif name == "redis_connection_string":
            # the example's template, guarded: the output is null without a cache and a template refuses null
            assert ours[name] == '${module.wandb_infra.elasticache_connection_string == null ? "" : "' + value + '"}'
        elif name == "other_wandb_env":
            # the module's secret store location merged with the user's map (var.other_wandb_env -> ours)
            assert ours[name] == value.replace("var.other_wandb_env", "var.app_other_wandb_env")
        else:
            assert ours[name] == value
        assert set(OUTPUTS.findall(json.dumps(ours[name]))) == set(OUTPUTS.findall(json.dumps(value)))


def test_redis_is_wired_exactly_where_the_example_wires_it() -> None:
    first = AWS.first_release_wiring("redis_connection_string")
    assert first == "1.15.2"  # examples/public-dns-external/main.tf gained it there


def test_a_cache_that_w_and_b_would_never_use_is_refused() -> None:
    # 1.15.1's example passes no Redis: create_elasticache (default true there) would pay for an unused cache
    sections = legacy_sections("1.15.1", APP.latest)
    sections["infra"]["create_elasticache"] = True
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("wiring", sections, license=LICENSE, values_are_strings=False)
    assert any(
        line.startswith("infra/create_elasticache: is true") and "1.15.2 and newer" in line
        for line in caught.value.problems
    )


def test_an_app_release_without_an_input_the_example_needs_is_refused() -> None:
    # 3.4.x's example merges W&B's secret store location into other_wandb_env, an input from app module 1.2.0
    sections = legacy_sections("3.4.2", "1.1.3")
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("wiring", sections, license=LICENSE, values_are_strings=False)
    assert caught.value.problems == [
        "deployer/app_module_version: wandb/wandb/kubernetes 1.1.3 has no input other_wandb_env, which "
        "wandb/wandb/aws 3.4.2 passes to W&B (its example's wiring)"
    ]


def test_the_user_part_of_a_merged_input_defaults_to_the_modules_default(tmp_path: Path) -> None:
    config = validate_config("wiring", legacy_sections("3.4.2", APP.latest), license=LICENSE, values_are_strings=False)
    tfvars = json.loads(render_workspace(config, state_bucket="wbd-state-wiring").files["terraform.tfvars.json"])
    assert tfvars["app_other_wandb_env"] == APP.release(APP.latest).variables["other_wandb_env"].default == {}
