"""The S3 backend's native state lock (`use_lockfile`): `<key>.tflock` created with If-None-Match, retried until
-lock-timeout. Every wait is divided by WBD_SANDBOX_TIME_SCALE."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from wbd.sandbox.terraform_emulation.environment import emulator_client, read_environment
from wbd.sandbox.terraform_emulation.errors import StateLockError, StateUnlockError, UsageError
from wbd.sandbox.terraform_emulation.workspace import S3Backend

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RETRY_SECONDS = 1.0
_LOCK_EXPLANATION = (
    "Terraform acquires a state lock to protect the state from being written\n"
    "by multiple users at the same time. Please resolve the issue above and try\n"
    'again. For most commands, you can disable locking with the "-lock=false"\n'
    "flag, but this is not recommended."
)


def parse_duration(text: str) -> float:
    """Seconds in a Go duration like `300s`, `5m`, `1m30s` (a bare `0` is allowed, as in Go)."""
    if text == "0":
        return 0.0
    position = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if position != len(text) or not text:
        raise UsageError(f"invalid duration {text!r} (expected for example 300s or 5m)")
    return total


def _lock_info(backend: S3Backend, operation: str) -> dict[str, Any]:
    environment = read_environment()
    return {
        "ID": str(uuid.uuid4()),
        "Operation": operation,
        "Info": "",
        "Who": environment.who,
        "Version": environment.terraform_version,
        "Created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "Path": backend.path,
    }


def read_lock(backend: S3Backend) -> dict[str, Any] | None:
    s3 = emulator_client("s3", backend.region)
    try:
        body = s3.get_object(Bucket=backend.bucket, Key=backend.lock_key)["Body"].read()
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in {"NoSuchKey", "404"}:
            return None
        raise StateLockError(f"cannot read the lock file: {exc.response.get('Error', {}).get('Code')}") from exc
    try:
        info = json.loads(body)
    except ValueError:
        return {"ID": "", "Info": "unreadable lock file"}
    return info if isinstance(info, dict) else {"ID": ""}


def format_lock_info(info: dict[str, Any]) -> str:
    names = ("ID", "Path", "Operation", "Who", "Version", "Created", "Info")
    return "Lock Info:\n" + "\n".join(f"  {name + ':':<10} {info.get(name, '')}" for name in names)


def _try_create(backend: S3Backend, info: dict[str, Any]) -> bool:
    s3 = emulator_client("s3", backend.region)
    try:
        s3.put_object(
            Bucket=backend.bucket,
            Key=backend.lock_key,
            Body=json.dumps(info).encode(),
            ContentType="application/json",
            IfNoneMatch="*",
            **backend.encryption,
        )
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in {
            "PreconditionFailed",
            "412",
            "ConditionalRequestConflict",
        }:
            return False
        raise StateLockError(f"cannot write the lock file: {exc.response.get('Error', {}).get('Code')}") from exc
    return True


@contextmanager
def state_lock(backend: S3Backend, operation: str, timeout_seconds: float) -> Iterator[dict[str, Any] | None]:
    """Hold the state lock for the block (no-op without use_lockfile); yields the lock info or None."""
    if not backend.use_lockfile:
        yield None
        return
    scale = read_environment().time_scale
    info = _lock_info(backend, operation)
    deadline = time.monotonic() + timeout_seconds / scale
    while not _try_create(backend, info):
        if time.monotonic() >= deadline:
            holder = read_lock(backend) or {}
            raise StateLockError(
                "Error message: operation error S3: PutObject, https response error StatusCode: 412, "
                "api error PreconditionFailed: At least one of the pre-conditions you specified did not hold\n"
                f"{format_lock_info(holder)}\n\n{_LOCK_EXPLANATION}"
            )
        time.sleep(max(0.01, min(_RETRY_SECONDS / scale, deadline - time.monotonic())))
    try:
        yield info
    finally:
        _release(backend, info)


def _release(backend: S3Backend, info: dict[str, Any]) -> None:
    """As Terraform's S3 backend unlocks (client.go, unlockWithFile): read the lock file, check it is this operation's
    lock, then delete it."""
    holder = read_lock(backend)
    if holder is not None and holder.get("ID") != info.get("ID"):
        raise StateUnlockError(f"lock ID {info.get('ID')!r} does not match existing lock ID {holder.get('ID')!r}")
    _delete_lock(backend)


def _delete_lock(backend: S3Backend) -> None:
    s3 = emulator_client("s3", backend.region)
    try:
        s3.delete_object(Bucket=backend.bucket, Key=backend.lock_key)
    except ClientError as exc:
        raise StateUnlockError(f"cannot delete the lock file: {exc.response.get('Error', {}).get('Code')}") from exc


def force_unlock(backend: S3Backend, lock_id: str) -> None:
    """`force-unlock -force LOCK_ID`: remove the lock only when its ID matches."""
    holder = read_lock(backend)
    if holder is None:
        raise StateUnlockError(f"failed to retrieve lock info for lock ID {lock_id!r}: no lock file {backend.lock_key}")
    if holder.get("ID") != lock_id:
        raise StateUnlockError(f"lock ID {lock_id!r} does not match existing lock ID {holder.get('ID')!r}")
    _delete_lock(backend)
