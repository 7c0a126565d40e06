"""Drift records: a stable fingerprint, and transitions so that only new, changed or resolved drift notifies."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.runs.conftest import TABLE
from tests.unit.runs.secrets import FAKE_LICENSE
from wandb_deployer.drift.record import NOTIFYING_TRANSITIONS, drift_fingerprint, read_drift, record_drift
from wandb_deployer.states import Finding

pytestmark = pytest.mark.unit

BUCKET = {"address": "module.wandb.module.file_storage.aws_s3_bucket.file_storage", "actions": ["update"]}
QUEUE = {"address": "module.wandb.module.file_storage.aws_sqs_queue.file_storage", "actions": ["delete", "create"]}
WIRING = Finding(code="wiring.notification-missing", severity="error", message="no ObjectCreated notification")


def test_no_drift_has_no_fingerprint():
    assert drift_fingerprint([], []) is None
    assert drift_fingerprint([], [Finding(code="wiring.internal-queue", severity="info", message="ok")]) is None


def test_fingerprint_is_stable_under_ordering_and_messages():
    first = drift_fingerprint([BUCKET, QUEUE], [WIRING])
    reordered = drift_fingerprint(
        [{**QUEUE, "actions": ["create", "delete"]}, BUCKET],
        [Finding(code=WIRING.code, severity="error", message="seen at 12:01")],
    )

    assert first is not None and first == reordered
    assert drift_fingerprint([BUCKET], [WIRING]) != first
    assert drift_fingerprint([BUCKET, QUEUE], []) != first


def _record(dynamodb: Any, fingerprint: str | None, summary: dict[str, Any] | None = None) -> str:
    return record_drift(
        deployment="prod", fingerprint=fingerprint, summary=summary or {}, table=TABLE, dynamodb=dynamodb
    )


def test_drift_transitions(dynamodb):
    one, two = drift_fingerprint([BUCKET], []), drift_fingerprint([BUCKET, QUEUE], [WIRING])

    transitions = [_record(dynamodb, fp) for fp in (None, one, one, two, None, None, two)]

    assert transitions == ["clean", "new", "unchanged", "changed", "resolved", "clean", "new"]
    assert [t for t in transitions if t in NOTIFYING_TRANSITIONS] == ["new", "changed", "resolved", "new"]


def test_unchanged_drift_keeps_when_it_was_first_seen(dynamodb):
    fingerprint = drift_fingerprint([BUCKET], [])
    _record(dynamodb, fingerprint)
    first = read_drift(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert first is not None
    first_seen = first.first_seen_at

    _record(dynamodb, fingerprint)

    state = read_drift(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert state is not None
    assert state.status == "drifted" and state.first_seen_at == first_seen and state.revision == 2


def test_drift_summary_is_scrubbed(dynamodb):
    _record(dynamodb, drift_fingerprint([BUCKET], []), {"addresses": [BUCKET["address"]], "note": FAKE_LICENSE})

    state = read_drift(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert state is not None
    assert state.summary["addresses"] == [BUCKET["address"]]
    assert FAKE_LICENSE not in str(dynamodb.scan(TableName=TABLE)["Items"])
