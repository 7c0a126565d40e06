"""Rollback: what a run records about its config (secrets by reference), the target a rollback picks, what it writes
back to SSM (the exact config, the secret's old value as a new version, noted as `rollback`), and what the upgrade
guards refuse before anything is written."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import LICENSE, PREFIX, push
from tests.unit.rollback.conftest import SECOND_LICENSE, TABLE, Runs, put, ssm_value
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.errors import RollbackRefusedError, RollbackUnavailableError
from wandb_deployer.runs.change_source import change_source
from wandb_deployer.runs.history import find_runs
from wandb_deployer.runs.rollback import find_target, plan_rollback, run_config, write_rollback
from wandb_deployer.workspace.fingerprint import desired_fingerprint

pytestmark = pytest.mark.unit

OPERATOR = REPO / "examples" / "operator.yaml"
LEGACY = REPO / "examples" / "legacy.yaml"


def _plan(target: Any) -> Any:
    return plan_rollback(
        target, prefix=PREFIX, ssm=boto3.client("ssm"), table=TABLE, dynamodb=boto3.client("dynamodb"), who="ops"
    )


def _target(to: str | None = None, deployment: str = "demo") -> Any:
    return find_target(deployment=deployment, table=TABLE, dynamodb=boto3.client("dynamodb"), to=to)


def test_a_run_records_its_config_with_secrets_by_name_and_version_only(runs: Runs) -> None:
    push(OPERATOR)
    put("demo/infra/license", SECOND_LICENSE, "SecureString")  # version 2
    arn, loaded = runs.run("succeeded")

    record = find_runs(deployment="demo", name=arn, table=TABLE, dynamodb=boto3.client("dynamodb"))[0]
    recorded = run_config(record)

    assert recorded is not None and recorded.fingerprint == loaded.fingerprint
    assert [(r.key, r.parameter, r.version) for r in recorded.references] == [
        ("infra/license", f"{PREFIX}/demo/infra/license", 2)
    ]
    assert LICENSE not in repr(record.details) and SECOND_LICENSE not in repr(record.details)


def test_rollback_writes_back_the_exact_config_of_the_last_succeeded_run(runs: Runs) -> None:
    # Given a succeeded run, then a change of size, of the license and a new parameter, whose run failed
    push(OPERATOR)
    _, good = runs.run("succeeded")
    put("demo/infra/size", "medium")
    put("demo/infra/license", SECOND_LICENSE, "SecureString")
    put("demo/infra/database_snapshot_identifier", "snap-1")
    runs.run("failed")

    # When the deployment is rolled back to the newest succeeded run
    target = _target()
    plan = _plan(target)
    written = write_rollback(plan, ssm=boto3.client("ssm"), table=TABLE, dynamodb=boto3.client("dynamodb"), who="ops")

    # Then SSM holds that run's config again: its fingerprint, the first license (as a new version), no extra parameter
    assert target.execution_name == "demo-push-run1" and not plan.downgrade
    changed = {change.name.rsplit("/", 2)[-2] + "/" + change.name.rsplit("/", 1)[-1] for change in plan.diff.changed}
    assert changed == {"infra/size", "infra/license"}
    assert [change.name for change in plan.diff.removed] == [f"{PREFIX}/demo/infra/database_snapshot_identifier"]
    assert (written.written, written.deleted) == (2, 1)
    config = load_deployment_config("demo", prefix=PREFIX, ssm=boto3.client("ssm"))
    # The fingerprint holds the license's parameter version, never its value (issue 10): the rolled-back license is a
    # new version, so the fingerprint is that run's with the new version in place of the old one.
    assert config.secret_versions["infra/license"] == 3
    assert (
        desired_fingerprint(
            config.model_copy(update={"secret_versions": {**config.secret_versions, "infra/license": 1}})
        )
        == good.fingerprint
    )
    license_now = ssm_value("demo/infra/license", decrypt=True)
    assert license_now["Value"] == LICENSE and license_now["Version"] == 3
    # and the run these writes start says `rollback`
    for key, version in (("infra/size", 3), ("infra/license", 3)):
        source = change_source(
            deployment="demo",
            parameter_name=f"{PREFIX}/demo/{key}",
            version=version,
            table=TABLE,
            dynamodb=boto3.client("dynamodb"),
        )
        assert source == "rollback", key


def test_a_secret_whose_version_did_not_change_is_left_alone(runs: Runs) -> None:
    push(OPERATOR)
    runs.run("succeeded")
    put("demo/infra/size", "large")
    runs.run("failed")

    plan = _plan(_target())

    assert [change.name for change in plan.diff.changed] == [f"{PREFIX}/demo/infra/size"]
    assert f"{PREFIX}/demo/infra/license" not in plan.desired and not plan.diff.removed


def test_rollback_to_a_named_run_and_the_runs_it_refuses(runs: Runs) -> None:
    push(OPERATOR)
    runs.run("succeeded")
    put("demo/infra/size", "medium")
    runs.run("succeeded")
    put("demo/infra/size", "large")
    runs.run("failed")

    assert _target().execution_name == "demo-push-run2"
    assert _target(to="run1").execution_name == "demo-push-run1"
    plan = _plan(_target(to="run1"))
    assert plan.desired[f"{PREFIX}/demo/infra/size"].value == "small"
    with pytest.raises(RollbackUnavailableError, match="demo-push-run3 ended failed: only a succeeded run"):
        _target(to="run3")
    with pytest.raises(RollbackUnavailableError, match="has no run 'run9'"):
        _target(to="run9")
    with pytest.raises(RollbackUnavailableError, match="matches 3 runs"):
        _target(to="demo-push")


def test_nothing_to_roll_back_to_without_a_succeeded_run(runs: Runs) -> None:
    push(OPERATOR)
    runs.run("failed")
    with pytest.raises(RollbackUnavailableError, match="nothing to roll back to"):
        _target()


def test_the_guards_refuse_an_eks_downgrade_and_nothing_is_written(runs: Runs) -> None:
    push(OPERATOR)
    runs.run("succeeded")
    put("demo/infra/eks_cluster_version", "1.34")
    put("demo/infra/size", "medium")
    runs.run("failed")
    before = {name: ssm_value(name)["Version"] for name in ("demo/infra/size", "demo/infra/eks_cluster_version")}

    with pytest.raises(RollbackRefusedError) as refused:
        _plan(_target())

    assert any("eks_cluster_version" in reason and "1.34" in reason for reason in refused.value.reasons)
    after = {name: ssm_value(name)["Version"] for name in before}
    assert after == before


def test_a_version_the_guards_let_go_back_once_is_rolled_back_with_allow_downgrade(runs: Runs) -> None:
    name = push(LEGACY)
    _, good = runs.run("succeeded", deployment=name)
    put(f"{name}/app/wandb_version", "0.52.0")
    runs.run("failed", deployment=name)

    plan = _plan(_target(deployment=name))

    assert plan.downgrade and plan.fingerprint == good.fingerprint
    grant = plan.desired[f"{PREFIX}/{name}/deployer/allow_downgrade"].value
    assert grant.startswith(f"rollback to {name}-push-run1 by ops at ")
    assert plan.desired[f"{PREFIX}/{name}/app/wandb_version"].value == "0.51.2"
