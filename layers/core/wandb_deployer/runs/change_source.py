"""Which kind of change started a run: `wbd config push`, an accepted upgrade, or any other parameter write.

AWS's `Parameter Store Change` event names the parameter, never its value or version, and a parameter's description
survives later writes that give none, so neither tells who wrote the current value. The deployer's own writers
(`wbd config push`, the upgrade function) therefore note, before writing, which version of each parameter their write
creates (`WRITE#<section>/<key>` items, expiring after a day); the trigger reads the parameter's current version and
compares. A later hand edit creates another version: it is a `parameter-change`. The writers also describe what they
write (`wandb-deployer push by <who> at <time>`) for people reading the parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from wandb_deployer.config.parameters import DesiredParameter, ParameterDiff
from wandb_deployer.runs import aws_failure, epoch, from_item, iso, item_key, to_item, utc_now

ChangeSource = Literal["push", "upgrade", "rollback"]
WRITE_PREFIX = "WRITE#"  # sorts after RUN#: neither the status query nor the run listing reads these
WRITE_NOTE_TTL = timedelta(days=1)
_WHO = re.compile(r"[^A-Za-z0-9_.@+=,:/-]")


class WriteNote(BaseModel):
    """A deployer writer's note: which version of one parameter its write creates."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    source: ChangeSource
    version: int
    by: str
    at: str


def describe_change(source: ChangeSource, who: str, now: datetime | None = None) -> str:
    """The description a deployer writer puts on the parameters it writes (at most 1024 characters, as SSM allows)."""
    return f"wandb-deployer {source} by {_WHO.sub('-', who)[:200] or 'unknown'} at {iso(utc_now(now))}"


def _key(parameter_name: str) -> str:
    """`<section>/<key>` of `<prefix>/<deployment>/<section>/<key>`."""
    return "/".join(parameter_name.rsplit("/", 2)[-2:])


def note_writes(
    *,
    deployment: str,
    source: ChangeSource,
    by: str,
    versions: Mapping[str, int],
    table: str,
    dynamodb: Any,
    now: datetime | None = None,
) -> None:
    """Note, before writing, the version each parameter (full name -> version its write creates) will have."""
    moment = utc_now(now)
    for name, version in versions.items():
        note = WriteNote(source=source, version=version, by=_WHO.sub("-", by)[:200] or "unknown", at=iso(moment))
        item = {**note.model_dump(), "expires_at": epoch(moment + WRITE_NOTE_TTL)}
        try:
            dynamodb.put_item(
                TableName=table, Item={**item_key(deployment, WRITE_PREFIX + _key(name)), **to_item(item)}
            )
        except ClientError as exc:
            raise aws_failure(exc, operation="PutItem write note") from exc


def change_source(
    *, deployment: str, parameter_name: str, version: int | None, table: str, dynamodb: Any
) -> ChangeSource | None:
    """`push` or `upgrade` when a deployer writer noted this very version of the parameter; None for any other write."""
    if version is None:
        return None
    try:
        response = dynamodb.get_item(
            TableName=table, Key=item_key(deployment, WRITE_PREFIX + _key(parameter_name)), ConsistentRead=True
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="GetItem write note") from exc
    item = response.get("Item")
    if not item:
        return None
    note = WriteNote.model_validate(from_item(item))
    return note.source if note.version == version else None


def next_versions(diff: ParameterDiff, current: Mapping[str, DesiredParameter]) -> dict[str, int]:
    """The version each write of `diff` creates. SSM numbers a parameter's versions from 1 and adds one per overwrite;
    `write_parameters` deletes and re-creates a parameter whose type changes, which starts again at 1."""
    versions = {change.name: 1 for change in diff.added}
    for change in diff.changed:
        before = current.get(change.name)
        recreated = change.before_type != change.after_type
        versions[change.name] = 1 if before is None or before.version is None or recreated else before.version + 1
    return versions
