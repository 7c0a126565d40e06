"""`wbd runbook --restore`: a stopped or aborted runbook's recorded state version is copied back over the state object
(SSE-KMS with the deployer's key), the last good run before the runbook becomes the applied one and its config goes
back to SSM (noted `rollback`), the deployment is paused; every refusal changes nothing. And the narrow allowance it
gives the rollback's guards: exactly the runbook's from-version, EKS still refused."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.unit.handlers.conftest import PREFIX, push
from tests.unit.rollback.conftest import TABLE, Runs, put, ssm_value
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.deploy.paths import state_key
from wandb_deployer.errors import RollbackRefusedError
from wandb_deployer.runs.change_source import change_source
from wandb_deployer.runs.config_snapshot import read_snapshot
from wandb_deployer.runs.desired import mark_applied, read_applied
from wandb_deployer.runs.lock import acquire_lock
from wandb_deployer.runs.rollback import RestoreAllowance, find_target, plan_rollback
from wandb_deployer.upgrade.guards import UpgradeRequest
from wandb_deployer.upgrade.runbook_execution import finish_step, record_state_version, start_runbook
from wandb_deployer.upgrade.runbook_record import RunbookState, read_runbook, save_runbook
from wandb_deployer.upgrade.runbooks import runbook_for
from wbd.cli.main import app

pytestmark = pytest.mark.unit

OPERATOR = REPO / "examples" / "operator.yaml"
STATE = "state"
KEY = state_key("demo")
OLD_STATE = b'{"version": 4, "serial": 7, "note": "written by module 7.18.2"}'
NEW_STATE = b'{"version": 4, "serial": 9, "note": "written by module 8.0.0"}'


@dataclass
class Scenario:
    """A deployment on 7.18.2 whose v7-to-v8 runbook applied its first step."""

    good_run: str
    good_fingerprint: str
    step_run: str
    recorded_version: str
    key_arn: str


@pytest.fixture
def cli(deployer: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    directory = {
        "artifacts_bucket": "artifacts",
        "state_bucket": STATE,
        "deployments_table": TABLE,
        "deploy_state_machine_arn": deployer["state_machine_arn"],
        "drift_state_machine_arn": deployer["state_machine_arn"],
        "event_bus_name": "default",
        "parameter_prefix": PREFIX,
    }
    boto3.client("ssm").put_parameter(Name=f"{PREFIX}-stack", Value=json.dumps(directory), Type="String")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def _at(hours: float) -> datetime:
    return datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=hours)


def _runbook() -> RunbookState:
    state = read_runbook(deployment="demo", table=TABLE, dynamodb=boto3.client("dynamodb"))
    assert state is not None
    return state


def _state_bucket() -> str:
    """The state bucket as template.yaml has it: versioned, SSE-KMS by default with the deployer's key."""
    s3 = boto3.client("s3")
    s3.put_bucket_versioning(Bucket=STATE, VersioningConfiguration={"Status": "Enabled"})
    key_arn = str(boto3.client("kms").create_key(Description="deployer")["KeyMetadata"]["Arn"])
    s3.put_bucket_encryption(
        Bucket=STATE,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}}]
        },
    )
    return key_arn


def _write_state(body: bytes, key_arn: str) -> str:
    written = boto3.client("s3").put_object(
        Bucket=STATE, Key=KEY, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn
    )
    return str(written["VersionId"])


