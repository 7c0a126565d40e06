"""`wbd verify DEPLOYMENT` against the running sandbox: both checks now, a table of findings, exit 0 / 1 / 2.

boto3 reaches the sandbox through AWS_ENDPOINT_URL, which the sandbox sets for this process.
"""

from __future__ import annotations

import re
import secrets

import pytest
from typer.testing import CliRunner

from tests.e2e.conftest import LEGACY_EXAMPLE
from tests.e2e.deployed_wiring import DeployedWiring, push_with_api_key
from wandb_deployer.verification.findings import CATALOG
from wbd.cli.main import app
from wbd.sandbox_driver import SandboxDriver, demo_license

pytestmark = pytest.mark.e2e

WIDE = {"COLUMNS": "200", "NO_COLOR": "1"}


def printed_codes(output: str) -> set[str]:
    return {code for code in CATALOG if re.search(rf"\b{code}\b", output)}


def test_wbd_verify_prints_the_findings_and_exits_0_when_correct_and_1_when_broken(deployer: SandboxDriver) -> None:
    # Given the legacy example (W&B 0.51.2 pinned, in eu-central-1) deployed, with an API key for the version check,
    api_key = f"local-{secrets.token_hex(20)}"
    deployer.standin.set_api_key(api_key)
    deployer.standin.set_version("0.51.2")
    deployment = push_with_api_key(deployer, LEGACY_EXAMPLE, api_key=api_key)
    deployer.wait_until_idle()
    assert deployer.runs(deployment)[0].outcome == "succeeded"
    runner = CliRunner()

    # When `wbd verify --probe` runs on the correct setup, it prints both checks and exits 0 (W&B, which reads this
    # queue, is held off while the probe waits for its event: it could take it first, which is only a warning):
    assert deployer.queue_reader is not None
    deployer.queue_reader.reading(False)
    correct = runner.invoke(app, ["verify", deployment, "--probe"], env=WIDE)
    deployer.queue_reader.reading(True)
    assert correct.exit_code == 0, correct.output
    assert "S3 -> SQS wiring of" in correct.output and "health of" in correct.output
    assert "no findings" in correct.output  # the wiring
    assert printed_codes(correct.output) == {"PLAIN_HTTP"}  # the sandbox's endpoint is plain HTTP (info)
    assert f"{deployment}: wiring passed; health ok; live probe delivered; W&B 0.51.2 running" in correct.output

    # When the notification is removed and W&B runs another version than app/wandb_version,
    wiring = DeployedWiring.of(deployer, deployment)
    wiring.remove_notification()
    deployer.standin.set_version("0.50.0")
    broken = runner.invoke(app, ["verify", deployment], env=WIDE)
    # it names exactly those findings and exits 1.
    assert broken.exit_code == 1, broken.output
    assert printed_codes(broken.output) == {"NOTIFICATION_MISSING", "VERSION_MISMATCH", "PLAIN_HTTP"}, broken.output
    assert "wiring FAILED; health FAILED" in broken.output

    # A deployment the deployer does not know is a usage error (exit 2), not a finding.
    unknown = runner.invoke(app, ["verify", "no-such-deployment"], env=WIDE)
    assert unknown.exit_code == 2, unknown.output

    # No secret is ever printed.
    for result in (correct, broken, unknown):
        assert api_key not in result.output and demo_license() not in result.output
