"""The workspace bundle: a deterministic zip with the workspace and the build files at its root."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.unit.workspace.conftest import STATE_BUCKET, operator_config
from wandb_deployer.workspace import build_bundle, render_workspace

pytestmark = pytest.mark.unit


def _entries(bundle: bytes) -> list[zipfile.ZipInfo]:
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        assert archive.testzip() is None
        return archive.infolist()


def test_bundle_holds_the_workspace_and_the_build_files_at_the_root(build_files_dir: Path) -> None:
    rendered = render_workspace(operator_config(), state_bucket=STATE_BUCKET)
    bundle = build_bundle(rendered, extra_files_dir=build_files_dir)

    names = [entry.filename for entry in _entries(bundle)]
    assert names == sorted(names)
    assert set(names) == {*rendered.files, "tfrunner.py", "terraform-checksums.json"}
    with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
        for name, content in rendered.files.items():
            assert archive.read(name) == content
        assert archive.read("tfrunner.py") == b"print('runner')\n"


def test_bundle_entries_have_fixed_timestamps_and_modes(build_files_dir: Path) -> None:
    bundle = build_bundle(
        render_workspace(operator_config(), state_bucket=STATE_BUCKET), extra_files_dir=build_files_dir
    )

    for entry in _entries(bundle):
        assert entry.date_time == (1980, 1, 1, 0, 0, 0)
        assert entry.external_attr >> 16 == 0o100644
        assert entry.compress_type == zipfile.ZIP_DEFLATED


def test_bundle_skips_caches_and_package_markers(build_files_dir: Path) -> None:
    bundle = build_bundle(
        render_workspace(operator_config(), state_bucket=STATE_BUCKET), extra_files_dir=build_files_dir
    )

    names = {entry.filename for entry in _entries(bundle)}
    assert "__init__.py" not in names
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)


def test_nested_build_files_keep_their_relative_path(build_files_dir: Path) -> None:
    (build_files_dir / "scripts").mkdir()
    (build_files_dir / "scripts" / "extra.sh").write_text("true\n", encoding="utf-8")
    bundle = build_bundle(
        render_workspace(operator_config(), state_bucket=STATE_BUCKET), extra_files_dir=build_files_dir
    )

    assert "scripts/extra.sh" in {entry.filename for entry in _entries(bundle)}


def test_missing_runner_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    rendered = render_workspace(operator_config(), state_bucket=STATE_BUCKET)
    with pytest.raises(FileNotFoundError, match=r"tfrunner\.py"):
        build_bundle(rendered, extra_files_dir=tmp_path / "empty")
    with pytest.raises(FileNotFoundError):
        build_bundle(rendered, extra_files_dir=tmp_path / "does-not-exist")


def test_a_build_file_may_not_shadow_a_rendered_file(build_files_dir: Path) -> None:
    (build_files_dir / "main.tf.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"main\.tf\.json"):
        build_bundle(render_workspace(operator_config(), state_bucket=STATE_BUCKET), extra_files_dir=build_files_dir)


def test_default_build_files_come_from_the_layer_package() -> None:
    package_dir = Path(__file__).resolve().parents[3] / "layers/core/wandb_deployer/terraform_build"
    bundle = build_bundle(render_workspace(operator_config(), state_bucket=STATE_BUCKET))

    names = {entry.filename for entry in _entries(bundle)}
    assert {"tfrunner.py", "planfiles.py", "terraform-checksums.json", "build-requirements.txt"} <= names
    assert "buildspec.yml" not in names  # it lives in the CodeBuild project
    assert "__init__.py" not in names
    expected = {
        path.name
        for path in package_dir.iterdir()
        if path.is_file() and path.name != "__init__.py" and not path.name.endswith(".pyc")
    }
    assert expected <= names
