"""boto3 clients, created once per process with botocore retries in `standard` mode (house rule 6).

boto3 honours AWS_ENDPOINT_URL, so the same code talks to AWS or to the sandbox's emulator.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)


@cache
def client(service: str, region: str | None = None) -> Any:
    """A cached boto3 client for `service` (tests clear the cache with `client.cache_clear()`)."""
    return boto3.client(service, region_name=region, config=_RETRIES)
