"""e2e fixtures: a fresh sandbox per test (function-scoped); stopping it cleans up servers, threads and files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from wbd.sandbox import Sandbox
from wbd.sandbox_driver import SandboxDriver, running_deployer

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).parent.parent.parent

SandboxFactory = Callable[..., Sandbox]


@pytest.fixture
def sandbox_factory(tmp_path: Path) -> Iterator[SandboxFactory]:
    """Start sandboxes on demand (one at a time): `sandbox_factory(repo_root=..., time_scale=..., parameters=...)`.

    Defaults to the engine's fixture stack in tests/e2e/fixtures; pass `repo_root=REPO` for the real template.yaml.
    """
    started: list[Sandbox] = []

    def start(repo_root: Path = FIXTURES, **options: Any) -> Sandbox:
        options.setdefault("work_dir", tmp_path / f"sandbox-{len(started)}")
        sandbox = Sandbox(repo_root, **options)
        started.append(sandbox)
        sandbox.start()
        return sandbox

    yield start
    for sandbox in reversed(started):
        sandbox.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    """A running sandbox of the fixture stack, time compressed 100x."""
    return sandbox_factory()


@pytest.fixture
def deployer(tmp_path: Path) -> Iterator[SandboxDriver]:
    """The real template.yaml, state machines and handlers in a fresh sandbox, with the Terraform emulation and a
    W&B stand-in; drive it as an operator would (push, put, approve, wait)."""
    with running_deployer(REPO, time_scale=100.0, work_dir=tmp_path / "deployer") as driver:
        yield driver


OPERATOR_EXAMPLE = REPO / "examples" / "operator.yaml"
LEGACY_EXAMPLE = REPO / "examples" / "legacy.yaml"
# The operator example uses W&B's internal queue, as the module's own examples do (from 4.0.0 the module passes W&B no
# queue). Tests about the S3 -> SQS wiring the module still creates with `use_internal_queue: false` push it with this.
MODULE_QUEUE: dict[str, object] = {"use_internal_queue": False}
