"""The real deploy workflow in the sandbox: a pushed config deploys end to end; an identical run skips apply."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import OPERATOR_EXAMPLE
from wbd.sandbox_driver import SandboxDriver

pytestmark = pytest.mark.e2e


def test_pushed_config_deploys_end_to_end_and_an_identical_run_changes_nothing(deployer: SandboxDriver) -> None:
    # Given the operator example pushed to SSM, the events start a run that plans, applies and verifies.
    deployment = deployer.push(OPERATOR_EXAMPLE)
    deployer.wait_until_idle()
    runs = deployer.runs(deployment)
    assert runs and all(run.outcome == "succeeded" for run in runs)
    first = runs[-1]
    # random_pet, the module's other inputs, bucket, public access block, encryption, CORS (W&B's internal queue)
    assert first.details["counts"]["create"] == 6
    assert deployer.status(deployment).applied is not None
    assert deployer.status(deployment).lock is None

    # When a parameter is written with the value it already has (an identical desired state),
    deployer.put(deployment, "deployer/drift_action", "notify")
    deployer.wait_until_idle()

    # then the new run plans no changes and skips apply.
    latest = deployer.runs(deployment)[0]
    assert latest.outcome == "no-changes"
    assert latest.execution_arn not in {run.execution_arn for run in runs}
