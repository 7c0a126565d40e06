"""The load balancer's health checks, emulated: moto reports every registered IP target healthy, whatever it is; the
sandbox asks the target instead, as an Application Load Balancer does, using the target group's health check
(protocol HTTP, path, port, matcher, timeout), and reports AWS's states and reason codes (botocore's `TargetHealth`):
`healthy`; `unhealthy` with `Target.ResponseCodeMismatch`, `Target.Timeout` or `Target.FailedHealthChecks`.

One check per DescribeTargetHealth (no thresholds or intervals: the sandbox has no clock of its own for them).
"""

from __future__ import annotations

import http.client
import ipaddress
from contextlib import ExitStack
from typing import Any
from unittest.mock import patch

from moto.elbv2.models import FakeHealthStatus, FakeTargetGroup

MAX_TIMEOUT_SECONDS = 2.0  # the group's HealthCheckTimeoutSeconds, capped so a hung target does not stall a request


def _is_ip(target_id: str) -> bool:
    try:
        ipaddress.ip_address(target_id)
    except ValueError:
        return False
    return True


def _expected(group: FakeTargetGroup) -> set[int]:
    codes: set[int] = set()
    for part in str((getattr(group, "matcher", None) or {}).get("HttpCode", "200")).split(","):
        low, _, high = part.strip().partition("-")
        if low.isdigit():
            codes.update(range(int(low), int(high or low) + 1))
    return codes


def probe_target(group: FakeTargetGroup, status: FakeHealthStatus) -> FakeHealthStatus:
    """One health check of an IP target, answered the way ELB describes its outcome."""
    port = status.port if group.health_check_port in (None, "traffic-port") else group.health_check_port
    timeout = min(float(group.health_check_timeout_seconds or 5), MAX_TIMEOUT_SECONDS)
    connection = http.client.HTTPConnection(status.instance_id, int(port), timeout=timeout)
    try:
        connection.request("GET", group.health_check_path or "/", headers={"User-Agent": "ELB-HealthChecker/2.0"})
        code = connection.getresponse().status
    except TimeoutError:
        return FakeHealthStatus(
            status.instance_id, status.port, group.health_check_port, "unhealthy", "Target.Timeout", "Request timed out"
        )
    except (OSError, http.client.HTTPException):
        return FakeHealthStatus(
            status.instance_id,
            status.port,
            group.health_check_port,
            "unhealthy",
            "Target.FailedHealthChecks",
            "Health checks failed",
        )
    finally:
        connection.close()
    if code in _expected(group):
        return FakeHealthStatus(status.instance_id, status.port, group.health_check_port, "healthy")
    return FakeHealthStatus(
        status.instance_id,
        status.port,
        group.health_check_port,
        "unhealthy",
        "Target.ResponseCodeMismatch",
        f"Health checks failed with these codes: [{code}]",
    )


def install_target_health_checks(patches: ExitStack) -> None:
    """Patch moto so that DescribeTargetHealth of a registered IP target runs the group's health check."""
    original = FakeTargetGroup.health_for

    def health_for(group: FakeTargetGroup, target: dict[str, Any], ec2_backend: Any) -> FakeHealthStatus:
        status = original(group, target, ec2_backend)
        if status.status != "healthy" or not group.health_check_enabled or not _is_ip(status.instance_id):
            return status
        return probe_target(group, status)

    patches.enter_context(patch.object(FakeTargetGroup, "health_for", health_for))
