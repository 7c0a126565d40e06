"""Upgrades (issue 6): an `Upgrade Requested` event lands in SSM and deploys; a downgrade and a two-minor EKS jump are
rejected with their reasons and change nothing."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import OPERATOR_EXAMPLE
from tests.e2e.notification_capture import NotificationInbox
from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.workspace import desired_fingerprint
from wbd.sandbox_driver import PREFIX, SandboxDriver

pytestmark = pytest.mark.e2e


def versions(deployment: str) -> tuple[str, str]:
    """(deployer/module_version, infra/eks_cluster_version) as now in SSM."""
    ssm = client("ssm")
    module = ssm.get_parameter(Name=f"{PREFIX}/{deployment}/deployer/module_version")["Parameter"]["Value"]
    eks = ssm.get_parameter(Name=f"{PREFIX}/{deployment}/infra/eks_cluster_version")["Parameter"]["Value"]
    return str(module), str(eks)


def request_upgrade(deployer: SandboxDriver, **detail: object) -> None:
    bus = str(deployer.sandbox.physical("EventBus"))
    deployer.sandbox.put_event("wandb-deployer", "Upgrade Requested", {"requested_by": "e2e", **detail}, bus=bus)


def test_upgrade_event_lands_in_ssm_and_deploys_and_unsafe_requests_are_rejected(deployer: SandboxDriver) -> None:
    inbox = NotificationInbox.subscribe(deployer.sandbox)
    deployment = deployer.push(OPERATOR_EXAMPLE)
    executions = deployer.wait_until_idle()
    assert versions(deployment) == ("8.0.0", "1.33")

    # Given a module downgrade and an EKS jump of two minor versions are requested,
    request_upgrade(deployer, deployment=deployment, module_version="7.2.0")
    request_upgrade(deployer, deployment=deployment, eks_cluster_version="1.35")

    # then both are rejected, each with its reason, and nothing changed or ran.
    downgrade, jump = inbox.wait_for("Upgrade Rejected", count=2)
    assert downgrade["detail"]["request"]["module_version"] == "7.2.0"
    assert any("downgrade" in reason for reason in downgrade["detail"]["reasons"])
    assert jump["detail"]["request"]["eks_cluster_version"] == "1.35"
    assert any("one minor version at a time" in reason for reason in jump["detail"]["reasons"])
    assert versions(deployment) == ("8.0.0", "1.33")
    assert len(deployer.executions()) == len(executions)

    # When the next EKS minor version is requested,
    request_upgrade(deployer, deployment=deployment, eks_cluster_version="1.34")
    upgrade_run = deployer.wait_for_new_execution()
    deployer.wait_until_idle()

    # then it is accepted, written to SSM (the single source of truth), and that change is deployed.
    (accepted,) = inbox.wait_for("Upgrade Accepted")
    assert accepted["detail"]["changes"] == [{"name": "infra/eks_cluster_version", "value": "1.34", "previous": "1.33"}]
    assert versions(deployment) == ("8.0.0", "1.34")
    run = deployer.runs(deployment)[0]
    assert (run.execution_arn, run.trigger, run.outcome) == (upgrade_run, "upgrade", "succeeded")
    config = load_deployment_config(deployment, prefix=PREFIX, ssm=client("ssm"))
    applied = deployer.status(deployment).applied
    assert applied is not None and applied.fingerprint == desired_fingerprint(config)
    assert inbox.events(deployment).count("Upgrade Rejected") == 2
