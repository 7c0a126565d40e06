"""Verify the S3 -> SQS wiring the W&B module creates: bucket, notification, queue, queue policy, CORS, encryption.

W&B learns about uploaded files from the bucket's ObjectCreated events in the file-storage queue. When any link is
broken, uploads "succeed" but runs never show their files, so every link is checked and each broken one gets its own
finding with a fix. Pure library: the caller passes the boto3 clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools import Logger

from wandb_deployer.states import Finding, TerraformOutputs, WiringResult
from wandb_deployer.verification.aws_calls import aws_call
from wandb_deployer.verification.findings import finding
from wandb_deployer.verification.policy import DeliveryRequest, PolicyVerdict, evaluate_delivery, parse_policy

logger = Logger(child=True)

OBJECT_CREATED_ALL = "s3:ObjectCreated:*"
OBJECT_CREATED_EACH = frozenset(
    {
        "s3:ObjectCreated:Put",
        "s3:ObjectCreated:Post",
        "s3:ObjectCreated:Copy",
        "s3:ObjectCreated:CompleteMultipartUpload",
    }
)
_QUEUE_NOT_FOUND = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
_BUCKET_NOT_FOUND = ("404", "NoSuchBucket", "NotFound")
_PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def expects_queue(infra: Mapping[str, object]) -> bool:
    """Whether the module creates the file-storage queue: `use_internal_queue` false (default), no external bucket."""
    external_bucket = infra.get("bucket_name")
    return not _truthy(infra.get("use_internal_queue", False)) and not (
        isinstance(external_bucket, str) and external_bucket
    )


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def queue_name_of(output: str) -> str:
    """The queue name from the module output or a W&B setting (`name`, `sqs://name` or a queue URL)."""
    value = output.strip().removeprefix("sqs://")
    return value.rstrip("/").rsplit("/", 1)[-1]


def origin_of(url: str) -> str:
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return url.strip().rstrip("/").lower()
    return f"{parts.scheme}://{parts.netloc}".lower()


@dataclass(frozen=True)
class _Queue:
    name: str
    url: str | None
    arn: str | None
    fifo: bool
    policy: str | None


def _read_queue(sqs: Any, name: str, region: str, account_id: str | None) -> _Queue:
    lookup: dict[str, Any] = {"QueueName": name}
    if account_id:
        lookup["QueueOwnerAWSAccountId"] = account_id
    found = aws_call("sqs:GetQueueUrl", sqs.get_queue_url, not_found=_QUEUE_NOT_FOUND, **lookup)
    guessed_arn = f"arn:{partition_of(region)}:sqs:{region}:{account_id}:{name}" if account_id else None
    if found is None:
        return _Queue(name, None, guessed_arn, name.endswith(".fifo"), None)
    url = str(found["QueueUrl"])
    attributes = aws_call(
        "sqs:GetQueueAttributes",
        sqs.get_queue_attributes,
        not_found=_QUEUE_NOT_FOUND,
        QueueUrl=url,
        AttributeNames=["QueueArn", "FifoQueue", "Policy"],
    )
    if attributes is None:
        return _Queue(name, None, guessed_arn, name.endswith(".fifo"), None)
    values = attributes.get("Attributes", {})
    fifo = str(values.get("FifoQueue", "false")).lower() == "true" or name.endswith(".fifo")
    return _Queue(name, url, values.get("QueueArn") or guessed_arn, fifo, values.get("Policy"))


def _bucket_region(s3: Any, bucket: str) -> str:
    location = aws_call("s3:GetBucketLocation", s3.get_bucket_location, Bucket=bucket)
    constraint = location.get("LocationConstraint") or "us-east-1"
    return "eu-west-1" if constraint == "EU" else str(constraint)


def _notification_findings(s3: Any, bucket: str, queue: _Queue) -> list[Finding]:
    config = aws_call("s3:GetBucketNotificationConfiguration", s3.get_bucket_notification_configuration, Bucket=bucket)
    targets = config.get("QueueConfigurations", []) if config else []

    def is_ours(target: Mapping[str, Any]) -> bool:
        arn = str(target.get("QueueArn", ""))
        return arn == queue.arn if queue.arn else arn.rsplit(":", 1)[-1] == queue.name

    ours = [t for t in targets if is_ours(t)]
    if not ours:
        if targets:
            others = ", ".join(sorted({str(t.get("QueueArn")) for t in targets}))
            return [finding("NOTIFICATION_WRONG_QUEUE", f"bucket {bucket} notifies {others}, not queue {queue.name}")]
        return [finding("NOTIFICATION_MISSING", f"bucket {bucket} sends no events to queue {queue.name}")]
    findings: list[Finding] = []
    events = {str(e) for t in ours for e in t.get("Events", [])}
    if OBJECT_CREATED_ALL not in events and not events >= OBJECT_CREATED_EACH:
        missing = ", ".join(sorted(OBJECT_CREATED_EACH - events))
        findings.append(
            finding(
                "NOTIFICATION_EVENTS_INCOMPLETE", f"bucket {bucket} does not send these events to the queue: {missing}"
            )
        )
    for target in ours:
        rules = target.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        narrowing = [f"{r.get('Name', '').lower()}={r.get('Value')!r}" for r in rules if r.get("Value")]
        if narrowing:
            findings.append(
                finding("NOTIFICATION_FILTERED", f"bucket {bucket} notification is limited by {', '.join(narrowing)}")
            )
            break
    return findings


def _policy_findings(queue: _Queue, bucket: str, bucket_arn: str, bucket_account: str | None) -> list[Finding]:
    if not queue.arn:
        return []
    evaluation = evaluate_delivery(parse_policy(queue.policy), DeliveryRequest(queue.arn, bucket_arn, bucket_account))
    name = queue.name
    match evaluation.verdict:
        case PolicyVerdict.ALLOWED if evaluation.unscoped:
            return [
                finding("QUEUE_POLICY_UNSCOPED", f"queue {name} accepts SendMessage from any bucket, not only {bucket}")
            ]
        case PolicyVerdict.ALLOWED:
            return []
        case PolicyVerdict.DENIED:
            sid = evaluation.deny_sid
            return [
                finding("QUEUE_POLICY_DENIED", f"queue {name} policy statement {sid} denies S3 delivery from {bucket}")
            ]
        case PolicyVerdict.WRONG_SOURCE:
            return [finding("QUEUE_POLICY_WRONG_SOURCE", f"queue {name} policy lets S3 send only for other buckets")]
        case PolicyVerdict.WRONG_ACCOUNT:
            return [finding("QUEUE_POLICY_WRONG_ACCOUNT", f"queue {name} policy names another aws:SourceAccount")]
    return [finding("QUEUE_POLICY_MISSING", f"queue {name} policy does not let S3 SendMessage for bucket {bucket}")]


def _origin_allowed(pattern: str, origin: str) -> bool:
    if pattern == "*" or not origin:
        return True
    head, star, tail = pattern.lower().partition("*")
    if not star:
        return origin_of(pattern) == origin
    return len(origin) >= len(head) + len(tail) and origin.startswith(head) and origin.endswith(tail)


def _cors_findings(s3: Any, bucket: str, origin: str) -> list[Finding]:
    cors = aws_call("s3:GetBucketCors", s3.get_bucket_cors, not_found=("NoSuchCORSConfiguration",), Bucket=bucket)
    rules = cors.get("CORSRules", []) if cors else []
    if not rules:
        return [finding("CORS_MISSING", f"bucket {bucket} has no CORS rules; browsers cannot upload to it")]
    matching = [r for r in rules if any(_origin_allowed(str(o), origin) for o in r.get("AllowedOrigins", []))]
    if not matching:
        return [finding("CORS_ORIGIN", f"bucket {bucket} CORS rules do not allow the W&B origin {origin}")]
    methods = {str(m).upper() for r in matching for m in r.get("AllowedMethods", [])}
    missing = sorted({"GET", "PUT"} - methods)
    if missing:
        return [finding("CORS_METHODS", f"bucket {bucket} CORS does not allow {', '.join(missing)} from {origin}")]
    if "HEAD" not in methods:
        return [finding("CORS_METHODS", f"bucket {bucket} CORS does not allow HEAD from {origin}", severity="warning")]
    return []


def _encryption_findings(s3: Any, bucket: str) -> list[Finding]:
    encryption = aws_call(
        "s3:GetBucketEncryption",
        s3.get_bucket_encryption,
        not_found=("ServerSideEncryptionConfigurationNotFoundError",),
        Bucket=bucket,
    )
    rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    if not rules:
        return [finding("BUCKET_UNENCRYPTED", f"bucket {bucket} has no default encryption")]
    return []


def _public_findings(s3: Any, bucket: str) -> list[Finding]:
    block = aws_call(
        "s3:GetPublicAccessBlock",
        s3.get_public_access_block,
        not_found=("NoSuchPublicAccessBlockConfiguration",),
        Bucket=bucket,
    )
    settings = (block or {}).get("PublicAccessBlockConfiguration", {})
    keys = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    if all(settings.get(k) is True for k in keys):
        return []
    status = aws_call(
        "s3:GetBucketPolicyStatus", s3.get_bucket_policy_status, not_found=("NoSuchBucketPolicy",), Bucket=bucket
    )
    if status and status.get("PolicyStatus", {}).get("IsPublic"):
        return [finding("BUCKET_PUBLIC", f"bucket {bucket} has a public bucket policy")]
    acl = aws_call("s3:GetBucketAcl", s3.get_bucket_acl, Bucket=bucket)
    if any(g.get("Grantee", {}).get("URI") in _PUBLIC_GRANTEES for g in acl.get("Grants", [])):
        return [finding("BUCKET_PUBLIC", f"bucket {bucket} ACL grants access to all users")]
    return []


def verify_wiring(
    *,
    outputs: TerraformOutputs,
    expects_queue: bool,
    expected_region: str,
    wandb_origin: str,
    s3: Any,
    sqs: Any,
    account_id: str | None = None,
) -> WiringResult:
    """Check every link of the S3 -> SQS wiring; `passed` when no finding is an error."""
    if not expects_queue:
        findings = [
            finding("INTERNAL_QUEUE", "W&B uses its internal queue (or an external bucket): no S3 -> SQS wiring")
        ]
        return WiringResult(expects_queue=False, passed=True, findings=findings)
    bucket = outputs.bucket_name
    region = expected_region or outputs.bucket_region
    findings = []
    queue_output = outputs.bucket_queue_name or ""
    queue = _read_queue(sqs, queue_name_of(queue_output), region, account_id) if queue_output else None
    if queue is None or queue.url is None:
        findings.append(finding("QUEUE_MISSING", f"queue {queue_output or '(no bucket_queue_name output)'} not found"))
    owner = account_id or (queue.arn.split(":")[4] if queue and queue.arn else None)
    bucket_arn = f"arn:{partition_of(region)}:s3:::{bucket}"
    head = aws_call("s3:HeadBucket", s3.head_bucket, not_found=_BUCKET_NOT_FOUND, Bucket=bucket) if bucket else None
    if head is None:
        findings.append(finding("BUCKET_MISSING", f"bucket {bucket or '(no bucket_name output)'} not found"))
    else:
        actual_region = _bucket_region(s3, bucket)
        if actual_region != region:
            findings.append(finding("BUCKET_WRONG_REGION", f"bucket {bucket} is in {actual_region}, expected {region}"))
        if queue is not None:
            findings += _notification_findings(s3, bucket, queue)
    if queue is not None and queue.url is not None:
        if queue.fifo:
            findings.append(finding("QUEUE_FIFO", f"queue {queue.name} is FIFO; S3 notifies Standard queues only"))
        findings += _policy_findings(queue, bucket, bucket_arn, owner)
    if head is not None:
        findings += _cors_findings(s3, bucket, origin_of(wandb_origin) if wandb_origin else "")
        findings += _encryption_findings(s3, bucket)
        findings += _public_findings(s3, bucket)
    passed = not any(f.severity == "error" for f in findings)
    logger.info(
        "wiring verified",
        bucket=bucket,
        queue=queue.name if queue else None,
        passed=passed,
        codes=[f.code for f in findings],
    )
    return WiringResult(expects_queue=True, passed=passed, findings=findings)
