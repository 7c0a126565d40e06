"""functions/load_config compares the desired config with the one last applied: the run's record says which
parameters changed (secrets masked), and the upgrade guards refuse an unsafe version change whatever wrote it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import LICENSE, FakeContext, load_handler, push
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.errors import VersionChangeRefusedError
from wandb_deployer.runs.desired import mark_applied
from wandb_deployer.runs.history import read_run, record_run_event
from wandb_deployer.upgrade.guards import UpgradeRequest
from wandb_deployer.upgrade.runbook_record import new_runbook_state, save_runbook
from wandb_deployer.upgrade.runbooks import runbook_for

pytestmark = pytest.mark.unit

MACHINE = "arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-deploy:"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


class Runs:
    """Deploy runs of `demo` as the workflow drives the load step: record started, load, (apply) mark applied."""

    def __init__(self) -> None:
        self.handler = load_handler("load_config")
        self.count = 0

    def load(self, *, check_versions: bool = True) -> tuple[str, dict[str, Any]]:
        self.count += 1
        name = f"run-{self.count}"
        started = T0.replace(minute=self.count)
        record_run_event(
            deployment="demo",
            execution_arn=MACHINE + name,
            outcome="started",
            started_at=started,
            table="deployments",
            dynamodb=boto3.client("dynamodb"),
        )
        event = {
            "deployment": "demo",
            "execution_name": name,
            "execution_arn": MACHINE + name,
            "started_at": started.isoformat(),
            "check_versions": check_versions,
        }
        return name, self.handler.lambda_handler(event, FakeContext())

    @staticmethod
    def applied(name: str, result: dict[str, Any]) -> None:
        mark_applied(
            deployment="demo",
            fingerprint=result["fingerprint"],
            execution_arn=MACHINE + name,
            table="deployments",
            dynamodb=boto3.client("dynamodb"),
            allow_downgrade=result["allow_downgrade"],
        )

    @staticmethod
    def details(name: str) -> dict[str, Any]:
        record = read_run(
            deployment="demo", execution_arn=MACHINE + name, table="deployments", dynamodb=boto3.client("dynamodb")
        )
        assert record is not None
        return record.details


def put(key: str, value: str) -> None:
    boto3.client("ssm").put_parameter(Name=f"/wandb-deployer/demo/{key}", Value=value, Type="String", Overwrite=True)


def test_each_run_records_what_changed_since_the_last_apply(deployer: dict[str, Any]) -> None:
    push(REPO / "examples" / "operator.yaml")
    runs = Runs()

    # The first install: every parameter is new; the license is masked.
    first, result = runs.load()
    changes = {change["key"]: change for change in runs.details(first)["changes"]}
    assert runs.details(first)["changes_since"] == "nothing applied yet"
    assert changes["infra/size"] == {"key": "infra/size", "before": None, "after": "small", "masked": False}
    assert changes["infra/license"]["after"] == "********" and changes["infra/license"]["masked"] is True
    runs.applied(first, result)

    # A parameter change: exactly that parameter, before and after.
    put("infra/size", "medium")
    second, result = runs.load()
    assert runs.details(second)["changes"] == [
        {"key": "infra/size", "before": "small", "after": "medium", "masked": False}
    ]
    assert runs.details(second)["changes_since"] == first
    store = json.dumps(boto3.client("dynamodb").scan(TableName="deployments")["Items"])
    assert LICENSE not in store and all(part not in store for part in LICENSE.split(".")[1:])


def test_an_unsafe_version_change_fails_the_run_with_its_reasons_whatever_wrote_it(deployer: dict[str, Any]) -> None:
    push(REPO / "examples" / "operator.yaml")
    runs = Runs()
    name, result = runs.load()
    runs.applied(name, result)
    put("infra/eks_cluster_version", "1.34")  # an accepted upgrade
    name, result = runs.load()
    runs.applied(name, result)

    # When the old value comes back (the unchanged file pushed again, or a hand edit),
    put("infra/eks_cluster_version", "1.33")
    with pytest.raises(VersionChangeRefusedError) as refused:
        runs.load()

    # the run fails with the guard's reason, recorded with the change, and nothing is published.
    assert refused.value.reasons == ["eks_cluster_version: EKS cannot be downgraded (1.34 -> 1.33), not even forced"]
    details = runs.details(f"run-{runs.count}")
    assert details["refused"] == refused.value.reasons
    assert details["changes"] == [
        {"key": "infra/eks_cluster_version", "before": "1.34", "after": "1.33", "masked": False}
    ]
    # The drift check loads the same config without the guards (it plans refresh-only).
    runs.load(check_versions=False)


def test_deployer_allow_downgrade_grants_one_applied_downgrade(deployer: dict[str, Any]) -> None:
    push(REPO / "examples" / "operator.yaml")
    runs = Runs()
    name, result = runs.load()
    runs.applied(name, result)

    # A downgrade is refused without the allowance,
    put("deployer/terraform_version", "1.10.4")
    with pytest.raises(VersionChangeRefusedError):
        runs.load()
    # allowed by a new deployer/allow_downgrade value, which the applied run consumes,
    put("deployer/allow_downgrade", "forced by alice at 2026-05-01T12:00:00Z")
    name, result = runs.load()
    assert runs.details(name)["allow_downgrade"] is True
    runs.applied(name, result)
    # so the next downgrade is refused again while the same value stays in SSM,
    put("deployer/terraform_version", "1.10.3")
    with pytest.raises(VersionChangeRefusedError):
        runs.load()
    # and allowed again by a new value.
    put("deployer/allow_downgrade", "forced by alice at 2026-05-01T13:00:00Z")
    runs.load()


def test_a_module_major_across_a_documented_transition_runs_only_as_its_runbook(deployer: dict[str, Any]) -> None:
    """7.x -> 8.x by hand (a push, an SSM edit) would apply without `preserve_aws_auth_configmap` and without the
    guide's plan rules: refused, naming `wbd upgrade`; the same change written by a running runbook's step runs."""
    push(REPO / "examples" / "operator.yaml")
    put("deployer/module_version", "7.18.2")
    boto3.client("ssm").delete_parameter(Name="/wandb-deployer/demo/infra/kubernetes_legacy_cluster_creator_admin")
    runs = Runs()
    name, result = runs.load()
    runs.applied(name, result)

    put("deployer/module_version", "8.0.0")
    put("infra/kubernetes_legacy_cluster_creator_admin", "true")
    with pytest.raises(VersionChangeRefusedError) as refused:
        runs.load()
    assert refused.value.reasons == [
        "deployer/module_version: 7.18.2 -> 8.0.0 crosses the v7-to-v8 transition, which W&B documents as a runbook "
        "(docs/v8-upgrade-guide.md (wandb/terraform-aws-wandb v8.0.0)): request it with `wbd upgrade demo "
        "--module-version 8.0.0` (its steps, plan rules and approvals), or set deployer/module_version back to 7.18.2"
    ]

    current = load_deployment_config("demo", prefix="/wandb-deployer", ssm=boto3.client("ssm"), with_secrets=False)
    found = runbook_for(
        UpgradeRequest(deployment="demo", module_version="8.0.0"),
        current.model_copy(
            update={
                "deployer": current.deployer.model_copy(update={"module_version": "7.18.2"}),
                "infra": {k: v for k, v in current.infra.items() if k != "kubernetes_legacy_cluster_creator_admin"},
            }
        ),
    )
    assert found is not None
    save_runbook(new_runbook_state(found, requested_by="alice", request_id=None), table="deployments",
                 dynamodb=boto3.client("dynamodb"))  # fmt: skip
    runs.load()  # the runbook's step: not refused
