"""Every verification finding the deployer reports: its code, default severity and how to fix it.

One catalog so that notifications, `wbd status` and the docs say the same thing for the same code.
"""

from __future__ import annotations

from typing import NamedTuple

from wandb_deployer.states import Finding, Severity


class FindingKind(NamedTuple):
    severity: Severity
    fix_hint: str


_QUEUE_POLICY = (
    'the queue policy needs: Effect Allow, Principal {"Service": "s3.amazonaws.com"} (or "*"), Action sqs:SendMessage, '
    "Resource the queue ARN, Condition ArnEquals aws:SourceArn = the bucket ARN; re-apply the module to restore it"
)

CATALOG: dict[str, FindingKind] = {
    # S3 -> SQS wiring
    "INTERNAL_QUEUE": FindingKind("info", ""),
    "BUCKET_MISSING": FindingKind(
        "error", "re-apply the module (W&B panics with NoSuchBucket); check that no one deleted the bucket"
    ),
    "BUCKET_WRONG_REGION": FindingKind(
        "error", "set deployer/region to the bucket's region, or recreate the bucket in the deployment's region"
    ),
    "NOTIFICATION_MISSING": FindingKind(
        "error", "re-apply the module; by hand: add a queue notification for s3:ObjectCreated:* to the W&B queue"
    ),
    "NOTIFICATION_WRONG_QUEUE": FindingKind(
        "error", "point the bucket's queue notification at the queue named by the module output bucket_queue_name"
    ),
    "NOTIFICATION_EVENTS_INCOMPLETE": FindingKind(
        "error", "send s3:ObjectCreated:* (all object-created events) to the queue, not a subset"
    ),
    "NOTIFICATION_FILTERED": FindingKind(
        "error", "remove the prefix/suffix filter: W&B writes objects under many prefixes and needs every event"
    ),
    "QUEUE_MISSING": FindingKind("error", "re-apply the module; the queue named by bucket_queue_name must exist"),
    "QUEUE_FIFO": FindingKind("error", "use a Standard queue: S3 event notifications cannot target FIFO queues"),
    "QUEUE_POLICY_MISSING": FindingKind("error", _QUEUE_POLICY),
    "QUEUE_POLICY_WRONG_SOURCE": FindingKind("error", "set the aws:SourceArn condition to the W&B bucket's ARN"),
    "QUEUE_POLICY_WRONG_ACCOUNT": FindingKind(
        "error", "set the aws:SourceAccount condition to the account that owns the bucket, or drop it"
    ),
    "QUEUE_POLICY_DENIED": FindingKind("error", "remove or narrow the Deny statement that matches S3's SendMessage"),
    "QUEUE_POLICY_UNSCOPED": FindingKind(
        "warning", "add Condition ArnEquals aws:SourceArn = the bucket ARN so only the W&B bucket can send"
    ),
    "CORS_MISSING": FindingKind("error", "add the module's CORS rule: methods GET, HEAD, PUT; origins *; headers *"),
    "CORS_METHODS": FindingKind("error", "allow GET, PUT and HEAD in the bucket's CORS rule for the W&B origin"),
    "CORS_ORIGIN": FindingKind("error", "add the W&B URL (or *) to AllowedOrigins of the bucket's CORS rule"),
    "BUCKET_UNENCRYPTED": FindingKind("error", "enable default encryption (the module uses its KMS key)"),
    "BUCKET_PUBLIC": FindingKind(
        "error", "enable all four S3 Block Public Access settings and remove public grants and policy statements"
    ),
    "PROBE_NO_EVENT": FindingKind(
        "error",
        "no ObjectCreated event reached the queue: check the notification and queue policy; a consumer (W&B itself) "
        "may also have taken the event — re-run the probe",
    ),
    # W&B health
    "DNS_UNRESOLVED": FindingKind(
        "error", "the W&B host name does not resolve yet: check the Route53 record (external-dns may be rate limited)"
    ),
    "UNREACHABLE_FROM_DEPLOYER": FindingKind(
        "warning",
        "W&B is healthy per its load balancer but not reachable from the deployer: add the deployer's egress to "
        "allowed_inbound_cidr, or give the health function a VPC (template parameters HealthCheckSubnetIds and "
        "HealthCheckSecurityGroupIds: subnets with a NAT whose address allowed_inbound_cidr admits)",
    ),
    "TARGETS_UNHEALTHY": FindingKind(
        "error",
        "the load balancer's own health checks fail (GET /healthz on the W&B pods): check the pods and their logs "
        "(NoSuchBucket, database migrations, license), and the target group's health check settings",
    ),
    "LOAD_BALANCER_NOT_FOUND": FindingKind(
        "warning",
        "the deployer finds W&B's load balancer through the Route53 alias record of the W&B host in infra/zone_id: "
        "check that the record exists (external-dns creates it in the operator generation, and may be rate "
        "limited) and is an alias of the load balancer",
    ),
    "CONNECTION_REFUSED": FindingKind(
        "error", "nothing listens on the W&B port: check the load balancer and its targets"
    ),
    "CONNECTION_FAILED": FindingKind("error", "the connection to W&B broke: check the load balancer and the W&B pods"),
    "TIMEOUT": FindingKind(
        "error",
        "W&B did not answer in time: check that allowed_inbound_cidr admits the deployer's egress, then the load "
        "balancer and the pods",
    ),
    "HTTP_5XX": FindingKind(
        "error", "W&B answered a server error: check pod logs (NoSuchBucket, database migrations, license)"
    ),
    "HTTP_UNEXPECTED": FindingKind("error", "W&B answered neither 200 nor 5xx: check the URL and the ingress routes"),
    "TLS_INVALID": FindingKind(
        "error", "serve a certificate from a trusted CA that covers the W&B host and is in its validity period (ACM)"
    ),
    "CERT_EXPIRING": FindingKind("warning", "renew the certificate (ACM renews DNS-validated certificates itself)"),
    "LICENSE_EXPIRING": FindingKind(
        "warning", "ask W&B for a new license and store it: wbd config push FILE --license-file NEW_LICENSE"
    ),
    "LICENSE_EXPIRED": FindingKind(
        "warning", "W&B blocks its UI after a 3-day grace period: store a new license (wbd config push --license-file)"
    ),
    "PLAIN_HTTP": FindingKind("info", "W&B has no certificate: set a domain and certificate to serve HTTPS"),
    "VERSION_MISMATCH": FindingKind(
        "error", "W&B runs another version than desired: wait for the rollout, or check the operator / release channel"
    ),
    "VERSION_UNCHECKED": FindingKind("info", "configure an API key for the deployer to compare the running version"),
    "VERSION_UNREADABLE": FindingKind(
        "warning",
        "the message says why: HTTP 401/403 means W&B refused deployer/api_key (store a valid key); any other answer "
        "means W&B's GraphQL endpoint did not answer serverInfo (check the W&B pods)",
    ),
    "VERSION_NOT_REPORTED": FindingKind(
        "warning",
        "W&B answered serverInfo with latestLocalVersionInfo = null, which its GraphQL schema allows (the wandb SDK "
        "reads it as 'no local version reported'): the running version cannot be compared here; the API key is "
        "fine. Read the version in W&B's System Console (or the operator's status) instead",
    ),
    # W&B's use of the file-storage queue
    "QUEUE_NOT_CONSUMED": FindingKind(
        "error",
        "W&B does not consume its file-storage queue, so uploaded files never show in runs: check that the W&B pods "
        "run, that the app's bucket_queue is sqs://<bucket_queue_name>, and that the node role may receive and "
        "delete messages on the queue (the module grants sqs:* on it)",
    ),
}


def finding(code: str, message: str, *, severity: Severity | None = None) -> Finding:
    """A finding of a catalogued code, with its default severity (or the given one) and fix hint."""
    kind = CATALOG[code]
    return Finding(code=code, severity=severity or kind.severity, message=message, fix_hint=kind.fix_hint)
