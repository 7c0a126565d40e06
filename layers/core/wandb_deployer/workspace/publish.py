"""Publish a workspace bundle to the artifacts bucket, encrypted with KMS."""

from __future__ import annotations

import hashlib
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from wandb_deployer.errors import DeployerError, TransientAwsError
from wandb_deployer.states import S3Pointer

logger = Logger(child=True)

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "SlowDown",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "InternalError",
        "KMS.ThrottlingException",
    }
)


class BundlePublishError(DeployerError):
    """The workspace bundle could not be written to the artifacts bucket (access, missing bucket or KMS key)."""


def publish_bundle(bundle: bytes, *, bucket: str, key: str, kms_key_arn: str, s3: Any) -> S3Pointer:
    """PutObject `bundle` at s3://bucket/key with SSE-KMS (`kms_key_arn`, or the aws:kms default key when empty).

    The object carries its sha256 as metadata. Raises TransientAwsError for throttling, 5xx and connection failures,
    BundlePublishError for every other refusal.
    """
    sha256 = hashlib.sha256(bundle).hexdigest()
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Key": key,
        "Body": bundle,
        "ContentType": "application/zip",
        "ServerSideEncryption": "aws:kms",
        "Metadata": {"sha256": sha256},
    }
    if kms_key_arn:
        request["SSEKMSKeyId"] = kms_key_arn
    try:
        response = s3.put_object(**request)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if code in _TRANSIENT_CODES or status >= 500:
            raise TransientAwsError(f"s3:PutObject of the workspace bundle was throttled or failed ({code})") from exc
        raise BundlePublishError(f"s3:PutObject of the workspace bundle to bucket {bucket!r} failed ({code})") from exc
    except (BotocoreConnectionError, ReadTimeoutError) as exc:
        raise TransientAwsError("s3:PutObject of the workspace bundle could not reach S3") from exc
    version_id = response.get("VersionId") or None
    logger.info("workspace bundle published", bucket=bucket, key=key, version_id=version_id, size=len(bundle))
    return S3Pointer(bucket=bucket, key=key, version_id=version_id)
