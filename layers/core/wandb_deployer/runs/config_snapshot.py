"""Snapshots of a deployment's desired config, so a run can say what changed since the last applied one.

Every run stores the config it loaded as `SNAPSHOT#<fingerprint>` (content-addressed: the same config is one item):
each parameter as SSM holds it (`<section>/<key>` -> string). Secrets are never stored: a SecureString is kept as a
short domain-separated digest that only tells whether it changed. The `APPLIED` item names the fingerprint of the
last applied config, so its snapshot is the baseline of the next run: the changes it shows, and the versions the
upgrade guards compare with.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import ALLOW_DOWNGRADE_KEY, MASK, config_to_parameters
from wandb_deployer.runs import aws_failure, from_item, iso, item_key, to_item, utc_now

SNAPSHOT_PREFIX = "SNAPSHOT#"  # sorts after RUN#: neither the status query nor the run listing reads snapshots
DIGEST_PREFIX = "digest:"  # a SecureString in a snapshot: a digest of it, never its value
_DIGEST_DOMAIN = b"wandb-deployer/snapshot-secret/v1\x00"
_PREFIX = "/p"


class ConfigSnapshot(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    fingerprint: str
    recorded_at: str
    values: dict[str, str] = Field(default_factory=dict)
    types: dict[str, str] = Field(default_factory=dict)  # SSM type of each non-String parameter (rollback writes it)


class ConfigChange(BaseModel):
    """One parameter that differs between two snapshots; secret values are masked (`********`)."""

    model_config = ConfigDict(frozen=True)

    key: str
    before: str | None = None  # None: the parameter did not exist
    after: str | None = None
    masked: bool = False  # a SecureString: before and after are shown as ********


def _secret_digest(key: str, value: str) -> str:
    digest = hashlib.sha256(_DIGEST_DOMAIN + key.encode() + b"\x00" + value.encode("utf-8")).hexdigest()
    return DIGEST_PREFIX + digest[:16]


def snapshot_values(config: DeploymentConfig) -> dict[str, str]:
    """`<section>/<key>` -> the value as SSM holds it; SecureStrings as a digest, deployer/allow_downgrade left out.

    A run never decrypts the license or the API key: what it loaded stands for them by its parameter version
    (`DeploymentConfig.secret_versions`), digested the same way, so a new version shows as a (masked) change."""
    base = f"{_PREFIX}/{config.deployment}/"
    values: dict[str, str] = {}
    for name, parameter in config_to_parameters(config, prefix=_PREFIX).items():
        key = name.removeprefix(base)
        if key == f"deployer/{ALLOW_DOWNGRADE_KEY}":
            continue
        values[key] = _secret_digest(key, parameter.value) if parameter.type == "SecureString" else parameter.value
    for key, version in sorted(config.secret_versions.items()):
        values.setdefault(key, _secret_digest(key, f"parameter version {version}"))
    return values


def snapshot_types(config: DeploymentConfig) -> dict[str, str]:
    """`<section>/<key>` -> SSM type, for the parameters of `config` that are not plain Strings."""
    base = f"{_PREFIX}/{config.deployment}/"
    return {
        name.removeprefix(base): parameter.type
        for name, parameter in config_to_parameters(config, prefix=_PREFIX).items()
        if parameter.type != "String"
    }


def shown(value: str | None) -> str | None:
    """A snapshot value as people may see it."""
    return MASK if value is not None and value.startswith(DIGEST_PREFIX) else value


def config_changes(before: Mapping[str, str] | None, after: Mapping[str, str]) -> list[ConfigChange]:
    """What differs from `before` (None: nothing was applied yet, every parameter is new) to `after`, by key."""
    previous = before or {}
    changes = []
    for key in sorted(set(previous) | set(after)):
        old, new = previous.get(key), after.get(key)
        if old == new:
            continue
        secret = any(v is not None and v.startswith(DIGEST_PREFIX) for v in (old, new))
        changes.append(ConfigChange(key=key, before=shown(old), after=shown(new), masked=secret))
    return changes


def store_snapshot(
    *,
    deployment: str,
    fingerprint: str,
    values: Mapping[str, str],
    table: str,
    dynamodb: Any,
    types: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> None:
    item: dict[str, object] = {"fingerprint": fingerprint, "recorded_at": iso(utc_now(now)), "values": dict(values)}
    if types:
        item["types"] = dict(types)
    try:
        dynamodb.put_item(
            TableName=table, Item={**item_key(deployment, SNAPSHOT_PREFIX + fingerprint), **to_item(item)}
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="PutItem config snapshot") from exc


def read_snapshot(*, deployment: str, fingerprint: str, table: str, dynamodb: Any) -> ConfigSnapshot | None:
    try:
        response = dynamodb.get_item(
            TableName=table, Key=item_key(deployment, SNAPSHOT_PREFIX + fingerprint), ConsistentRead=True
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="GetItem config snapshot") from exc
    item = response.get("Item")
    return ConfigSnapshot.model_validate(from_item(item)) if item else None
