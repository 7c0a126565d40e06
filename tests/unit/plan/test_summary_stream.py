"""summarise_plan_json: streaming, counting, classifying, and never copying a value out of the plan."""

from __future__ import annotations

import io
import json

import pytest

from tests.unit.plan.plans import LICENSE, MIXED, SECRET, plan_bytes, plan_document, resource_change
from wandb_deployer.errors import PlanNotFoundError
from wandb_deployer.plan.summary import PlanReader, summarise_plan_json

pytestmark = pytest.mark.unit


class TrickleStream(io.RawIOBase):
    """Hands out at most `size` bytes per read, to split tokens, strings, escapes and UTF-8 characters."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data = io.BytesIO(data)
        self._size = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(self._size, size if size >= 0 else self._size))


def test_changes_are_counted_by_kind_and_no_ops_reads_and_forgets_ignored() -> None:
    digest = summarise_plan_json(io.BytesIO(plan_bytes(MIXED)))

    assert digest.counts.model_dump() == {"create": 1, "update": 2, "delete": 2, "replace": 2}
    assert digest.resources == len(MIXED)
    assert [change.action for change in digest.changes] == [
        "create",
        "update",
        "delete",
        "replace",
        "replace",
        "delete",
        "update",
    ]
    assert not digest.changes_truncated


def test_destructive_changes_list_deletes_and_replaces_of_data_and_identity_only() -> None:
    digest = summarise_plan_json(io.BytesIO(plan_bytes(MIXED)))

    assert [(change.address, change.action, change.holds) for change in digest.destructive] == [
        ("module.wandb.aws_iam_role.node", "update", "identity and access"),
        ("module.wandb.aws_security_group.old", "delete", "network access"),
        ("module.wandb.module.database.aws_rds_cluster.this", "replace", "database"),
        ("module.wandb.module.app_eks.aws_eks_node_group.default", "replace", "kubernetes nodes"),
        ("module.wandb.module.redis.aws_elasticache_replication_group.default", "delete", "cache"),
    ]
    assert digest.destructive_count == 5


def test_an_update_of_access_control_is_destructive_unless_only_its_tags_change() -> None:
    policy = "module.wandb.module.file_storage.aws_s3_bucket_policy.this"
    tags_only = resource_change(policy, "aws_s3_bucket_policy", ["update"])
    tags_only["change"].update(before={"policy": "{}", "tags": {"a": "1"}}, after={"policy": "{}", "tags": {"a": "2"}})
    opened = resource_change(policy, "aws_s3_bucket_policy", ["update"])
    opened["change"].update(before={"policy": "{}"}, after={"policy": '{"Principal": "*"}'})
    # the build's plan.json says which attributes change, never their values
    listed = {"address": policy, "type": "aws_s3_bucket_policy", "change": {"actions": ["update"]}}
    listed["change"]["changed_attributes"] = ["tags_all"]  # type: ignore[index]

    for changes, destructive in (([tags_only], 0), ([opened], 1), ([listed], 0)):
        digest = summarise_plan_json(io.BytesIO(plan_bytes(changes)))
        assert digest.destructive_count == destructive


def test_resource_drift_is_not_counted_as_a_change() -> None:
    digest = summarise_plan_json(io.BytesIO(plan_bytes([])))
    assert digest.counts.model_dump() == {"create": 0, "update": 0, "delete": 0, "replace": 0}
    assert digest.destructive == []
    assert digest.resources == 0


def test_no_value_from_the_plan_ever_reaches_the_digest() -> None:
    digest = summarise_plan_json(io.BytesIO(plan_bytes(MIXED)))
    dumped = digest.model_dump_json()
    assert SECRET not in dumped
    assert LICENSE not in dumped
    assert "backslashes" not in dumped


def test_max_listed_caps_the_listed_changes_but_not_the_counts_or_destructive_list() -> None:
    changes = [resource_change(f"aws_s3_bucket.b{i}", "aws_s3_bucket", ["delete"]) for i in range(30)]
    digest = summarise_plan_json(io.BytesIO(plan_bytes(changes)), max_listed=5)
    assert len(digest.changes) == 5
    assert digest.changes_truncated
    assert digest.counts.delete == 30
    assert digest.destructive_count == 30


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_any_chunking_of_the_stream_gives_the_same_digest(size: int) -> None:
    data = plan_bytes(MIXED)
    # a non-ASCII character, so some chunks split a UTF-8 sequence
    data = data.replace(b'"wandb"', json.dumps("wändb ✓").encode())
    expected = summarise_plan_json(io.BytesIO(data))
    reader_elements = list(PlanReader(TrickleStream(data, size), chunk_bytes=size).resource_changes())  # type: ignore[arg-type]
    assert [element["address"] for element in reader_elements] == [change["address"] for change in MIXED]
    assert summarise_plan_json(TrickleStream(data, size)) == expected  # type: ignore[arg-type]


def test_compact_json_and_resource_changes_first_or_last_are_read() -> None:
    document = plan_document(MIXED[:4])
    reordered = {"resource_changes": document.pop("resource_changes"), **document}
    compact = json.dumps(reordered, separators=(",", ":")).encode()
    assert summarise_plan_json(io.BytesIO(compact)).counts.create == 1
    last = json.dumps({**document, "resource_changes": MIXED[:4]}).encode()
    assert summarise_plan_json(io.BytesIO(last)).counts.update == 1


def test_a_plan_without_resource_changes_has_none() -> None:
    assert summarise_plan_json(io.BytesIO(b'{"format_version": "1.2", "resource_changes": null}')).resources == 0
    assert summarise_plan_json(io.BytesIO(b"{}")).resources == 0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not json",
        b'{"resource_changes": [{"address": "a"',
        b'{"resource_changes": [1 2]}',
        b"[]",
        b'{"planned_values": X], "resource_changes": []}',
    ],
)
def test_a_broken_document_raises_plan_not_found(data: bytes) -> None:
    with pytest.raises(PlanNotFoundError):
        summarise_plan_json(io.BytesIO(data))


@pytest.mark.parametrize("data", [b'{"resource_changes": [{"address": "\xff"}]}', '{"a": "é'.encode()[:-1]])
def test_bytes_that_are_not_utf8_are_a_broken_document(data: bytes) -> None:
    with pytest.raises(PlanNotFoundError) as raised:
        summarise_plan_json(io.BytesIO(data))
    assert str(raised.value) == "the plan JSON is not a readable `terraform show -json` document"


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_numbers_cut_by_a_chunk_end_are_read_whole(size: int) -> None:
    data = b'{"format_version": 12.5, "resource_changes": [12345, -6.75e3, 0], "errored": 100}'
    elements = list(PlanReader(TrickleStream(data, size), chunk_bytes=size).resource_changes())  # type: ignore[arg-type]
    assert elements == [12345, -6.75e3, 0]


def test_elements_are_yielded_before_the_whole_plan_is_read() -> None:
    # A plan of tens of megabytes is never held whole: the first change arrives after reading a few chunks of it.
    changes = [resource_change(f"aws_iam_role.r{index}", "aws_iam_role", ["create"]) for index in range(2000)]
    stream = io.BytesIO(json.dumps({"format_version": 1, "resource_changes": changes}).encode())
    first = next(PlanReader(stream, chunk_bytes=4096).resource_changes())
    assert first["address"] == "aws_iam_role.r0"
    assert stream.tell() <= 3 * 4096 < len(stream.getvalue())


def test_the_digest_lists_fifty_changes_by_default() -> None:
    changes = [resource_change(f"aws_iam_role.r{index}", "aws_iam_role", ["create"]) for index in range(51)]
    digest = summarise_plan_json(io.BytesIO(plan_bytes(changes)))
    assert len(digest.changes) == 50 and digest.changes_truncated is True
