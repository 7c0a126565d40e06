"""What the sandbox made of a template's resources: one record per logical id, and functions as the router sees them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ProvisionedResource:
    """What the sandbox made of one logical resource."""

    logical_id: str
    type: str
    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "created"  # created | skipped
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class FunctionSpec:
    """A function as the in-process Lambda router needs it."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    role_arn: str = ""  # the function's execution role: its handler runs with a session of it
