"""Fixtures of the config tests: a mocked SSM."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws


@pytest.fixture
def ssm() -> Iterator[Any]:
    """A mocked SSM client (moto started before any client exists)."""
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")
