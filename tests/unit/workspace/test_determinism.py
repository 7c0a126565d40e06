"""Same config in, same bytes and the same fingerprint out."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from tests.unit.workspace.conftest import (
    LEGACY_APP,
    LEGACY_INFRA,
    LICENSE,
    OPERATOR_INFRA,
    STATE_BUCKET,
    legacy_config,
    operator_config,
)
from wandb_deployer.workspace import RENDER_FORMAT_VERSION, build_bundle, desired_fingerprint, render_workspace

pytestmark = pytest.mark.unit


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same data with every dict's insertion order shuffled (lists keep their order: it is meaningful)."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {key: _shuffled(value[key], rng) for key in keys}
    if isinstance(value, list):
        return [_shuffled(item, rng) for item in value]
    return value


def test_rendering_twice_gives_byte_identical_files_and_bundles(build_files_dir: Path) -> None:
    first = render_workspace(legacy_config(), state_bucket=STATE_BUCKET)
    second = render_workspace(legacy_config(), state_bucket=STATE_BUCKET)

    assert first.files == second.files
    assert first.fingerprint == second.fingerprint
    assert build_bundle(first, extra_files_dir=build_files_dir) == build_bundle(second, extra_files_dir=build_files_dir)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_insertion_order_does_not_matter(seed: int, build_files_dir: Path) -> None:
    rng = random.Random(seed)
    nested = {"m": {"z": 1, "a": [{"y": 2, "b": 3}]}, "n": True}
    infra = {**OPERATOR_INFRA, "other_wandb_env": nested}
    ordered = render_workspace(operator_config(infra=infra), state_bucket=STATE_BUCKET)
    shuffled = render_workspace(operator_config(infra=_shuffled(infra, rng)), state_bucket=STATE_BUCKET)
    legacy_a = render_workspace(legacy_config(infra=LEGACY_INFRA, app=LEGACY_APP), state_bucket=STATE_BUCKET)
    legacy_b = render_workspace(
        legacy_config(infra=_shuffled(LEGACY_INFRA, rng), app=_shuffled(LEGACY_APP, rng)), state_bucket=STATE_BUCKET
    )

    assert ordered.files == shuffled.files
    assert ordered.fingerprint == shuffled.fingerprint
    assert build_bundle(ordered, extra_files_dir=build_files_dir) == build_bundle(
        shuffled, extra_files_dir=build_files_dir
    )
    assert legacy_a.files == legacy_b.files


def test_files_are_sorted_indented_json_with_a_trailing_newline() -> None:
    for content in render_workspace(operator_config(), state_bucket=STATE_BUCKET).files.values():
        document = json.loads(content)
        assert content == (json.dumps(document, sort_keys=True, indent=2) + "\n").encode()


def test_rendered_fingerprint_is_the_desired_fingerprint() -> None:
    config = operator_config()
    assert render_workspace(config, state_bucket=STATE_BUCKET).fingerprint == desired_fingerprint(config)


def test_fingerprint_is_sha256_hex_of_the_documented_fields() -> None:
    fingerprint = desired_fingerprint(operator_config())
    assert len(fingerprint) == 64
    assert int(fingerprint, 16) >= 0
    assert RENDER_FORMAT_VERSION


@pytest.mark.parametrize(
    "change",
    [
        {"infra": {**OPERATOR_INFRA, "size": "medium"}},
        {"deployment": "other"},
        {"module_version": "8.0.1"},
        {"approval": "always"},
        {"license_value": LICENSE + "x"},
        {"license_value": None},
    ],
)
def test_every_desired_change_changes_the_fingerprint(change: dict[str, Any]) -> None:
    assert desired_fingerprint(operator_config(**change)) != desired_fingerprint(operator_config())


def test_the_license_changes_the_fingerprint_without_being_in_it() -> None:
    with_license = desired_fingerprint(operator_config())
    plain_hash = hashlib.sha256(LICENSE.encode()).hexdigest()

    assert with_license != desired_fingerprint(operator_config(license_value="other.license.value"))
    assert plain_hash != with_license
    assert LICENSE not in with_license


def test_the_api_key_and_state_bucket_do_not_change_the_fingerprint() -> None:
    config = operator_config()
    with_key = config.model_copy(update={"api_key": SecretStr("secret-api-key")})
    assert desired_fingerprint(with_key) == desired_fingerprint(config)
    assert (
        render_workspace(config, state_bucket="bucket-one").fingerprint
        == render_workspace(config, state_bucket="bucket-two").fingerprint
    )
