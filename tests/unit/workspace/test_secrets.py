"""The license never appears in a rendered file, the bundle, the fingerprint, logs or errors."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.unit.workspace.conftest import LICENSE, LICENSE_PARTS, STATE_BUCKET, legacy_config, operator_config
from wandb_deployer.workspace import build_bundle, desired_fingerprint, render_workspace

pytestmark = pytest.mark.unit

SECRET_FORMS = [LICENSE.encode(), *(part.encode() for part in LICENSE_PARTS)]


@pytest.mark.parametrize("generation", ["operator", "legacy"])
def test_license_is_in_no_rendered_file_and_not_in_the_bundle(generation: str, build_files_dir: Path) -> None:
    config = operator_config() if generation == "operator" else legacy_config()
    rendered = render_workspace(config, state_bucket=STATE_BUCKET)
    bundle = build_bundle(rendered, extra_files_dir=build_files_dir)

    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        unpacked = {name: archive.read(name) for name in archive.namelist()}
    for blob in [*rendered.files.values(), bundle, *unpacked.values(), rendered.fingerprint.encode()]:
        for secret in SECRET_FORMS:
            assert secret not in blob


def test_license_is_declared_but_never_given_a_value() -> None:
    files = render_workspace(operator_config(), state_bucket=STATE_BUCKET).files

    assert b'"license": "${var.license}"' in files["main.tf.json"]
    assert b'"license"' not in files["terraform.tfvars.json"]


def test_rendering_and_bundling_log_nothing_secret(capsys: pytest.CaptureFixture[str], build_files_dir: Path) -> None:
    rendered = render_workspace(operator_config(), state_bucket=STATE_BUCKET)
    build_bundle(rendered, extra_files_dir=build_files_dir)
    desired_fingerprint(operator_config())

    captured = capsys.readouterr()
    for part in [LICENSE, *LICENSE_PARTS]:
        assert part not in captured.out
        assert part not in captured.err


def test_the_config_repr_hides_the_license() -> None:
    assert LICENSE not in repr(operator_config())
    assert LICENSE not in str(operator_config().model_dump())
