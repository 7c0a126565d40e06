"""The installed `terraform` script as a subprocess against moto in server mode (as the sandbox's CodeBuild runs it),
including a killed build that leaves the state lock behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.unit.terraform_emulation.workspaces import (
    LICENSE_SECRET,
    STATE_BUCKET,
    STATE_KEY,
    TERRAFORM_VERSION,
    render_workspace,
)
from wbd.sandbox.terraform_emulation.install import install_terraform_emulation

pytestmark = pytest.mark.unit


@pytest.fixture
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # Server mode shares moto's in-process backends: start every test from an empty emulator.
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10).close()
    try:
        yield url
    finally:
        server.stop()


@pytest.fixture
def build_env(endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)  # for this test's own boto3 clients
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=STATE_BUCKET)
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("WBD_", "TF_VAR_", "PYTEST"))}
    environment.update(
        {
            "AWS_ENDPOINT_URL": endpoint,
            "TF_VAR_license": LICENSE_SECRET,
            "WBD_SANDBOX_TIME_SCALE": "100",
            "WBD_TERRAFORM_VERSION": TERRAFORM_VERSION,
        }
    )
    return environment


@pytest.fixture
def script(tmp_path: Path) -> Path:
    return install_terraform_emulation(tmp_path / "bin")


def run(script: Path, workdir: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(script), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_install_writes_an_executable_terraform(script: Path) -> None:
    assert script.name == "terraform"
    assert os.access(script, os.X_OK)
    assert script.read_text().startswith(f"#!{sys.executable}\n")


def test_full_cycle_as_a_subprocess(tmp_path: Path, script: Path, build_env: dict[str, str]) -> None:
    workdir = tmp_path / "build"
    workdir.mkdir()
    render_workspace(workdir)
    version = run(script, workdir, build_env, "version", "-json")
    assert json.loads(version.stdout)["emulation"] == "wandb-deployer sandbox"
    assert run(script, workdir, build_env, "init", "-input=false", "-no-color", "-lock-timeout=300s").returncode == 0
    plan = run(script, workdir, build_env, "plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode")
    assert plan.returncode == 2, plan.stderr
    shown = run(script, workdir, build_env, "show", "-json", "tfplan")
    assert json.loads(shown.stdout)["format_version"] == "1.2"
    applied = run(script, workdir, build_env, "apply", "-input=false", "-no-color", "-lock-timeout=5m", "tfplan")
    assert applied.returncode == 0, applied.stderr
    outputs = json.loads(run(script, workdir, build_env, "output", "-json").stdout)
    name = outputs["bucket_name"]["value"]
    notification = boto3.client("s3", region_name="us-east-1").get_bucket_notification_configuration(Bucket=name)
    assert notification["QueueConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"]
    again = run(script, workdir, build_env, "plan", "-input=false", "-out=tfplan", "-detailed-exitcode")
    assert again.returncode == 0, again.stderr
    for result in (version, plan, shown, applied, again):
        assert LICENSE_SECRET not in result.stdout + result.stderr


def test_killed_build_leaves_the_state_lock(tmp_path: Path, script: Path, build_env: dict[str, str]) -> None:
    workdir = tmp_path / "build"
    workdir.mkdir()
    render_workspace(workdir)
    assert run(script, workdir, build_env, "init", "-input=false").returncode == 0
    hanging = subprocess.Popen(
        [str(script), "plan", "-input=false", "-out=tfplan"],
        cwd=workdir,
        env={**build_env, "WBD_SANDBOX_FAULT_TERRAFORM": "hang"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    s3 = boto3.client("s3", region_name="us-east-1")
    lock_key = f"{STATE_KEY}.tflock"
    try:
        deadline = time.monotonic() + 30
        while not s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=lock_key).get("Contents"):
            assert hanging.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        hanging.send_signal(signal.SIGKILL)
        hanging.wait(timeout=30)
    lock = json.loads(s3.get_object(Bucket=STATE_BUCKET, Key=lock_key)["Body"].read())
    assert lock["Operation"] == "OperationTypePlan"

    blocked = run(script, workdir, build_env, "plan", "-input=false", "-no-color", "-lock-timeout=2s")
    assert blocked.returncode == 1
    assert "Error acquiring the state lock" in blocked.stderr and lock["ID"] in blocked.stderr
    assert run(script, workdir, build_env, "force-unlock", "-force", lock["ID"]).returncode == 0
    assert run(script, workdir, build_env, "plan", "-input=false", "-detailed-exitcode").returncode == 2
