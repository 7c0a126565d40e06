"""The table's shared ground: the attribute codec, the mapping of AWS errors onto the deployer's (retryable or not),
secret scrubbing at its limits; and the run history, desired state and notifications at their edges and failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.unit.faults import before_call, fail_call, recorded_calls
from tests.unit.runs.conftest import REGION, TABLE
from tests.unit.runs.secrets import FAKE_API_KEY, FAKE_LICENSE
from wandb_deployer.errors import AwsRequestFailedError, TransientAwsError
from wandb_deployer.runs import (
    MASK,
    aws_failure,
    epoch,
    from_attribute,
    from_item,
    is_condition_failure,
    iso,
    parse_iso,
    scrub_secrets,
    to_attribute,
    to_item,
    utc_now,
)
from wandb_deployer.runs.desired import (
    execution_name,
    mark_applied,
    planned_execution_arn,
    read_applied,
    read_desired,
    record_desired_change,
    start_run_unless_running,
)
from wandb_deployer.runs.history import deployment_status, list_runs, record_run_event
from wandb_deployer.runs.notify import notification_message, notify

pytestmark = pytest.mark.unit

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
ARN = "arn:aws:states:us-east-1:123456789012:execution:deploy:"


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Op")


# --- codec and time ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "attribute"),
    [
        (None, {"NULL": True}),
        (True, {"BOOL": True}),
        (False, {"BOOL": False}),
        (3, {"N": "3"}),
        (2.5, {"N": "2.5"}),
        ("x", {"S": "x"}),
        ({"a": [1, "b"]}, {"M": {"a": {"L": [{"N": "1"}, {"S": "b"}]}}}),
        ((1, 2), {"L": [{"N": "1"}, {"N": "2"}]}),
    ],
)
def test_values_are_encoded_as_dynamodb_attributes(value: Any, attribute: dict[str, Any]) -> None:
    assert to_attribute(value) == attribute


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ({"NULL": True}, None),
        ({"BOOL": False}, False),
        ({"N": "3"}, 3),
        ({"N": "3.0"}, 3.0),
        ({"N": "1e3"}, 1000.0),
        ({"N": "2.5"}, 2.5),
        ({"S": "x"}, "x"),
        ({"M": {"a": {"L": [{"N": "1"}]}}}, {"a": [1]}),
        ({"SS": ["a", "b"]}, ["a", "b"]),
        ({"NS": ["1"]}, ["1"]),
    ],
)
def test_attributes_are_decoded_as_plain_values(attribute: dict[str, Any], value: Any) -> None:
    decoded = from_attribute(attribute)
    assert decoded == value and type(decoded) is type(value)


def test_values_the_table_cannot_hold_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot store a set in the deployments table"):
        to_attribute({1})
    with pytest.raises(TypeError, match="unsupported attribute type B"):
        from_attribute({"B": b"x"})
    assert from_item(to_item({"k": "v", "n": 1})) == {"k": "v", "n": 1}


def test_times_are_utc_fixed_width_and_round_trip() -> None:
    local = datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert iso(local) == "2026-05-01T12:00:00.000000Z"
    assert iso(datetime(2026, 5, 1, 12, 0)) == "2026-05-01T12:00:00.000000Z"  # naive means UTC
    assert parse_iso(iso(T0)) == T0
    assert epoch(T0) == 1777636800
    assert utc_now(local).tzinfo == UTC
    assert abs(utc_now() - datetime.now(UTC)) < timedelta(minutes=1)


# --- AWS errors --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("ThrottlingException", 400, TransientAwsError),
        ("ProvisionedThroughputExceededException", 400, TransientAwsError),
        ("TransactionConflictException", 400, TransientAwsError),
        ("SomethingNew", 500, TransientAwsError),
        ("SomethingNew", 503, TransientAwsError),
        ("AccessDeniedException", 400, AwsRequestFailedError),
        ("ValidationException", 400, AwsRequestFailedError),
        ("SomethingNew", 499, AwsRequestFailedError),
    ],
)
def test_aws_errors_map_to_retryable_or_not(code: str, status: int, error: type[Exception]) -> None:
    mapped = aws_failure(client_error(code, status), operation="PutItem lock")
    assert type(mapped) is error
    retry = " and may succeed on retry" if error is TransientAwsError else ""
    assert str(mapped) == f"PutItem lock failed{retry}: {code}"


def test_an_error_without_a_code_is_named_by_its_status() -> None:
    bare = ClientError({"ResponseMetadata": {"HTTPStatusCode": 502}}, "Op")
    assert str(aws_failure(bare, operation="GetItem x")) == "GetItem x failed and may succeed on retry: 502"
    assert is_condition_failure(client_error("ConditionalCheckFailedException"))
    assert is_condition_failure(client_error("ConditionalCheckFailed"))
    assert not is_condition_failure(bare)


# --- scrubbing ---------------------------------------------------------------------------------------------------


def test_scrubbing_masks_secret_shapes_and_names_and_cuts_long_strings() -> None:
    assert scrub_secrets(f"license {FAKE_LICENSE} key {FAKE_API_KEY}") == f"license {MASK} key {MASK}"
    assert scrub_secrets("x" * 10, limit=5) == "xxxx…"
    assert scrub_secrets("x" * 5, limit=5) == "xxxxx"
    assert scrub_secrets({"api_key": "plain", "Token": "t", "password": "", "note": None, "n": 1}) == {
        "api_key": MASK,
        "Token": MASK,
        "password": "",
        "note": None,
        "n": 1,
    }
    assert scrub_secrets([FAKE_API_KEY, (1.5, True)]) == [MASK, [1.5, True]]
    assert scrub_secrets(T0) == str(T0)


# --- run history -------------------------------------------------------------------------------------------------


def test_a_record_keeps_started_at_and_its_error_cut_to_limits(dynamodb) -> None:
    record = record_run_event(
        deployment="prod",
        execution_arn=ARN + "run-1",
        outcome="failed",
        error="E" * 300,
        cause="c" * 1500,
        started_at=T0,
        now=T0 + timedelta(seconds=90.5),
        table=TABLE,
        dynamodb=dynamodb,
    )
    assert record.execution_name == "run-1" and record.started_at == iso(T0)
    assert record.error is not None and len(record.error) == 200
    assert record.cause is not None and len(record.cause) == 1000
    assert record.duration_seconds == 90.5 and record.ended_at == iso(T0 + timedelta(seconds=90.5))
    assert record.timeline == [{"outcome": "failed", "at": iso(T0 + timedelta(seconds=90.5))}]


@pytest.mark.parametrize("outcome", ["started", "approval-needed"])
def test_an_outcome_that_is_not_the_end_has_no_end(dynamodb, outcome: Any) -> None:
    record = record_run_event(
        deployment="prod", execution_arn=ARN + "run-1", outcome=outcome, now=T0, table=TABLE, dynamodb=dynamodb
    )
    assert record.ended_at is None and record.duration_seconds is None and record.details == {}


def test_a_record_found_among_the_newest_runs_is_updated_not_duplicated(dynamodb) -> None:
    record_run_event(
        deployment="prod", execution_arn=ARN + "old", outcome="started", now=T0, table=TABLE, dynamodb=dynamodb
    )
    record_run_event(
        deployment="prod", execution_arn=ARN + "run-2", outcome="started", now=T0 + timedelta(minutes=1), table=TABLE,
        dynamodb=dynamodb,
    )  # fmt: skip
    queried = recorded_calls(dynamodb)

    record = record_run_event(
        deployment="prod",
        execution_arn=ARN + "run-2",
        outcome="succeeded",
        now=T0 + timedelta(minutes=4),
        table=TABLE,
        dynamodb=dynamodb,
    )

    assert record.started_at == iso(T0 + timedelta(minutes=1)) and record.duration_seconds == 180
    assert [r.execution_name for r in list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb)] == ["run-2", "old"]
    query = next(params for name, params in queried if name == "Query")
    assert query["ScanIndexForward"] is False and query["Limit"] == 50


def test_list_runs_returns_at_most_the_limit_newest_first(dynamodb) -> None:
    for index in range(4):
        record_run_event(
            deployment="prod", execution_arn=f"{ARN}run-{index}", outcome="started", started_at=T0 + timedelta(index),
            table=TABLE, dynamodb=dynamodb,
        )  # fmt: skip
    runs = list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb, limit=2)
    assert [r.execution_name for r in runs] == ["run-3", "run-2"]
    assert [r.execution_name for r in list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb)] == [
        "run-3",
        "run-2",
        "run-1",
        "run-0",
    ]


@pytest.mark.parametrize(
    ("operation", "name"), [("UpdateItem", "UpdateItem run"), ("Query", "Query run"), ("GetItem", "GetItem run")]
)
def test_a_history_write_or_read_that_fails_raises(dynamodb, operation: str, name: str) -> None:
    fail_call(dynamodb, operation, "ThrottlingException")
    with pytest.raises(TransientAwsError, match=rf"^{name} failed"):
        record_run_event(deployment="prod", execution_arn=ARN + "r", outcome="started", table=TABLE, dynamodb=dynamodb)


def test_status_reads_fail_loudly(dynamodb) -> None:
    fail_call(dynamodb, "Query", "AccessDeniedException")
    with pytest.raises(AwsRequestFailedError, match=r"^Query status failed"):
        deployment_status(deployment="prod", table=TABLE, dynamodb=dynamodb)
    fail_call(dynamodb, "Query", "AccessDeniedException", when=lambda params: "Limit" in params)
    with pytest.raises(AwsRequestFailedError, match=r"^Query runs failed"):
        deployment_status(deployment="prod", table=TABLE, dynamodb=dynamodb)


# --- desired state -----------------------------------------------------------------------------------------------


def test_a_desired_change_records_the_parameter_and_time(dynamodb) -> None:
    record_desired_change(
        deployment="prod", parameter_name="/p/prod/infra/size", table=TABLE, dynamodb=dynamodb, now=T0, source="push"
    )
    desired = read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert desired.model_dump() == {
        "generation": 1,
        "updated_at": iso(T0),
        "parameter_name": "/p/prod/infra/size",
        "parameter_version": None,
        "pending": True,
        "paused_at": None,
        "source": "push",
    }


def test_applied_state_without_a_snapshot_leaves_pending_alone(dynamodb) -> None:
    record_desired_change(deployment="prod", parameter_name="/p", table=TABLE, dynamodb=dynamodb)
    mark_applied(deployment="prod", fingerprint="f", execution_arn=ARN + "r", table=TABLE, dynamodb=dynamodb, now=T0)
    applied = read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert applied is not None and applied.applied_at == iso(T0) and applied.generation is None
    assert read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb).pending is True


def test_a_change_between_the_apply_and_clearing_pending_keeps_it_pending(dynamodb) -> None:
    other = boto3.client("dynamodb", region_name=REGION)
    record_desired_change(deployment="prod", parameter_name="/p", table=TABLE, dynamodb=dynamodb)
    before_call(
        dynamodb,
        "UpdateItem",
        lambda: record_desired_change(deployment="prod", parameter_name="/q", table=TABLE, dynamodb=other),
    )

    mark_applied(
        deployment="prod", fingerprint="f", execution_arn=ARN + "r", generation=1, table=TABLE, dynamodb=dynamodb
    )

    desired = read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert desired.generation == 2 and desired.pending is True


@pytest.mark.parametrize(
    ("operation", "when", "name"),
    [
        ("UpdateItem", lambda p: "ADD generation" in p["UpdateExpression"], "UpdateItem desired"),
        ("GetItem", None, "GetItem desired"),
    ],
)
def test_desired_state_failures_raise(dynamodb, operation: str, when: Any, name: str) -> None:
    fail_call(dynamodb, operation, "ThrottlingException", when=when)
    with pytest.raises(TransientAwsError, match=rf"^{name} failed"):
        record_desired_change(deployment="prod", parameter_name="/p", table=TABLE, dynamodb=dynamodb)
        read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb)


@pytest.mark.parametrize(
    ("operation", "when", "name"),
    [
        ("PutItem", None, "PutItem applied"),
        ("UpdateItem", None, "UpdateItem desired pending"),
        ("GetItem", None, "GetItem applied"),
    ],
)
def test_applied_state_failures_raise(dynamodb, operation: str, when: Any, name: str) -> None:
    fail_call(dynamodb, operation, "AccessDeniedException", when=when)
    with pytest.raises(AwsRequestFailedError, match=rf"^{name} failed"):
        mark_applied(
            deployment="prod", fingerprint="f", execution_arn="a", generation=1, table=TABLE, dynamodb=dynamodb
        )
        read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)


def test_a_pause_that_cannot_be_noted_raises_and_starts_nothing(dynamodb, sfn, state_machine_arn) -> None:
    fail_call(dynamodb, "UpdateItem", "ThrottlingException")
    with pytest.raises(TransientAwsError, match=r"^UpdateItem desired paused failed"):
        start_run_unless_running(
            deployment="prod", trigger="rerun", state_machine_arn=state_machine_arn, sfn=sfn, dynamodb=dynamodb,
            table=TABLE, paused=True,
        )  # fmt: skip
    assert sfn.list_executions(stateMachineArn=state_machine_arn)["executions"] == []


def test_execution_names_and_arns() -> None:
    name = execution_name("prod", "parameter-change", T0)
    assert name.startswith("prod-parameter-change-20260501120000-") and len(name) == len("prod-parameter-change-") + 23
    long = execution_name("d" * 80, "rerun", T0)
    assert len(long) == 80 and long.startswith("d" * 56 + "-20260501120000-")
    assert execution_name("a.b c", "rerun", T0).startswith("a-b-c-rerun-")
    assert (
        planned_execution_arn("arn:aws:states:r:1:stateMachine:deploy", "n") == "arn:aws:states:r:1:execution:deploy:n"
    )


# --- notifications -----------------------------------------------------------------------------------------------


def test_a_notification_message_is_scrubbed_and_timestamped() -> None:
    message = notification_message(event="Run Failed", deployment="prod", detail={"cause": FAKE_LICENSE}, now=T0)
    assert message == {"event": "Run Failed", "deployment": "prod", "at": iso(T0), "detail": {"cause": MASK}}


def test_the_subject_is_cut_to_what_sns_takes() -> None:
    sns, events = boto3.client("sns", region_name=REGION), boto3.client("events", region_name=REGION)
    fail = fail_call(sns, "Publish", "ThrottlingException")
    with pytest.raises(TransientAwsError, match=r"^Publish notification failed"):
        notify(
            event="Drift Detected", deployment="d" * 120, detail={}, sns=sns, events=events, topic_arn="arn:t",
            bus_name="",
        )  # fmt: skip
    assert len(fail[0]["Subject"]) == 100
    assert json.loads(fail[0]["Message"])["deployment"] == "d" * 120


# --- reads that decide are strongly consistent; the status view ------------------------------------------------------


def test_every_read_that_decides_is_strongly_consistent(dynamodb) -> None:
    # moto is always consistent; DynamoDB is not unless asked: a stale lock or approval read would decide wrongly.
    from wandb_deployer.runs.approval import load_pending_approval
    from wandb_deployer.runs.lock import read_lock

    calls = recorded_calls(dynamodb)
    read_lock(deployment="prod", table=TABLE, dynamodb=dynamodb)
    load_pending_approval(deployment="prod", table=TABLE, dynamodb=dynamodb)
    read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb)
    read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)
    deployment_status(deployment="prod", table=TABLE, dynamodb=dynamodb)

    reads = [(name, params["Key"]["sk"]["S"] if "Key" in params else "status") for name, params in calls]
    assert reads == [
        ("GetItem", "LOCK"),
        ("GetItem", "APPROVAL"),
        ("GetItem", "DESIRED"),
        ("GetItem", "APPLIED"),
        ("Query", "status"),
        ("Query", "status"),
    ]
    assert all(params.get("ConsistentRead") is True for _, params in calls[:5])


def test_nothing_applied_yet_reads_as_none(dynamodb) -> None:
    assert read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb) is None


def test_a_pause_is_noted_at_the_moment_of_the_change(dynamodb, sfn, state_machine_arn) -> None:
    start_run_unless_running(
        deployment="prod", trigger="parameter-change", state_machine_arn=state_machine_arn, sfn=sfn, dynamodb=dynamodb,
        table=TABLE, paused=True, now=T0,
    )  # fmt: skip
    desired = read_desired(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert desired.paused_at == iso(T0) and desired.pending is True


def test_who_answered_is_cut_to_200_characters(dynamodb, sfn) -> None:
    from wandb_deployer.runs.approval import answer_approval, store_pending_approval
    from wandb_deployer.states import ApprovalDecision, ChangeCounts, S3Pointer

    store_pending_approval(
        deployment="prod", execution_arn=ARN + "r", task_token="t", plan_sha256="ab" * 32, counts=ChangeCounts(),
        destructive=[], summary=S3Pointer(bucket="b", key="k"), timeout_seconds=600, table=TABLE, dynamodb=dynamodb,
        now=T0,
    )  # fmt: skip
    sent = recorded_calls(sfn)
    answer_approval(
        deployment="prod", plan_sha256="ab" * 32, approve=True, who="w" * 300, reason="", sfn=sfn, table=TABLE,
        dynamodb=dynamodb, now=T0,
    )  # fmt: skip
    decision = ApprovalDecision.model_validate_json(sent[0][1]["output"])
    assert decision.approved_by == "w" * 199 + "…"


def test_the_status_view_reads_every_record_at_the_moment_asked(dynamodb) -> None:
    from wandb_deployer.drift.record import record_drift
    from wandb_deployer.runs.approval import store_pending_approval
    from wandb_deployer.states import ChangeCounts, S3Pointer

    store_pending_approval(
        deployment="prod", execution_arn=ARN + "r", task_token="t", plan_sha256="ab" * 32, counts=ChangeCounts(),
        destructive=[], summary=S3Pointer(bucket="b", key="k"), timeout_seconds=600, table=TABLE, dynamodb=dynamodb,
        now=T0,
    )  # fmt: skip
    record_drift(deployment="prod", fingerprint="f" * 64, summary={}, table=TABLE, dynamodb=dynamodb, now=T0)
    record_run_event(
        deployment="prod", execution_arn=ARN + "old", outcome="started", now=T0, table=TABLE, dynamodb=dynamodb
    )
    record_run_event(
        deployment="prod", execution_arn=ARN + "new", outcome="started", now=T0 + timedelta(minutes=1), table=TABLE,
        dynamodb=dynamodb,
    )  # fmt: skip

    during = deployment_status(deployment="prod", table=TABLE, dynamodb=dynamodb, now=T0 + timedelta(minutes=5))
    after = deployment_status(deployment="prod", table=TABLE, dynamodb=dynamodb, now=T0 + timedelta(minutes=10))

    assert during.pending_approval is not None and during.pending_approval.plan_sha256 == "ab" * 32
    assert after.pending_approval is None  # expired at 10 minutes exactly
    assert during.drift is not None and during.drift.fingerprint == "f" * 64 and during.drift.status == "drifted"
    assert during.last_run is not None and during.last_run.execution_name == "new"


# --- what is sent and stored, exactly ----------------------------------------------------------------------------


def test_a_notification_is_published_with_its_attributes_and_timestamp(aws) -> None:
    sns, events = boto3.client("sns", region_name=REGION), boto3.client("events", region_name=REGION)
    topic = sns.create_topic(Name="t")["TopicArn"]
    published, put = recorded_calls(sns), recorded_calls(events)

    notify(
        event="Run Failed", deployment="prod", detail={"at": T0}, sns=sns, events=events, topic_arn=topic,
        bus_name="default", now=T0,
    )  # fmt: skip

    [(_, publish)] = published
    assert publish["Subject"] == "W&B deployer prod: Run Failed"
    assert publish["MessageAttributes"] == {
        "event": {"DataType": "String", "StringValue": "Run Failed"},
        "deployment": {"DataType": "String", "StringValue": "prod"},
    }
    message = json.loads(publish["Message"])
    assert message == {"event": "Run Failed", "deployment": "prod", "at": iso(T0), "detail": {"at": str(T0)}}
    [(_, entries)] = put
    assert entries["Entries"] == [
        {
            "Source": "wandb-deployer",
            "DetailType": "Run Failed",
            "Detail": publish["Message"],
            "EventBusName": "default",
            "Resources": [],
        }
    ]


@pytest.mark.parametrize(
    ("code", "error"), [("ThrottlingException", TransientAwsError), ("AccessDenied", AwsRequestFailedError)]
)
def test_a_bus_that_refuses_the_call_fails_the_notification(aws, code: str, error: type[Exception]) -> None:
    sns, events = boto3.client("sns", region_name=REGION), boto3.client("events", region_name=REGION)
    fail_call(events, "PutEvents", code)
    with pytest.raises(error) as raised:
        notify(event="Run Failed", deployment="prod", detail={}, sns=sns, events=events, topic_arn="", bus_name="b")
    assert str(raised.value).startswith("PutEvents notification failed")


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure"}]}, "'Run Failed' event: InternalFailure"),
        ({"FailedEntryCount": 1, "Entries": [{}]}, "'Run Failed' event: "),
    ],
)
def test_a_refused_entry_is_retryable_and_named(aws, answer: dict[str, Any], message: str) -> None:
    from tests.unit.faults import answer_call

    sns, events = boto3.client("sns", region_name=REGION), boto3.client("events", region_name=REGION)
    answer_call(events, "PutEvents", answer)
    with pytest.raises(TransientAwsError) as raised:
        notify(event="Run Failed", deployment="prod", detail={}, sns=sns, events=events, topic_arn="", bus_name="b")
    assert str(raised.value) == f"EventBridge did not accept the {message}"


def test_an_answer_without_a_failure_count_is_accepted(aws) -> None:
    from tests.unit.faults import answer_call

    sns, events = boto3.client("sns", region_name=REGION), boto3.client("events", region_name=REGION)
    answer_call(events, "PutEvents", {"Entries": [{"EventId": "1"}]})
    notify(event="Run Failed", deployment="prod", detail={}, sns=sns, events=events, topic_arn="", bus_name="b")


def test_a_run_started_now_is_named_by_the_moment(dynamodb, sfn, state_machine_arn) -> None:
    arn = start_run_unless_running(
        deployment="prod", trigger="parameter-change", state_machine_arn=state_machine_arn, sfn=sfn, dynamodb=dynamodb,
        table=TABLE, now=T0,
    )  # fmt: skip
    assert arn is not None and ":prod-parameter-change-20260501120000-" in arn
    from wandb_deployer.runs.lock import read_lock

    lock = read_lock(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert lock is not None and lock.owner == arn and lock.acquired_at == iso(T0)
    assert lock.lease_until == epoch(T0) + 120  # the start grace only


def test_a_start_that_fails_names_it(dynamodb, sfn, state_machine_arn) -> None:
    fail_call(sfn, "StartExecution", "ExecutionLimitExceeded")
    with pytest.raises(AwsRequestFailedError) as raised:
        start_run_unless_running(
            deployment="prod", trigger="rerun", state_machine_arn=state_machine_arn, sfn=sfn, dynamodb=dynamodb,
            table=TABLE,
        )  # fmt: skip
    assert str(raised.value) == "StartExecution failed: ExecutionLimitExceeded"


def test_the_applied_record_keeps_the_wandb_generation(dynamodb) -> None:
    mark_applied(
        deployment="prod", fingerprint="f", execution_arn=ARN + "r", generation=2, wandb_generation="legacy",
        table=TABLE, dynamodb=dynamodb, now=T0,
    )  # fmt: skip
    applied = read_applied(deployment="prod", table=TABLE, dynamodb=dynamodb)
    assert applied is not None and (applied.wandb_generation, applied.generation) == ("legacy", 2)


def test_a_run_record_keeps_what_it_was_given(dynamodb) -> None:
    record = record_run_event(
        deployment="prod", execution_arn=ARN + "run:with:colons", outcome="succeeded", fingerprint="fp",
        started_at=T0, now=T0 + timedelta(seconds=1, microseconds=23456), table=TABLE, dynamodb=dynamodb,
    )  # fmt: skip
    assert record.execution_name == "colons"
    assert record.fingerprint == "fp" and record.updated_at == iso(T0 + timedelta(seconds=1, microseconds=23456))
    assert record.duration_seconds == 1.023


def test_a_record_without_started_at_found_by_its_arn_keeps_its_start(dynamodb) -> None:
    record_run_event(
        deployment="prod", execution_arn=ARN + "r#1", outcome="started", now=T0, table=TABLE, dynamodb=dynamodb
    )
    record = record_run_event(
        deployment="prod", execution_arn=ARN + "r#1", outcome="failed", now=T0 + timedelta(seconds=5), table=TABLE,
        dynamodb=dynamodb,
    )  # fmt: skip
    assert record.started_at == iso(T0) and record.duration_seconds == 5
    assert len(list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb)) == 1


def test_list_runs_lists_twenty_by_default(dynamodb) -> None:
    for index in range(21):
        record_run_event(
            deployment="prod", execution_arn=f"{ARN}r{index}", outcome="started", started_at=T0 + timedelta(index),
            table=TABLE, dynamodb=dynamodb,
        )  # fmt: skip
    assert len(list_runs(deployment="prod", table=TABLE, dynamodb=dynamodb)) == 20


def test_the_lock_item_expires_a_day_after_its_lease(dynamodb, sfn, start_execution) -> None:
    from wandb_deployer.runs.lock import acquire_lock

    owner = start_execution("owner")
    acquire_lock(deployment="prod", execution_arn=owner, table=TABLE, dynamodb=dynamodb, sfn=sfn, now=T0)
    item = dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": "DEPLOYMENT#prod"}, "sk": {"S": "LOCK"}})["Item"]
    assert int(item["lease_until"]["N"]) == epoch(T0) + 7200  # the default lease: two hours
    assert int(item["expires_at"]["N"]) == epoch(T0) + 7200 + 86_400


def test_errors_without_metadata_or_status_are_not_retryable() -> None:
    bare = ClientError({"Error": {"Code": "Odd"}}, "Op")
    assert type(aws_failure(bare, operation="X")) is AwsRequestFailedError
    no_code = ClientError({"Error": {}, "ResponseMetadata": {}}, "Op")
    assert str(aws_failure(no_code, operation="X")) == "X failed: 0"


def test_scrubbing_cuts_nested_strings_at_the_default_limit() -> None:
    long = "y" * 2500
    cut = "y" * 1999 + "…"
    assert scrub_secrets({"note": long}) == {"note": cut}
    assert scrub_secrets([long]) == [cut]
    assert scrub_secrets(Path("/" + long)) == "/" + "y" * 1998 + "…"


def test_utc_now_does_not_depend_on_the_machine_time_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        naive = datetime(2026, 5, 1, 12, 0)
        assert utc_now(naive) == T0 and utc_now(naive).tzinfo is UTC  # naive means UTC, not local time
        aware = datetime(2026, 5, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
        assert utc_now(aware) == T0 and utc_now(aware).tzinfo is UTC
        assert abs(utc_now() - datetime.now(UTC)) < timedelta(minutes=1)
        assert utc_now().tzinfo is UTC
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_scrubbing_passes_its_limit_down() -> None:
    assert scrub_secrets({"a": "x" * 10, "b": ["y" * 10]}, limit=5) == {"a": "xxxx…", "b": ["yyyy…"]}
    assert scrub_secrets(Path("/" + "z" * 10), limit=5) == "/zzz…"
