"""License expiry in the sandbox (issue 13): a license whose `exp` is 10 days away gives the run a LICENSE_EXPIRING
warning, the daily check notifies `License Expiring` once, and the license itself appears nowhere."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import OPERATOR_EXAMPLE
from tests.e2e.run_evidence import NotificationCapture, license_leaks
from tests.e2e.test_drift import check_drift
from wbd.sandbox_driver import SandboxDriver

pytestmark = pytest.mark.e2e


def expiring_license(days: int) -> str:
    """A JWS-shaped test token (never a real license) with an `exp` claim `days` from now and a unique marker."""

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    exp = int((datetime.now(UTC) + timedelta(days=days, hours=1)).timestamp())
    marker = uuid.uuid4().hex
    return ".".join([part({"alg": "none", "typ": "JWT"}), part({"sub": f"e2e-{marker}", "exp": exp}), f"sig{marker}"])


def test_an_expiring_license_is_warned_about_and_never_shown(deployer: SandboxDriver) -> None:
    notifications = NotificationCapture.subscribe(deployer)
    license_value = expiring_license(10)

    deployment = deployer.push(OPERATOR_EXAMPLE, license_value=license_value)
    deployer.wait_until_idle()

    run = deployer.runs(deployment)[0]
    assert run.outcome == "succeeded", run
    assert any(w.startswith("LICENSE_EXPIRING: the W&B license expires on ") for w in run.details["warnings"]), run
    (succeeded, _) = notifications.events("Run Succeeded", deployment)
    assert any("LICENSE_EXPIRING" in w for w in succeeded[0]["detail"]["warnings"])

    check_drift(deployer)
    check_drift(deployer)  # the next day's check: already told

    (told, on_bus) = notifications.events("License Expiring", deployment)
    assert len(told) == 1 and len(on_bus) == 1
    assert (told[0]["detail"]["days_left"], told[0]["detail"]["threshold_days"]) == (10, 30)
    assert not license_leaks(deployer, license_value, notifications)
    assert license_value.split(".")[1] not in deployer.sandbox.all_logs()
