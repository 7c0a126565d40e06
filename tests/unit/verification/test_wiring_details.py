"""The wiring verifier in detail: the usual correct CORS (exactly the W&B origin), what each finding says, how names,
regions and origins are read, and every AWS read failing (errors injected into one operation)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.faults import answer_call, fail_call, recorded_calls
from tests.unit.verification.conftest import ACCOUNT, NAME, ORIGIN, QUEUE_ARN, REGION, Wiring
from tests.unit.verification.test_wiring import _cors, codes, verify
from wandb_deployer.errors import AwsRequestFailedError, TransientAwsError
from wandb_deployer.states import WiringResult
from wandb_deployer.verification.wiring import origin_of, partition_of, queue_name_of, verify_wiring

pytestmark = pytest.mark.unit


def messages(result: WiringResult) -> list[tuple[str, str, str]]:
    return [(f.code, f.severity, f.message) for f in result.findings]


# --- CORS -------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("allowed", [ORIGIN, "HTTPS://WANDB.EXAMPLE.COM/", f"{ORIGIN}/path"])
def test_cors_allowing_exactly_the_wandb_origin_passes(wiring: Wiring, allowed: str) -> None:
    # The usual correct setup: the bucket allows the W&B host, nothing else.
    _cors(wiring, ["GET", "HEAD", "PUT"], [allowed])
    assert verify(wiring).findings == []


def test_cors_methods_of_every_matching_rule_count(wiring: Wiring) -> None:
    rules = [
        {"AllowedMethods": ["GET", "HEAD"], "AllowedOrigins": [ORIGIN]},
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["https://*.example.com"]},
        {"AllowedMethods": ["DELETE"], "AllowedOrigins": ["https://other.example.org"]},
    ]
    wiring.s3.put_bucket_cors(Bucket=NAME, CORSConfiguration={"CORSRules": rules})
    assert verify(wiring).findings == []


@pytest.mark.parametrize(
    ("pattern", "origin", "allowed"),
    [
        ("https://*.example.com", "https://wandb.example.com", True),
        ("https://*.example.com", "https://wandb.example.org", False),
        ("https://*.example.com", "http://wandb.example.com", False),
        ("https://w*w.example.com", "https://w.example.com", False),  # head and tail may not overlap
        ("https://w*w.example.com", "https://ww.example.com", True),
        ("*", "https://anything.example", True),
    ],
)
def test_cors_origin_wildcards(wiring: Wiring, pattern: str, origin: str, allowed: bool) -> None:
    _cors(wiring, ["GET", "HEAD", "PUT"], [pattern])
    assert codes(verify(wiring, origin=origin)) == ([] if allowed else ["CORS_ORIGIN"])


def test_without_a_wandb_url_any_cors_origin_counts(wiring: Wiring) -> None:
    _cors(wiring, ["GET", "HEAD", "PUT"], ["https://other.example.org"])
    assert verify(wiring, origin="").findings == []


def test_cors_findings_say_what_is_missing(wiring: Wiring) -> None:
    _cors(wiring, ["HEAD"], [ORIGIN])
    assert messages(verify(wiring)) == [
        ("CORS_METHODS", "error", f"bucket {NAME} CORS does not allow GET, PUT from {ORIGIN}")
    ]
    _cors(wiring, ["GET", "PUT"], [ORIGIN])
    assert messages(verify(wiring)) == [
        ("CORS_METHODS", "warning", f"bucket {NAME} CORS does not allow HEAD from {ORIGIN}")
    ]
    _cors(wiring, ["GET", "HEAD", "PUT"], ["https://other.example.org"])
    assert messages(verify(wiring)) == [
        ("CORS_ORIGIN", "error", f"bucket {NAME} CORS rules do not allow the W&B origin {ORIGIN}")
    ]
    wiring.s3.delete_bucket_cors(Bucket=NAME)
    assert messages(verify(wiring)) == [
        ("CORS_MISSING", "error", f"bucket {NAME} has no CORS rules; browsers cannot upload to it")
    ]


# --- notification -----------------------------------------------------------------------------------------------------


def test_notification_findings_say_what_is_wrong(wiring: Wiring) -> None:
    wiring.set_notification({"QueueArn": QUEUE_ARN, "Events": ["s3:ObjectCreated:Put", "s3:ObjectCreated:Post"]})
    assert messages(verify(wiring)) == [
        (
            "NOTIFICATION_EVENTS_INCOMPLETE",
            "error",
            f"bucket {NAME} does not send these events to the queue: "
            "s3:ObjectCreated:CompleteMultipartUpload, s3:ObjectCreated:Copy",
        )
    ]
    wiring.s3.put_bucket_notification_configuration(Bucket=NAME, NotificationConfiguration={})
    assert messages(verify(wiring)) == [
        ("NOTIFICATION_MISSING", "error", f"bucket {NAME} sends no events to queue {NAME}")
    ]


def test_notifications_to_other_queues_are_listed_once_and_sorted(wiring: Wiring) -> None:
    arns = [f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}" for name in ("zeta", "alpha")]
    wiring.set_notification(
        {"QueueArn": arns[0], "Events": ["s3:ObjectCreated:*"]},
        {"QueueArn": arns[1], "Events": ["s3:ObjectCreated:*"]},
        {"QueueArn": arns[0], "Events": ["s3:ObjectRemoved:*"]},
    )
    assert messages(verify(wiring)) == [
        ("NOTIFICATION_WRONG_QUEUE", "error", f"bucket {NAME} notifies {arns[1]}, {arns[0]}, not queue {NAME}")
    ]


def test_a_filter_rule_narrows_only_with_a_value(wiring: Wiring) -> None:
    def notify_with(rules: list[dict[str, str]]) -> None:
        wiring.set_notification(
            {"QueueArn": QUEUE_ARN, "Events": ["s3:ObjectCreated:*"], "Filter": {"Key": {"FilterRules": rules}}}
        )

    notify_with([{"Name": "suffix", "Value": ".json"}, {"Name": "prefix", "Value": "media/"}])
    assert messages(verify(wiring)) == [
        ("NOTIFICATION_FILTERED", "error", f"bucket {NAME} notification is limited by suffix='.json', prefix='media/'")
    ]
    # S3 refuses an empty filter value; a configuration read back may still carry one (or none): no narrowing.
    target = {"QueueArn": QUEUE_ARN, "Events": ["s3:ObjectCreated:*"]}
    rules = [{"Name": "Prefix", "Value": ""}, {"Name": "Suffix"}]
    empty = {"QueueConfigurations": [{**target, "Filter": {"Key": {"FilterRules": rules}}}]}
    answer_call(wiring.s3, "GetBucketNotificationConfiguration", empty)
    assert verify(wiring).findings == []


def test_a_missing_queue_is_still_matched_by_name_in_the_notification(wiring: Wiring) -> None:
    wiring.sqs.delete_queue(QueueUrl=wiring.queue_url)
    result = verify(wiring)
    assert messages(result) == [("QUEUE_MISSING", "error", f"queue {NAME} not found")]
    assert not result.passed


def test_a_missing_queue_of_a_known_account_is_matched_by_its_arn(wiring: Wiring) -> None:
    wiring.sqs.delete_queue(QueueUrl=wiring.queue_url)
    wiring.set_notification({"QueueArn": f"arn:aws:sqs:{REGION}:999999999999:{NAME}", "Events": ["s3:ObjectCreated:*"]})
    assert codes(verify(wiring, account_id=ACCOUNT)) == ["QUEUE_MISSING", "NOTIFICATION_WRONG_QUEUE"]


def test_the_queue_is_looked_up_in_the_given_account(wiring: Wiring) -> None:
    calls = recorded_calls(wiring.sqs)
    verify(wiring, account_id=ACCOUNT)
    lookups = [params for name, params in calls if name == "GetQueueUrl"]
    assert lookups == [{"QueueName": NAME, "QueueOwnerAWSAccountId": ACCOUNT}]


def test_a_queue_whose_attributes_are_gone_is_missing(wiring: Wiring) -> None:
    fail_call(wiring.sqs, "GetQueueAttributes", "AWS.SimpleQueueService.NonExistentQueue")
    assert codes(verify(wiring)) == ["QUEUE_MISSING"]


def test_a_queue_reported_fifo_by_its_attributes_is_fifo(wiring: Wiring) -> None:
    attributes = {"QueueArn": QUEUE_ARN, "FifoQueue": "true", "Policy": ""}
    answer_call(wiring.sqs, "GetQueueAttributes", {"Attributes": attributes})
    assert codes(verify(wiring)) == ["QUEUE_FIFO", "QUEUE_POLICY_MISSING"]


# --- bucket -----------------------------------------------------------------------------------------------------------


def test_bucket_findings_say_where(wiring: Wiring) -> None:
    result = verify_wiring(
        outputs=wiring.outputs,
        expects_queue=True,
        expected_region="eu-west-1",
        wandb_origin=ORIGIN,
        s3=wiring.s3,
        sqs=wiring.sqs,
    )
    assert ("BUCKET_WRONG_REGION", "error", f"bucket {NAME} is in {REGION}, expected eu-west-1") in messages(result)
    assert messages(verify(wiring, bucket_name=None))[0] == (
        "BUCKET_MISSING",
        "error",
        "bucket (no bucket_name output) not found",
    )


@pytest.mark.parametrize(("constraint", "region"), [("EU", "eu-west-1"), (None, "us-east-1"), ("", "us-east-1")])
def test_legacy_bucket_locations_are_read_as_regions(wiring: Wiring, constraint: Any, region: str) -> None:
    answer_call(wiring.s3, "GetBucketLocation", {"LocationConstraint": constraint})
    result = verify_wiring(
        outputs=wiring.outputs,
        expects_queue=True,
        expected_region=region,
        wandb_origin=ORIGIN,
        s3=wiring.s3,
        sqs=wiring.sqs,
        account_id=ACCOUNT,
    )
    assert "BUCKET_WRONG_REGION" not in codes(result)


def test_public_access_findings(wiring: Wiring) -> None:
    wiring.s3.put_public_access_block(
        Bucket=NAME,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    )
    assert verify(wiring).findings == []  # not fully blocked, but neither policy nor ACL is public
    wiring.s3.put_bucket_acl(Bucket=NAME, ACL="authenticated-read")
    assert messages(verify(wiring)) == [("BUCKET_PUBLIC", "error", f"bucket {NAME} ACL grants access to all users")]
    wiring.s3.delete_bucket_encryption(Bucket=NAME)
    assert ("BUCKET_UNENCRYPTED", "error", f"bucket {NAME} has no default encryption") in messages(verify(wiring))


def test_a_fully_blocked_bucket_is_not_asked_about_its_policy_or_acl(wiring: Wiring) -> None:
    calls = recorded_calls(wiring.s3)
    verify(wiring)
    assert not {"GetBucketPolicyStatus", "GetBucketAcl"} & {name for name, _ in calls}


# --- names, origins, partitions ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "name"),
    [
        ("wandb-q", "wandb-q"),
        (" sqs://wandb-q ", "wandb-q"),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/wandb-q/", "wandb-q"),
    ],
)
def test_queue_name_of(output: str, name: str) -> None:
    assert queue_name_of(output) == name


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://W.Example.com/console/", "https://w.example.com"),
        (" https://w.example.com:8443/x ", "https://w.example.com:8443"),
        ("W.EXAMPLE.COM/", "w.example.com"),
    ],
)
def test_origin_of(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize(
    ("region", "partition"), [("us-east-1", "aws"), ("cn-north-1", "aws-cn"), ("us-gov-west-1", "aws-us-gov")]
)
def test_partition_of(region: str, partition: str) -> None:
    assert partition_of(region) == partition


def test_the_bucket_arn_uses_the_partition_of_the_region(wiring: Wiring) -> None:
    # In aws-cn the module's policy names arn:aws-cn:s3:::<bucket>; an aws ARN would be another bucket.
    answer_call(wiring.s3, "GetBucketLocation", {"LocationConstraint": "cn-north-1"})
    result = verify_wiring(
        outputs=wiring.outputs,
        expects_queue=True,
        expected_region="cn-north-1",
        wandb_origin=ORIGIN,
        s3=wiring.s3,
        sqs=wiring.sqs,
    )
    assert codes(result) == ["QUEUE_POLICY_WRONG_SOURCE"]


# --- AWS failures -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "operation", "label"),
    [
        ("sqs", "GetQueueUrl", "sqs:GetQueueUrl"),
        ("sqs", "GetQueueAttributes", "sqs:GetQueueAttributes"),
        ("s3", "HeadBucket", "s3:HeadBucket"),
        ("s3", "GetBucketLocation", "s3:GetBucketLocation"),
        ("s3", "GetBucketNotificationConfiguration", "s3:GetBucketNotificationConfiguration"),
        ("s3", "GetBucketCors", "s3:GetBucketCors"),
        ("s3", "GetBucketEncryption", "s3:GetBucketEncryption"),
        ("s3", "GetPublicAccessBlock", "s3:GetPublicAccessBlock"),
    ],
)
@pytest.mark.parametrize(
    ("code", "status", "error"),
    [("AccessDenied", 403, AwsRequestFailedError), ("SlowDown", 503, TransientAwsError)],
)
def test_a_read_that_fails_is_an_error_not_a_finding(
    wiring: Wiring, service: str, operation: str, label: str, code: str, status: int, error: type[Exception]
) -> None:
    failed = fail_call(wiring.s3 if service == "s3" else wiring.sqs, operation, code, status=status)

    with pytest.raises(error, match=f"^{label}: AWS answered {code};"):  # the read named exactly, first
        verify(wiring)

    assert len(failed) == 1


@pytest.mark.parametrize("operation", ["GetBucketPolicyStatus", "GetBucketAcl"])
def test_a_public_access_read_that_fails_is_an_error(wiring: Wiring, operation: str) -> None:
    wiring.s3.delete_public_access_block(Bucket=NAME)
    fail_call(wiring.s3, operation, "AccessDenied", status=403)

    with pytest.raises(AwsRequestFailedError, match=f"^s3:{operation}: AWS answered AccessDenied;"):
        verify(wiring)
