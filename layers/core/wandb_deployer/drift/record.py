"""Drift records: a stable fingerprint of what drifted, and the transition since the last check.

The scheduled drift check notifies only on a transition that matters: drift that is new, drift that changed, and drift
that was resolved. The same drift seen again is `unchanged`; no drift twice is `clean`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.errors import TransientAwsError
from wandb_deployer.runs import (
    aws_failure,
    is_condition_failure,
    iso,
    item_key,
    read_item,
    scrub_secrets,
    to_item,
    utc_now,
)
from wandb_deployer.states import Finding

logger = Logger(child=True)

DRIFT_SK = "DRIFT"
DriftTransition = Literal["new", "changed", "unchanged", "resolved", "clean"]
NOTIFYING_TRANSITIONS: frozenset[str] = frozenset({"new", "changed", "resolved"})
_ATTEMPTS = 3


class DriftState(BaseModel):
    """The `DRIFT` item: the last drift check's outcome."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: Literal["drifted", "clean"]
    fingerprint: str | None = None
    first_seen_at: str | None = None
    checked_at: str
    resolved_at: str | None = None
    revision: int = 0
    summary: dict[str, Any] = Field(default_factory=dict)


def drift_fingerprint(resource_drift: Sequence[Mapping[str, Any]], findings: Sequence[Finding]) -> str | None:
    """sha256 over the drifted addresses with their actions and the codes of error/warning findings; None: no drift.

    Independent of ordering (of resources, of actions, of findings) and of finding messages, which may carry
    changing values.
    """
    resources = sorted(
        {
            (str(entry["address"]), tuple(sorted({str(action) for action in entry.get("actions", [])})))
            for entry in resource_drift
        }
    )
    codes = sorted({(finding.code, finding.severity) for finding in findings if finding.severity != "info"})
    if not resources and not codes:
        return None
    canonical = json.dumps({"resources": resources, "findings": codes}, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def read_drift(*, deployment: str, table: str, dynamodb: Any) -> DriftState | None:
    item = read_item(deployment=deployment, sk=DRIFT_SK, table=table, dynamodb=dynamodb, what="drift")
    return DriftState.model_validate(item) if item else None


def drift_transition(previous: DriftState | None, fingerprint: str | None) -> DriftTransition:
    if fingerprint is None:
        return "resolved" if previous is not None and previous.status == "drifted" else "clean"
    if previous is None or previous.status == "clean":
        return "new"
    return "unchanged" if previous.fingerprint == fingerprint else "changed"


def record_drift(
    *,
    deployment: str,
    fingerprint: str | None,
    summary: Mapping[str, object],
    table: str,
    dynamodb: Any,
    now: datetime | None = None,
) -> DriftTransition:
    """Store this check's drift and return its transition; notify only on `NOTIFYING_TRANSITIONS`."""
    moment = iso(utc_now(now))
    for _ in range(_ATTEMPTS):
        previous = read_drift(deployment=deployment, table=table, dynamodb=dynamodb)
        transition = drift_transition(previous, fingerprint)
        values: dict[str, object] = {
            "status": "clean" if fingerprint is None else "drifted",
            "fingerprint": fingerprint,
            "checked_at": moment,
            "revision": (previous.revision if previous else 0) + 1,
            "summary": scrub_secrets(dict(summary)),
        }
        if transition == "unchanged" and previous is not None:
            values["first_seen_at"] = previous.first_seen_at
        elif transition in {"new", "changed"}:
            values["first_seen_at"] = moment
        if transition == "resolved":
            values["resolved_at"] = moment
        try:
            dynamodb.put_item(
                TableName=table,
                Item={**item_key(deployment, DRIFT_SK), **to_item(values)},
                ConditionExpression="attribute_not_exists(pk) OR revision = :revision",
                ExpressionAttributeValues={":revision": {"N": str(previous.revision if previous else 0)}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                continue  # another check wrote in between: compare with its record
            raise aws_failure(exc, operation="PutItem drift") from exc
        logger.info("drift recorded", deployment=deployment, transition=transition, fingerprint=fingerprint)
        return transition
    raise TransientAwsError(f"deployment {deployment!r}: the drift record kept changing while recording drift")
