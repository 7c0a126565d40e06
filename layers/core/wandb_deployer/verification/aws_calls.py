"""AWS reads of the verifiers, with errors sorted the deployer's way.

"Not found" answers are data (a missing CORS configuration is a finding, not a failure); throttling and service errors
become `TransientAwsError` (the state machine retries it by name); anything else (access denied, a malformed request)
means the verifier could not look, and becomes `AwsRequestFailedError`. Every wrap keeps the cause (`from exc`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError

from wandb_deployer.errors import AwsRequestFailedError, TransientAwsError

TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "SlowDown",
        "ServiceUnavailable",
        "InternalError",
        "InternalFailure",
        "RequestTimeout",
        "RequestTimeoutException",
        "AWS.SimpleQueueService.RequestThrottled",
    }
)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_transient(exc: ClientError) -> bool:
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return error_code(exc) in TRANSIENT_CODES or status >= 500


def aws_call(what: str, operation: Callable[..., Any], *, not_found: Collection[str] = (), **kwargs: Any) -> Any:
    """Call `operation(**kwargs)`; return None when AWS answers one of the `not_found` error codes."""
    try:
        return operation(**kwargs)
    except ClientError as exc:
        code = error_code(exc)
        if code in not_found:
            return None
        if is_transient(exc):
            raise TransientAwsError(f"{what}: AWS answered {code or 'an error'}; retry") from exc
        raise AwsRequestFailedError(
            f"{what}: AWS answered {code or 'an error'}; the deployer could not verify"
        ) from exc
    except (ConnectionError, HTTPClientError) as exc:
        raise TransientAwsError(f"{what}: could not reach AWS; retry") from exc
    except BotoCoreError as exc:
        raise AwsRequestFailedError(f"{what}: {type(exc).__name__}") from exc