def _applied_step(runs: Runs, *, eks: str | None = None, abort: bool = True) -> Scenario:
    """7.18.2 applied by run 1; the runbook (to 8.0.0, EKS too when `eks`) records the state version, its first step
    applies (run 2, a new state version), then the runbook is aborted (or left running)."""
    dynamodb, ssm = boto3.client("dynamodb"), boto3.client("ssm")
    key_arn = _state_bucket()
    push(OPERATOR)
    put("demo/deployer/module_version", "7.18.2")
    ssm.delete_parameter(Name=f"{PREFIX}/demo/infra/kubernetes_legacy_cluster_creator_admin")
    good_arn, good = runs.run("succeeded")
    mark_applied(
        deployment="demo", fingerprint=good.fingerprint, execution_arn=good_arn, table=TABLE, dynamodb=dynamodb
    )
    _write_state(OLD_STATE, key_arn)

    config = load_deployment_config("demo", prefix=PREFIX, ssm=ssm, with_secrets=False)
    request = UpgradeRequest(deployment="demo", module_version="8.0.0", eks_cluster_version=eks)
    runbook = runbook_for(request, config)
    assert runbook is not None
    state = start_runbook(
        runbook, requested_by="alice", request_id=None, prefix=PREFIX, ssm=ssm, table=TABLE, dynamodb=dynamodb,
        now=_at(1.5),
    )  # fmt: skip
    step_arn, step = runs.run("succeeded", trigger="upgrade")  # started at +2h, after the step's changes
    state = record_state_version(
        state, bucket=STATE, key=KEY, s3=boto3.client("s3"), execution_arn=step_arn, table=TABLE, dynamodb=dynamodb
    )
    assert state.state_version is not None and state.state_version.version_id is not None
    recorded = state.state_version.version_id
    _write_state(NEW_STATE, key_arn)
    mark_applied(
        deployment="demo", fingerprint=step.fingerprint, execution_arn=step_arn, table=TABLE, dynamodb=dynamodb
    )
    state = finish_step(
        state, outcome="succeeded", execution_arn=step_arn, reason=None, prefix=PREFIX, ssm=ssm, table=TABLE,
        dynamodb=dynamodb,
    )  # fmt: skip
    if abort:
        save_runbook(state.model_copy(update={"status": "aborted", "reason": "test"}), table=TABLE, dynamodb=dynamodb)
    return Scenario(
        good_run=good_arn,
        good_fingerprint=good.fingerprint,
        step_run=step_arn,
        recorded_version=recorded,
        key_arn=key_arn,
    )


def _versions() -> list[tuple[str, str, bool]]:
    listed = boto3.client("s3").list_object_versions(Bucket=STATE)
    return [(v["Key"], v["VersionId"], v["IsLatest"]) for v in listed.get("Versions", [])]


def _everything() -> dict[str, Any]:
    """What a refused restore must leave as it was: SSM (values and versions), the state's versions, the table."""
    ssm = boto3.client("ssm")
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path=f"{PREFIX}/demo", Recursive=True)
    parameters = {p["Name"]: (p["Value"], p["Version"]) for page in pages for p in page["Parameters"]}
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    return {
        "ssm": parameters,
        "s3": _versions(),
        "table": sorted(json.dumps(item, sort_keys=True) for item in items),
    }


def _body(version_id: str | None = None) -> bytes:
    arguments = {"VersionId": version_id} if version_id else {}
    return bytes(boto3.client("s3").get_object(Bucket=STATE, Key=KEY, **arguments)["Body"].read())


