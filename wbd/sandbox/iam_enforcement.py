"""IAM authorization in the sandbox: moto's own, switched on, with what it lacks for the deployer's services filled in,
and every decision recorded for the least-privilege report.

What moto 5.2.5 enforces by itself once `INITIAL_NO_AUTH_ACTION_COUNT` requests have passed (moto/core/responses.py,
moto/core/authorization.py, moto/iam/access_control.py):
- every request handled by a service's `call_action` (the JSON, query and REST protocols through BaseResponse:
  DynamoDB, SSM, SNS, SQS, EventBridge, Scheduler, Step Functions, CodeBuild, KMS, CloudWatch and its Logs, ELB,
  Route53, IAM, STS, Lambda) and S3's handlers: the
  SigV4 signature against the access key's secret (an IAM user's, or an STS session's with its token), then the
  caller's identity policies (inline and attached; groups for users) with explicit Deny first;
- the resource of a request only for S3 (bucket or bucket/key ARN), SQS (the queue ARN), IAM role operations and STS
  AssumeRole (with the role's trust policy). Every other service is checked against the resource `*`, so a statement
  scoped to an ARN never matches there: moto denies it;
- action names as moto spells them (`<signing name>:<operation>`, so `monitoring:GetMetricData` for CloudWatch's
  `cloudwatch:GetMetricData`), case-sensitively: `lambda:Invoke` (IAM: InvokeFunction), S3 API names for some
  operations (`ListObjectsV2`, `GetBucketNotificationConfiguration`, ...), IAM names for others (`GetBucketCORS`,
  `GetObjectVersion`), and for several bucket subresources its default for the HTTP method instead (`GET
  ?encryption` and `GET ?publicAccessBlock` are checked as `s3:ListBucket`).
It does not evaluate: conditions (only keys present in the request's form data, and those rarely are: `kms:ViaService`,
`aws:ResourceAccount`, `aws:ResourceTag/...`, `iam:PassedToService`, `aws:SourceAccount` are never checked),
`NotResource` (a statement without `Resource` counts as matching every resource), resource-based policies (bucket,
key, topic, bus and Lambda permission policies), permission boundaries, session policies, and any call an AWS service
makes on the caller's behalf (KMS for SSE-KMS objects, tables and SecureStrings; iam:PassRole at StartBuild).

Its signature check of a REST GET without a body (Route53's) signs the request's headers as its payload, so every
such request fails with SignatureDoesNotMatch.

What the sandbox adds (`install`), so that the deployer's policies are judged as AWS judges them:
- the signature of a GET, HEAD or DELETE without a body checked over an empty payload, as the client signed it;
- IAM's service prefix where moto uses the signing name (`SERVICE_PREFIXES`);
- the resource of each request of the deployer's services (DynamoDB table, SSM parameter, SNS topic, event bus or
  rule, state machine or execution, CodeBuild project, Lambda function, KMS key, log stream, Route53 hosted zone, and
  the queue SQS's GetQueueUrl names, which moto checks against `*`), one check per resource for requests naming
  several (PutEvents entries, BatchGetBuilds ids, GetParameters names); ELB and CloudWatch Describe/GetMetricData
  take no resource-level permission on AWS either (`*`);
- IAM's action names where moto's differ (`IAM_ACTION_NAMES`; for S3 bucket subresources moto checks as its
  method's default - ListBucket for GET ?encryption or ?publicAccessBlock - the subresource's action), and
  case-insensitive action matching, as IAM has;
- a ledger of every decision: principal, action, resource, allowed or denied.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from unittest.mock import patch
from urllib.parse import parse_qs, unquote, urlsplit

from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import IAMPolicyStatement, IAMRequestBase

# moto names the service of an action by its signing name; IAM's prefix differs for these.
SERVICE_PREFIXES: dict[str, str] = {"monitoring": "cloudwatch"}

# moto's action name -> IAM's (per service); anything else is IAM's name already.
IAM_ACTION_NAMES: dict[str, dict[str, str]] = {
    "lambda": {"Invoke": "InvokeFunction", "InvokeAsync": "InvokeAsync"},
    "s3": {
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "HeadBucket": "ListBucket",
        "ListObjectVersions": "ListBucketVersions",
        "GetBucketEncryption": "GetEncryptionConfiguration",
        "GetBucketNotificationConfiguration": "GetBucketNotification",
        "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
        "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
        "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
        "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
        "GetBucketAccelerateConfiguration": "GetAccelerateConfiguration",
        "DeleteObjects": "DeleteObject",
        "CopyObject": "PutObject",
        "CreateMultipartUpload": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "UploadPartCopy": "PutObject",
        "ListMultipartUploads": "ListBucketMultipartUploads",
        "ListParts": "ListMultipartUploadParts",
        "GetObjectAttributes": "GetObject",
    },
}


# moto authorizes some bucket subresource requests as its default for the method (ListBucket, CreateBucket,
# DeleteBucket): the subresource in the query string names the action IAM checks.
S3_SUBRESOURCE_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "encryption"): "GetEncryptionConfiguration",
    ("PUT", "encryption"): "PutEncryptionConfiguration",
    ("DELETE", "encryption"): "PutEncryptionConfiguration",
    ("GET", "publicAccessBlock"): "GetBucketPublicAccessBlock",
    ("PUT", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("DELETE", "publicAccessBlock"): "PutBucketPublicAccessBlock",
    ("GET", "policyStatus"): "GetBucketPolicyStatus",
    ("GET", "ownershipControls"): "GetBucketOwnershipControls",
    ("PUT", "ownershipControls"): "PutBucketOwnershipControls",
    ("GET", "lifecycle"): "GetLifecycleConfiguration",
    ("PUT", "lifecycle"): "PutLifecycleConfiguration",
    ("GET", "notification"): "GetBucketNotification",
    ("PUT", "notification"): "PutBucketNotification",
    ("GET", "cors"): "GetBucketCORS",
    ("PUT", "cors"): "PutBucketCORS",
    ("DELETE", "cors"): "PutBucketCORS",
    ("GET", "versioning"): "GetBucketVersioning",
    ("PUT", "versioning"): "PutBucketVersioning",
    ("GET", "tagging"): "GetBucketTagging",
    ("PUT", "tagging"): "PutBucketTagging",
    ("GET", "policy"): "GetBucketPolicy",
    ("PUT", "policy"): "PutBucketPolicy",
    ("DELETE", "policy"): "DeleteBucketPolicy",
    ("GET", "acl"): "GetBucketAcl",
    ("PUT", "acl"): "PutBucketAcl",
}
_S3_METHOD_DEFAULTS = frozenset({"ListBucket", "CreateBucket", "DeleteBucket"})


def _s3_action(request: IAMRequestBase, action: str) -> str:
    """IAM's action for a bucket subresource request moto checks as its method's default."""
    if action not in _S3_METHOD_DEFAULTS:
        return action
    query = parse_qs(urlsplit(request._path).query, keep_blank_values=True)
    for name in query:
        found = S3_SUBRESOURCE_ACTIONS.get((str(request._method).upper(), name))
        if found:
            return found
    return action


@dataclass(frozen=True)
class Decision:
    principal: str
    action: str
    resource: str
    allowed: bool


@dataclass
class Ledger:
    """Every authorization decision of one sandbox (thread-safe)."""

    decisions: list[Decision] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, decision: Decision) -> None:
        with self._lock:
            self.decisions.append(decision)

    def snapshot(self) -> list[Decision]:
        with self._lock:
            return list(self.decisions)

    def denied(self) -> list[Decision]:
        return [decision for decision in self.snapshot() if not decision.allowed]


class _Context:
    """What the resolvers read of one request."""

    def __init__(self, request: IAMRequestBase) -> None:
        self.account = request.account_id
        self.region = request._region
        self.path = request._path
        self.data: dict[str, Any] = request._data if isinstance(request._data, dict) else {}
        try:
            body = json.loads(request._body) if request._body else {}
        except (TypeError, ValueError):
            body = {}
        self.body: dict[str, Any] = body if isinstance(body, dict) else {}

    def form(self, name: str) -> str | None:
        value = self.data.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        return str(value) if value is not None else None

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def _parameter(context: _Context, name: str) -> str:
    return context.arn("ssm", "parameter/" + name.strip().lstrip("/").rstrip("/"))


def _bus(context: _Context, name: str | None) -> str:
    name = name or "default"
    return name if name.startswith("arn:") else context.arn("events", f"event-bus/{name}")


def _project(context: _Context, build_or_project: str) -> str:
    if build_or_project.startswith("arn:"):
        build_or_project = build_or_project.split("/", 1)[-1]
    return context.arn("codebuild", "project/" + build_or_project.split(":", 1)[0])


def _resources(service: str, action: str, context: _Context) -> list[str]:
    """The ARNs a request acts on, where moto would check `*`; [] when the action has no resource."""
    body = context.body
    if service == "dynamodb":
        table = body.get("TableName")
        return [context.arn("dynamodb", f"table/{table}")] if table else []
    if service == "ssm":
        names = body.get("Names") or ([body["Name"]] if body.get("Name") else [])
        if action == "GetParametersByPath" and body.get("Path"):
            names = [body["Path"]]
        return [_parameter(context, str(name)) for name in names]
    if service == "sns":
        topic = context.form("TopicArn") or context.form("TargetArn")
        return [topic] if topic else []
    if service == "events":
        if action == "PutEvents":
            return sorted({_bus(context, entry.get("EventBusName")) for entry in body.get("Entries") or []})
        rule = body.get("Rule") or (body.get("Name") if "Rule" in action else None)
        if rule:
            bus = body.get("EventBusName")
            prefix = f"rule/{bus}/" if bus and bus != "default" else "rule/"
            return [context.arn("events", prefix + str(rule))]
        return [_bus(context, body.get("Name") or body.get("EventBusName"))] if "EventBus" in action else []
    if service == "states":
        found = body.get("executionArn") or body.get("stateMachineArn")
        return [str(found)] if found else []
    if service == "codebuild":
        if body.get("projectName"):
            return [_project(context, str(body["projectName"]))]
        if body.get("ids"):
            return sorted({_project(context, str(item)) for item in body["ids"]})
        if body.get("id"):
            return [_project(context, str(body["id"]))]
        return []
    if service == "lambda":
        parts = unquote(urlsplit(context.path).path).split("/")
        if "functions" in parts and len(parts) > parts.index("functions") + 1:
            name = parts[parts.index("functions") + 1]
            return [name if name.startswith("arn:") else context.arn("lambda", f"function:{name}")]
        return []
    if service == "kms":
        key = body.get("KeyId")
        if not key:
            return []
        return [str(key) if str(key).startswith("arn:") else context.arn("kms", f"key/{key}")]
    if service == "logs":
        group, stream = body.get("logGroupName"), body.get("logStreamName")
        if group and stream:
            return [context.arn("logs", f"log-group:{group}:log-stream:{stream}")]
        return [context.arn("logs", f"log-group:{group}")] if group else []
    if service == "sqs":  # moto resolves a QueueUrl itself; GetQueueUrl names the queue instead
        queue = body.get("QueueName") or context.form("QueueName")
        return [context.arn("sqs", str(queue))] if queue else []
    if service == "route53":  # hosted zones have no region or account in their ARN
        parts = unquote(urlsplit(context.path).path).split("/")
        if "hostedzone" in parts and len(parts) > parts.index("hostedzone") + 1:
            return [f"arn:aws:route53:::hostedzone/{parts[parts.index('hostedzone') + 1]}"]
        return []
    if service == "rds":  # the query protocol: the cluster and the cluster snapshot a request names
        found = [context.form("ResourceName")] if context.form("ResourceName") else []
        if context.form("DBClusterIdentifier"):
            found.append(context.arn("rds", f"cluster:{context.form('DBClusterIdentifier')}"))
        if context.form("DBClusterSnapshotIdentifier"):
            found.append(context.arn("rds", f"cluster-snapshot:{context.form('DBClusterSnapshotIdentifier')}"))
        return [str(arn) for arn in found]
    if service == "scheduler":
        name = unquote(urlsplit(context.path).path).rstrip("/").rsplit("/", 1)[-1]
        group = (parse_qs(urlsplit(context.path).query).get("groupName") or ["default"])[0]
        return [context.arn("scheduler", f"schedule/{group}/{name}")] if "/schedules/" in context.path else []
    return []


def _principal(request: IAMRequestBase) -> str:
    try:
        return str(request._access_key.arn)
    except AttributeError:
        return "unknown"


@functools.cache
def _wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` one character, everything else literal (moto turns only `*`
    into `.*` and leaves `.` and the other regex characters active, and compiles the pattern on every request)."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


def wildcard_match(pattern: str, value: str) -> re.Match[str] | None:
    """Whether an Action/Resource pattern of a policy matches `value`, as IAM matches it."""
    return _wildcard(pattern).fullmatch(value)


def install(patches: ExitStack, ledger: Ledger) -> None:
    """Switch moto's authorization on for every request from now on, with the additions above."""
    patches.enter_context(patch.object(moto_settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0))
    patches.enter_context(patch.object(ActionAuthenticatorMixin, "request_count", 0))
    original_check = IAMRequestBase.check_action_permitted
    original_match = IAMPolicyStatement._check_element_matches

    def check_action_permitted(request: IAMRequestBase, resource: str) -> None:
        service, _, action = request._action.partition(":")
        service = SERVICE_PREFIXES.get(service, service)
        iam_action = IAM_ACTION_NAMES.get(service, {}).get(action, action)
        if service == "s3":
            iam_action = _s3_action(request, iam_action)
        request._action = f"{service}:{iam_action}"
        resources = [resource]
        if resource == "*" and service not in ("s3", "iam", "sts"):
            resources = _resources(service, iam_action, _Context(request)) or ["*"]
        principal = _principal(request)
        for each in resources:
            try:
                original_check(request, each)
            except Exception:
                ledger.add(Decision(principal, request._action, each, allowed=False))
                raise
            ledger.add(Decision(principal, request._action, each, allowed=True))

    def check_element_matches(statement: IAMPolicyStatement, element: str, value: str) -> bool:
        if element not in ("Action", "NotAction"):
            return bool(original_match(statement, element, value))
        # IAM matches action names case-insensitively.
        declared = statement._statement[element]
        lowered = dict(statement._statement, **{element: _lower(declared)})
        return bool(original_match(IAMPolicyStatement(lowered), element, value.lower()))

    original_request = IAMRequestBase._create_aws_request

    def create_aws_request(request: IAMRequestBase) -> Any:
        # moto hands a REST request's headers in as its form data (Route53's GETs): signed as the body, they never
        # match the client's signature of an empty payload.
        if str(request._method).upper() in ("GET", "HEAD", "DELETE") and not request._body:
            saved = request._data
            request._data = {}
            try:
                return original_request(request)
            finally:
                request._data = saved
        return original_request(request)

    patches.enter_context(patch.object(IAMRequestBase, "_create_aws_request", create_aws_request))
    patches.enter_context(patch.object(IAMRequestBase, "check_action_permitted", check_action_permitted))
    patches.enter_context(patch.object(IAMPolicyStatement, "_check_element_matches", check_element_matches))
    patches.enter_context(patch.object(IAMPolicyStatement, "_match", staticmethod(wildcard_match)))


def _lower(value: Any) -> Any:
    if isinstance(value, list):
        return [str(item).lower() for item in value]
    return str(value).lower()
