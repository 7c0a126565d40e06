"""Summarise a saved plan: counts of creates, updates, deletes and replaces, and the destructive changes on data.

`terraform show -json` of a W&B plan with thousands of resources is tens of megabytes, and this runs in a 512 MB
Lambda, so the document is never loaded whole: `PlanReader` scans it in chunks, skips every top-level value except the
`resource_changes` array, and decodes that array one element at a time. Of each element only the address, the type and
the actions are kept (and which attributes change, to tell a tags-only update); no attribute value (before, after,
sensitive or not) ever leaves the element being decoded.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from collections.abc import Iterator
from typing import Any, BinaryIO

from aws_lambda_powertools import Logger
from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.config.model import ApprovalPolicy
from wandb_deployer.errors import PlanNotFoundError
from wandb_deployer.plan.destructive import ChangeAction, change_action, data_held_by, is_destructive
from wandb_deployer.plan.snapshot_decision import SNAPSHOT_CLUSTER_TYPE
from wandb_deployer.states import ChangeCounts, PlanSummary, S3Pointer
from wandb_deployer.verification.aws_calls import aws_call

logger = Logger(child=True)

PLAN_JSON = "plan.json"
PLAN_RESULT = "plan-result.json"
PLAN_SUMMARY = "plan-summary.json"
DESTRUCTIVE_IN_PAYLOAD = 20  # addresses a state-machine payload carries; the summary file has all of them
CHUNK_BYTES = 1 << 18
_NOT_FOUND = ("NoSuchKey", "NoSuchBucket", "404", "NotFound")

_NON_SPACE = re.compile(r"\S")
_NUMBER_GOES_ON = frozenset(".eE+-")
_JSON = json.JSONDecoder()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class PlannedChange(BaseModel):
    model_config = ConfigDict(frozen=True)

    address: str
    type: str
    action: ChangeAction


class DestructiveChange(PlannedChange):
    holds: str  # what the change would lose, for example "database"


class PlanDigest(BaseModel):
    """What a plan changes, by address; never an attribute value."""

    counts: ChangeCounts
    resources: int  # elements of `resource_changes` read (no-ops and reads included)
    changes: list[PlannedChange]  # the first `max_listed` changes, in plan order
    changes_truncated: bool
    destructive: list[DestructiveChange]  # every destructive change on data or identity, in plan order
    database_clusters: list[str] = Field(default_factory=list)  # identifiers of the Aurora clusters that exist

    @property
    def destructive_count(self) -> int:
        return len(self.destructive)


class PlanReader:
    """Yields the elements of the top-level `resource_changes` array of a plan JSON document read in chunks.

    Values are decoded by the C JSON scanner once they are whole in the buffer. A value cut by the end of the buffer
    is read on: a container is descended into (its members are skipped one by one, so the buffer never holds a whole
    `planned_values`), anything else waits for the next chunk. Only the elements of `resource_changes` are kept.
    """

    def __init__(self, stream: BinaryIO, chunk_bytes: int = CHUNK_BYTES) -> None:
        self._stream = stream
        self._chunk_bytes = chunk_bytes
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._eof = False

    def resource_changes(self) -> Iterator[Any]:
        self._expect("{")
        if self._peek() == "}":
            return
        while True:
            key = self._value()
            self._expect(":")
            if key == "resource_changes" and self._peek() == "[":
                yield from self._elements()
            else:
                self._skip_value()
            if self._separator("}"):
                return

    def _elements(self) -> Iterator[Any]:
        self._expect("[")
        if self._peek() == "]":
            self._pos += 1
            return
        while True:
            yield self._value()
            if self._separator("]"):
                return

    def _separator(self, closer: str) -> bool:
        """Consume a `,` (False: more members follow) or the closer (True); anything else is malformed."""
        following = self._peek()
        self._pos += 1
        if following == closer:
            return True
        if following != ",":
            raise self._malformed()
        return False

    def _more(self) -> None:
        """Read the next chunk, dropping what lies before the current position; malformed at the end."""
        if self._eof:
            raise self._malformed()
        self._buf = self._buf[self._pos :]
        self._pos = 0
        raw = self._stream.read(self._chunk_bytes)
        self._eof = not raw
        try:
            self._buf += self._decoder.decode(raw, final=self._eof)
        except UnicodeDecodeError as exc:
            raise self._malformed() from exc

    def _peek(self) -> str:
        """The next non-space character (not consumed); raises at the end of the document."""
        while True:
            found = _NON_SPACE.search(self._buf, self._pos)
            if found is not None:
                self._pos = found.start()
                return found.group()
            self._pos = len(self._buf)
            self._more()

    def _expect(self, char: str) -> None:
        if self._peek() != char:
            raise self._malformed()
        self._pos += 1

    def _decoded_here(self) -> tuple[Any, int] | None:
        """The value at the current position and where it ends, or None when the buffer ends inside it."""
        try:
            value, end = _JSON.raw_decode(self._buf, self._pos)
        except ValueError as exc:
            if self._eof:
                raise self._malformed() from exc
            return None
        # A value must be followed by something (`,`, `]`, `}`): a number cut by the chunk end decodes short, at the
        # end of the buffer or, cut after its `.`, `e` or exponent sign, just before one of those (`12.` reads as 12).
        cut = end == len(self._buf) or (_is_number(value) and self._buf[end] in _NUMBER_GOES_ON)
        return None if cut and not self._eof else (value, end)

    def _value(self) -> Any:
        while True:
            self._peek()
            decoded = self._decoded_here()
            if decoded is not None:
                value, self._pos = decoded
                return value
            self._more()

    def _skip_value(self) -> None:
        while True:
            first = self._peek()
            decoded = self._decoded_here()
            if decoded is not None:
                self._pos = decoded[1]
                return
            if first in "{[":
                self._skip_members(first)
                return
            self._more()

    def _skip_members(self, opener: str) -> None:
        closer = "}" if opener == "{" else "]"
        self._pos += 1
        if self._peek() == closer:
            self._pos += 1
            return
        while True:
            if opener == "{":
                self._skip_value()  # the key
                self._expect(":")
            self._skip_value()
            if self._separator(closer):
                return

    @staticmethod
    def _malformed() -> PlanNotFoundError:
        return PlanNotFoundError("the plan JSON is not a readable `terraform show -json` document")


def changed_attributes(change: Any) -> list[str] | None:
    """The names of the top-level attributes a change sets to another value (never the values), or None when the
    change does not say. The build stores them as `changed_attributes` (its plan.json keeps no value); a full
    `terraform show -json` document has `before`, `after` and `after_unknown` instead."""
    if not isinstance(change, dict):
        return None
    listed = change.get("changed_attributes")
    if isinstance(listed, list):
        return [str(name) for name in listed]
    before, after, unknown = change.get("before"), change.get("after"), change.get("after_unknown")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    unknown = unknown if isinstance(unknown, dict) else {}
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name) or unknown.get(name))


def existing_cluster(element: dict[str, Any]) -> str | None:
    """The identifier of the Aurora cluster an element changes (or leaves as it is), when it exists before the plan:
    kept by the build as `change.cluster_identifier`, or in a full `terraform show -json` document as
    `change.before.cluster_identifier`."""
    change = element.get("change")
    if element.get("type") != SNAPSHOT_CLUSTER_TYPE or element.get("mode") == "data" or not isinstance(change, dict):
        return None
    before = change.get("before")
    found = change.get("cluster_identifier") or (before.get("cluster_identifier") if isinstance(before, dict) else None)
    return found if isinstance(found, str) and found else None


def summarise_plan_json(stream: BinaryIO, *, max_listed: int = 50) -> PlanDigest:
    """Count and classify the changes of a `terraform show -json` document read from `stream`, in one pass."""
    counts = {"create": 0, "update": 0, "delete": 0, "replace": 0}
    changes: list[PlannedChange] = []
    destructive: list[DestructiveChange] = []
    resources = 0
    clusters: list[str] = []
    for element in PlanReader(stream).resource_changes():
        resources += 1
        if not isinstance(element, dict):
            continue
        cluster = existing_cluster(element)
        if cluster is not None and cluster not in clusters:
            clusters.append(cluster)
        change = element.get("change")
        actions = change.get("actions") if isinstance(change, dict) else None
        action = change_action(actions) if isinstance(actions, list) else None
        if action is None:
            continue
        address, resource_type = str(element.get("address", "")), str(element.get("type", ""))
        counts[action] += 1
        if len(changes) < max_listed:
            changes.append(PlannedChange(address=address, type=resource_type, action=action))
        destructive_change = is_destructive(resource_type, action, changed_attributes(change))
        held = data_held_by(resource_type) if destructive_change else None
        if held is not None:
            destructive.append(DestructiveChange(address=address, type=resource_type, action=action, holds=held))
    return PlanDigest(
        counts=ChangeCounts(**counts),
        resources=resources,
        changes=changes,
        changes_truncated=sum(counts.values()) > len(changes),
        destructive=destructive,
        database_clusters=clusters,
    )


def requires_approval(policy: ApprovalPolicy, *, has_changes: bool, destructive_count: int) -> bool:
    """`always`: any change; `destructive`: a destructive change on data; `never`: no; and never without changes."""
    if not has_changes:
        return False
    if policy == "always":
        return True
    return policy == "destructive" and destructive_count > 0


def _artifact(s3: Any, bucket: str, key: str) -> Any:
    """The StreamingBody of one run artifact; PlanNotFoundError when it is missing."""
    found = aws_call(f"reading s3://{bucket}/{key}", s3.get_object, not_found=_NOT_FOUND, Bucket=bucket, Key=key)
    if found is None:
        raise PlanNotFoundError(f"s3://{bucket}/{key} does not exist: the run has no saved plan")
    return found["Body"]


def _plan_result(s3: Any, bucket: str, run_prefix: str) -> tuple[str, bool]:
    body = _artifact(s3, bucket, run_prefix + PLAN_RESULT)
    try:
        result = json.loads(body.read())
        sha256, has_changes, error = result["plan_sha256"], result["has_changes"], result.get("error")
    except (ValueError, KeyError, TypeError) as exc:
        raise PlanNotFoundError(f"{run_prefix}{PLAN_RESULT} is not a plan result") from exc
    if error or not isinstance(sha256, str) or not sha256:
        code = error.get("code") if isinstance(error, dict) else None
        raise PlanNotFoundError(f"the plan build of {run_prefix} saved no plan (error {code or 'unknown'})")
    return sha256, bool(has_changes)


def summarise_plan(
    *, bucket: str, run_prefix: str, approval: ApprovalPolicy, s3: Any, kms_key_arn: str = ""
) -> PlanSummary:
    """Summarise the run's saved plan, store the full digest next to it and return the payload-sized summary."""
    return summarise_plan_with_digest(
        bucket=bucket, run_prefix=run_prefix, approval=approval, s3=s3, kms_key_arn=kms_key_arn
    )[0]


