"""The answer to a deployment's latest upgrade request, kept in the deployments table (`UPGRADE` item).

The notifications tell subscribers; this record lets the requester itself learn the answer (`wbd upgrade --wait`
polls for its request id) and lets `wbd status` show the last rejection with its reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.runs import aws_failure, iso, item_key, read_item, scrub_secrets, to_item, utc_now
from wandb_deployer.upgrade.guards import ParameterWrite

logger = Logger(child=True)

UPGRADE_SK = "UPGRADE"


class UpgradeOutcome(BaseModel):
    """The latest upgrade request of a deployment and what became of it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    deployment: str
    request_id: str | None = None
    accepted: bool
    requested_by: str = "unknown"
    at: str
    reasons: list[str] = Field(default_factory=list)
    changes: list[dict[str, Any]] = Field(default_factory=list)  # name, value, previous (versions only)
    notes: list[str] = Field(default_factory=list)


def record_upgrade_outcome(
    *,
    deployment: str,
    accepted: bool,
    table: str,
    dynamodb: Any,
    request_id: str | None = None,
    requested_by: str = "unknown",
    reasons: Sequence[str] = (),
    changes: Sequence[ParameterWrite] = (),
    notes: Sequence[str] = (),
    now: datetime | None = None,
) -> UpgradeOutcome:
    outcome = UpgradeOutcome(
        deployment=deployment,
        request_id=request_id,
        accepted=accepted,
        requested_by=str(scrub_secrets(requested_by, limit=128)),
        at=iso(utc_now(now)),
        reasons=[str(reason) for reason in scrub_secrets(list(reasons))],
        changes=[dict(change) for change in scrub_secrets([write.model_dump() for write in changes])],
        notes=[str(note) for note in scrub_secrets(list(notes))],
    )
    try:
        dynamodb.put_item(
            TableName=table, Item={**item_key(deployment, UPGRADE_SK), **to_item(outcome.model_dump(mode="json"))}
        )
    except ClientError as exc:
        raise aws_failure(exc, operation="PutItem upgrade outcome") from exc
    logger.info("upgrade outcome recorded", deployment=deployment, accepted=accepted, request_id=request_id)
    return outcome


def read_upgrade_outcome(*, deployment: str, table: str, dynamodb: Any) -> UpgradeOutcome | None:
    item = read_item(deployment=deployment, sk=UPGRADE_SK, table=table, dynamodb=dynamodb, what="upgrade outcome")
    return UpgradeOutcome.model_validate(item) if item else None
