"""Installing the pinned Terraform: a matching binary on PATH, or a verified download (local HTTP server)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.terraform_build.conftest import FAKE_TERRAFORM, RUNNER_DIR, FakeTerraform

pytestmark = pytest.mark.unit


def release_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("LICENSE.txt", "not the binary")
        archive.writestr("terraform", "#!/bin/sh\necho fake terraform release\n")
    return buffer.getvalue()


class ReleaseServer:
    def __init__(self, body: bytes) -> None:
        self.body = body
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests.append(self.path)
                if not self.path.endswith(".zip"):
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> ReleaseServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def releases() -> Iterator[ReleaseServer]:
    with ReleaseServer(release_zip()) as server:
        yield server


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A build image without terraform: nothing on PATH; the cwd is the build directory."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    return workspace


def test_the_checksum_file_pins_real_sha256_values_for_the_supported_versions() -> None:
    checksums = json.loads((RUNNER_DIR / "terraform-checksums.json").read_text(encoding="utf-8"))
    for version in ("1.9.8", "1.10.5"):
        for arch in ("linux_amd64", "linux_arm64"):
            value = checksums[f"{version}/{arch}"]
            assert len(value) == 64
            assert int(value, 16) >= 0


def test_a_download_whose_sha256_matches_the_pin_is_installed(
    tfrunner: ModuleType, releases: ReleaseServer, tmp_path: Path
) -> None:
    pinned = {"1.9.8/linux_amd64": hashlib.sha256(releases.body).hexdigest()}

    binary = tfrunner.install_terraform(
        "1.9.8", bin_dir=tmp_path / "bin", checksums=pinned, releases_url=releases.url, arch="linux_amd64"
    )

    assert releases.requests == ["/terraform/1.9.8/terraform_1.9.8_linux_amd64.zip"]
    assert binary == tmp_path / "bin" / "terraform"
    assert binary.read_text() == "#!/bin/sh\necho fake terraform release\n"
    assert binary.stat().st_mode & 0o111
    assert sorted(p.name for p in (tmp_path / "bin").iterdir()) == ["terraform"]


def test_a_download_whose_sha256_differs_from_the_pin_is_refused(
    tfrunner: ModuleType, releases: ReleaseServer, empty_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    # Given the real pinned checksums and a release server serving something else
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", "1.9.8")
    monkeypatch.setenv("TERRAFORM_RELEASES_URL", releases.url)
    monkeypatch.setattr(tfrunner.platform, "machine", lambda: "x86_64")

    # When the install phase runs
    assert tfrunner.main(["install"]) == 1

    # Then nothing is installed and the log says why
    assert releases.requests == ["/terraform/1.9.8/terraform_1.9.8_linux_amd64.zip"]
    assert not (empty_path / ".wbd" / "bin" / "terraform").exists()
    assert "ChecksumMismatch" in capfd.readouterr().err
    with pytest.raises(tfrunner.TerraformNotInstalled):
        tfrunner.resolve_terraform(empty_path)


def test_a_version_without_a_pinned_checksum_is_never_downloaded(
    tfrunner: ModuleType, releases: ReleaseServer, empty_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", "1.99.0")
    monkeypatch.setenv("TERRAFORM_RELEASES_URL", releases.url)

    assert tfrunner.main(["install"]) == 1

    assert releases.requests == []
    assert "UnknownTerraformVersion" in capfd.readouterr().err


def test_a_terraform_on_path_with_exactly_the_pinned_version_is_used_as_is(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, releases: ReleaseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERRAFORM_RELEASES_URL", releases.url)
    fake_terraform.configure(version="1.9.8")

    assert tfrunner.main(["install"]) == 0

    assert releases.requests == []
    assert fake_terraform.commands() == ["version"]
    assert tfrunner.resolve_terraform(fake_terraform.workspace).endswith("/bin/terraform")


def test_a_terraform_on_path_with_another_version_is_not_used(
    tfrunner: ModuleType, fake_terraform: FakeTerraform, releases: ReleaseServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERRAFORM_RELEASES_URL", releases.url)
    monkeypatch.setattr(tfrunner.platform, "machine", lambda: "aarch64")
    fake_terraform.configure(version="1.5.7")

    assert tfrunner.main(["install"]) == 1  # the served zip is not the pinned 1.9.8 release

    assert releases.requests == ["/terraform/1.9.8/terraform_1.9.8_linux_arm64.zip"]


def test_later_phases_prefer_the_installed_binary(tfrunner: ModuleType, tmp_path: Path) -> None:
    installed = tmp_path / ".wbd" / "bin" / "terraform"
    installed.parent.mkdir(parents=True)
    installed.write_text(FAKE_TERRAFORM)
    assert tfrunner.resolve_terraform(tmp_path) == str(installed)


def test_an_unreachable_release_server_fails_clearly(
    tfrunner: ModuleType, empty_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: Any
) -> None:
    with ReleaseServer(b"") as server:
        url = server.url
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", "1.10.5")
    monkeypatch.setenv("TERRAFORM_RELEASES_URL", url)  # closed: connection refused

    assert tfrunner.main(["install"]) == 1

    assert "ReleaseDownloadFailed" in capfd.readouterr().err