def summarise_plan_with_digest(
    *, bucket: str, run_prefix: str, approval: ApprovalPolicy, s3: Any, kms_key_arn: str = ""
) -> tuple[PlanSummary, PlanDigest]:
    """`summarise_plan`, and the digest of every change (for the runbook's plan-shape rules)."""
    plan_sha256, has_changes = _plan_result(s3, bucket, run_prefix)
    body = _artifact(s3, bucket, run_prefix + PLAN_JSON)
    try:
        digest = summarise_plan_json(body, max_listed=sys.maxsize)
    finally:
        body.close()
    needs_approval = requires_approval(approval, has_changes=has_changes, destructive_count=digest.destructive_count)
    document = {
        "plan_sha256": plan_sha256,
        "has_changes": has_changes,
        "approval": approval,
        "requires_approval": needs_approval,
        "destructive_count": digest.destructive_count,
        **digest.model_dump(mode="json"),
    }
    key = run_prefix + PLAN_SUMMARY
    encryption = {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": kms_key_arn} if kms_key_arn else {})}
    aws_call(
        f"writing s3://{bucket}/{key}",
        s3.put_object,
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=1).encode(),
        ContentType="application/json",
        **encryption,
    )
    logger.info(
        "plan summarised",
        plan_sha256=plan_sha256,
        has_changes=has_changes,
        resources=digest.resources,
        destructive=digest.destructive_count,
        requires_approval=needs_approval,
        **digest.counts.model_dump(),
    )
    summary = PlanSummary(
        plan_sha256=plan_sha256,
        has_changes=has_changes,
        counts=digest.counts,
        destructive=[change.address for change in digest.destructive[:DESTRUCTIVE_IN_PAYLOAD]],
        destructive_count=digest.destructive_count,
        requires_approval=needs_approval,
        summary=S3Pointer(bucket=bucket, key=key),
    )
    return summary, digest