def test_restore_puts_the_recorded_state_and_the_last_good_config_back(cli: CliRunner, runs: Runs) -> None:
    scenario = _applied_step(runs)
    assert ssm_value("demo/deployer/module_version")["Value"] == "8.0.0"
    before = _versions()

    result = cli.invoke(app, ["runbook", "demo", "--restore", "--yes"])

    assert result.exit_code == 0, result.output
    # the state object is the recorded version's bytes again, as a new version written with the deployer's key
    assert _body() == _body(scenario.recorded_version) == OLD_STATE
    head = boto3.client("s3").head_object(Bucket=STATE, Key=KEY)
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", scenario.key_arn)
    state = _runbook()
    assert state.status == "restored" and state.restore is not None
    assert state.restore.restored_version_id == scenario.recorded_version
    assert state.restore.new_version_id == head["VersionId"]
    assert state.restore.new_version_id not in {version for _, version, _ in before}
    assert len(_versions()) == len(before) + 1  # the newer versions stay in the bucket
    assert state.restore.target_run == scenario.good_run.rsplit(":", 1)[-1]
    # SSM holds run 1's config: the module major back, the step's transition variables gone, written as `rollback`
    module = ssm_value("demo/deployer/module_version")
    assert module["Value"] == "7.18.2"
    source = change_source(
        deployment="demo",
        parameter_name=f"{PREFIX}/demo/deployer/module_version",
        version=int(module["Version"]),
        table=TABLE,
        dynamodb=boto3.client("dynamodb"),
    )
    assert source == "rollback"
    ssm = boto3.client("ssm")
    transition_only = ("preserve_aws_auth_configmap", "kubernetes_legacy_cluster_creator_admin")
    gone = [f"{PREFIX}/demo/infra/{name}" for name in transition_only]
    assert ssm.get_parameters(Names=gone)["InvalidParameters"] == gone
    # paused, and the last good run is the applied one: the deploy run's guards compare with what the state holds
    assert ssm_value("demo/deployer/paused")["Value"] == "true"
    applied = read_applied(deployment="demo", table=TABLE, dynamodb=boto3.client("dynamodb"))
    assert applied is not None
    assert (applied.execution_arn, applied.fingerprint) == (scenario.good_run, scenario.good_fingerprint)
    assert "wbd resume demo" in result.stdout and "aws_auth_legacy[0]" in result.stdout
    # the run that starts on resume loads the restored config without a guard refusing it (the real load step)
    put("demo/deployer/paused", "false")
    _, loaded = runs.run("succeeded")
    assert (loaded.module_version, loaded.fingerprint) == ("7.18.2", scenario.good_fingerprint)  # run 1's config
    # a second restore is refused
    again = cli.invoke(app, ["runbook", "demo", "--restore", "--yes"])
    assert again.exit_code == 1 and "already restored" in again.stderr


def _hold_lock() -> None:
    acquire_lock(
        deployment="demo",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-deploy:demo-drift-x",
        table=TABLE,
        dynamodb=boto3.client("dynamodb"),
        sfn=boto3.client("stepfunctions"),
    )


def _tflock() -> None:
    boto3.client("s3").put_object(Bucket=STATE, Key=f"{KEY}.tflock", Body=b"{}")


def _running() -> None:
    state = _runbook()
    save_runbook(state.model_copy(update={"status": "running"}), table=TABLE, dynamodb=boto3.client("dynamodb"))


def _completed() -> None:
    state = _runbook()
    save_runbook(state.model_copy(update={"status": "completed"}), table=TABLE, dynamodb=boto3.client("dynamodb"))


def _no_version() -> None:
    state = _runbook()
    save_runbook(state.model_copy(update={"state_version": None}), table=TABLE, dynamodb=boto3.client("dynamodb"))


@pytest.mark.parametrize(
    ("arrange", "says"),
    [
        (_running, "it is running (step 2/2 retire-aws-auth): abort it first (wbd runbook demo --abort"),
        (_completed, "it completed: demo is on 8.0.0"),
        (_no_version, "no state version was recorded: the runbook never reached an apply, nothing to restore"),
        (_hold_lock, "run demo-drift-x holds the deployment lock"),
        (_tflock, f"the Terraform state lock s3://{STATE}/{KEY}.tflock exists"),
    ],
    ids=["running", "completed", "no-state-version", "lock-held", "tflock"],
)
def test_a_refused_restore_says_why_and_changes_nothing(cli: CliRunner, runs: Runs, arrange: Any, says: str) -> None:
    _applied_step(runs)
    arrange()
    before = _everything()

    result = cli.invoke(app, ["runbook", "demo", "--restore", "--yes"])

    assert result.exit_code == 1, result.output
    assert says in " ".join(result.stderr.split()) and "nothing changed" in result.stderr
    assert _everything() == before


def test_an_applied_eks_step_cannot_be_restored(cli: CliRunner, runs: Runs) -> None:
    _applied_step(runs, eks="1.34", abort=False)
    dynamodb = boto3.client("dynamodb")
    state = _runbook()
    assert state.step.name == "eks-1.34"
    state = finish_step(
        state, outcome="succeeded", execution_arn="arn:eks-run", reason=None, prefix=PREFIX, ssm=boto3.client("ssm"),
        table=TABLE, dynamodb=dynamodb,
    )  # fmt: skip
    save_runbook(state.model_copy(update={"status": "aborted"}), table=TABLE, dynamodb=dynamodb)
    before = _everything()

    result = cli.invoke(app, ["runbook", "demo", "--restore", "--yes"])

    assert result.exit_code == 1, result.output
    text = " ".join(result.stderr.split())
    assert "step eks-1.34 (succeeded) moves EKS and may have applied" in text and "restoring is not possible" in text
    assert _everything() == before


