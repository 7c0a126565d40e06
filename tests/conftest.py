"""Shared test fixtures: fake AWS credentials for every test, a socket guard, fresh caches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# rich sizes its tables from COLUMNS when output is not a terminal (CliRunner, CI): one width for every machine.
os.environ["COLUMNS"] = "200"

EVENTS = Path(__file__).parent / "events"
REPO = Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto's docs: fake credentials before any client exists, so nothing can reach a real account."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_METRICS_NAMESPACE": "WandbDeployerTest",
        "POWERTOOLS_SERVICE_NAME": "wandb-deployer-test",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    """Settings and boto3 clients are cached per process; every test starts with none."""
    from wandb_deployer.aws_clients import client
    from wandb_deployer.settings import get_settings

    client.cache_clear()
    get_settings.cache_clear()
    yield
    client.cache_clear()
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def socket_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Unit tests never leave the machine: only loopback sockets are allowed (local stand-in servers)."""
    from pytest_socket import socket_allow_hosts

    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test declares what it is: `unit` (moto in-process, loopback only), `e2e` (the sandbox) or `network`
    (needs the Terraform registry; skipped without it)."""
    kinds = {"unit", "e2e", "network"}
    unmarked = [item.nodeid for item in items if not (kinds & {mark.name for mark in item.iter_markers()})]
    if unmarked:
        raise pytest.UsageError("tests without a unit/e2e/network marker: " + ", ".join(unmarked[:10]))
