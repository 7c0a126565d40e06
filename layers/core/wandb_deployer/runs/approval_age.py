"""How long approvals have been waiting: what the scheduled approval check measures for the `ApprovalWaiting` alarm.

A run that waits for a human holds its deployment's lock (no other change deploys meanwhile), so an approval nobody
answers is an outage of the deployer for that deployment. The check reads every `APPROVAL` item (a Scan of the table
for that sort key, projecting neither the task token nor anything else it does not need) and reports the age of each
pending one; the handler emits the oldest as a metric, which the alarm compares with `ApprovalAlarmSeconds`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from wandb_deployer.runs import aws_failure, epoch, from_item, parse_iso, utc_now
from wandb_deployer.runs.approval import APPROVAL_SK

_PK_PREFIX = "DEPLOYMENT#"
_PROJECTION = "pk, execution_arn, plan_sha256, requested_at, expires_at"


class WaitingApproval(BaseModel):
    """One pending approval and how long it has waited (never its task token)."""

    model_config = ConfigDict(frozen=True)

    deployment: str
    execution_arn: str
    plan_sha256: str
    requested_at: str
    age_seconds: int


def waiting_approvals(*, table: str, dynamodb: Any, now: datetime | None = None) -> list[WaitingApproval]:
    """Every deployment's pending approval, oldest first; expired ones (the run has timed out) are left out."""
    moment = utc_now(now)
    found: list[WaitingApproval] = []
    try:
        for page in dynamodb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="sk = :sk",
            ExpressionAttributeValues={":sk": {"S": APPROVAL_SK}},
            ProjectionExpression=_PROJECTION,
            ConsistentRead=True,
        ):
            for raw in page.get("Items", []):
                item = from_item(raw)
                if int(item.get("expires_at") or 0) <= epoch(moment):
                    continue
                requested_at = str(item["requested_at"])
                found.append(
                    WaitingApproval(
                        deployment=str(item["pk"]).removeprefix(_PK_PREFIX),
                        execution_arn=str(item["execution_arn"]),
                        plan_sha256=str(item["plan_sha256"]),
                        requested_at=requested_at,
                        age_seconds=max(0, int((moment - parse_iso(requested_at)).total_seconds())),
                    )
                )
    except ClientError as exc:
        raise aws_failure(exc, operation="Scan approvals") from exc
    return sorted(found, key=lambda approval: approval.age_seconds, reverse=True)