def test_an_eks_step_whose_approval_was_rejected_did_not_apply(cli: CliRunner, runs: Runs) -> None:
    _applied_step(runs, eks="1.34", abort=False)
    state = _runbook()
    state = finish_step(
        state, outcome="rejected", execution_arn="arn:eks-run", reason="no", prefix=PREFIX, ssm=boto3.client("ssm"),
        table=TABLE, dynamodb=boto3.client("dynamodb"),
    )  # fmt: skip
    assert state.status == "stopped"

    result = cli.invoke(app, ["runbook", "demo", "--restore", "--yes"])

    assert result.exit_code == 0, result.output
    assert _runbook().status == "restored" and _body() == OLD_STATE
    assert ssm_value("demo/infra/eks_cluster_version")["Value"] == "1.33"  # the rejected step's value is undone


def test_a_declined_restore_changes_nothing(cli: CliRunner, runs: Runs) -> None:
    _applied_step(runs)
    before = _everything()
    result = cli.invoke(app, ["runbook", "demo", "--restore"], input="n\n")
    assert result.exit_code == 1 and "aborted: nothing changed" in result.stderr
    assert _everything() == before


# The allowance the restore gives the rollback's guards, and no more.


def _after_step(runs: Runs) -> Any:
    _applied_step(runs)
    return find_target(deployment="demo", table=TABLE, dynamodb=boto3.client("dynamodb"), to="run1")


def _plan(target: Any, allowance: RestoreAllowance | None) -> Any:
    return plan_rollback(
        target,
        prefix=PREFIX,
        ssm=boto3.client("ssm"),
        table=TABLE,
        dynamodb=boto3.client("dynamodb"),
        who="ops",
        restoring=allowance,
    )


def test_without_the_allowance_the_major_downgrade_is_refused(runs: Runs) -> None:
    target = _after_step(runs)
    with pytest.raises(RollbackRefusedError, match=r"7\.18\.2 is a major downgrade from 8\.0\.0"):
        _plan(target, None)


def test_the_allowance_permits_exactly_the_runbooks_from_version(runs: Runs) -> None:
    target = _after_step(runs)
    plan = _plan(target, RestoreAllowance(module_version="7.18.2", generation="operator"))
    assert plan.desired[f"{PREFIX}/demo/deployer/module_version"].value == "7.18.2"
    for other in (
        RestoreAllowance(module_version="7.18.1", generation="operator"),  # not the release the target applied
        RestoreAllowance(module_version="7.18.2", generation="legacy"),
    ):
        with pytest.raises(RollbackRefusedError, match="major downgrade"):
            _plan(target, other)


def test_the_allowance_still_refuses_an_eks_downgrade(runs: Runs) -> None:
    target = _after_step(runs)
    put("demo/infra/eks_cluster_version", "1.34")  # EKS moved on after the target run (1.33) and applied
    applied_arn, applied = runs.run("succeeded")
    mark_applied(
        deployment="demo", fingerprint=applied.fingerprint, execution_arn=applied_arn, table=TABLE,
        dynamodb=boto3.client("dynamodb"),
    )  # fmt: skip
    snapshot = read_snapshot(
        deployment="demo", fingerprint=applied.fingerprint, table=TABLE, dynamodb=boto3.client("dynamodb")
    )
    assert snapshot is not None
    for allowance in (
        RestoreAllowance(module_version="7.18.2", generation="operator"),  # against SSM
        RestoreAllowance(module_version="7.18.2", generation="operator", applied_values=snapshot.values),
    ):
        with pytest.raises(RollbackRefusedError) as refused:
            _plan(target, allowance)
        assert any("EKS cannot be downgraded (1.34 -> 1.33)" in reason for reason in refused.value.reasons)
        assert not any("module_version" in reason for reason in refused.value.reasons)
