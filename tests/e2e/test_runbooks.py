"""Major upgrades as runbooks in the sandbox (the Terraform emulation's EKS plan shapes on): a 7.18.2 -> 8.0.0 request
with an EKS bump runs as the guide's sequence of approved runs (module with preserve_aws_auth_configmap, then EKS one
minor, then preserve_aws_auth_configmap back to its default), recording the state version before its first apply; a
plan that would replace the cluster stops the runbook with the guide's diagnosis and applies nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from tests.e2e.conftest import LEGACY_EXAMPLE, OPERATOR_EXAMPLE, REPO
from tests.e2e.notification_capture import NotificationInbox
from wandb_deployer.aws_clients import client
from wandb_deployer.errors import ApprovalTooEarlyError
from wandb_deployer.runs import parse_iso
from wandb_deployer.upgrade.runbook_record import RunbookState, read_runbook
from wbd.cli.main import app
from wbd.sandbox.terraform_emulation.eks import REPLACE_CLUSTER_FAULT
from wbd.sandbox_driver import PREFIX, SandboxDriver, running_deployer

pytestmark = pytest.mark.e2e


@pytest.fixture
def deployer(tmp_path: Path) -> Iterator[SandboxDriver]:
    with running_deployer(REPO, time_scale=100.0, work_dir=tmp_path / "deployer", emulate_eks=True) as driver:
        yield driver


def on_v7(deployer: SandboxDriver, tmp_path: Path) -> str:
    """The operator example as it was on wandb/wandb/aws 7.18.2 with EKS 1.32 (8.x's required input not yet set)."""
    document = yaml.safe_load(OPERATOR_EXAMPLE.read_text())
    document["deployer"]["module_version"] = "7.18.2"
    document["infra"]["eks_cluster_version"] = "1.32"
    del document["infra"]["kubernetes_legacy_cluster_creator_admin"]
    path = tmp_path / "v7.yaml"
    path.write_text(yaml.safe_dump(document))
    deployment = deployer.push(path)
    deployer.wait_until_idle()
    assert deployer.runs(deployment)[0].outcome == "succeeded"
    return deployment


def request_upgrade(deployer: SandboxDriver, **detail: object) -> None:
    bus = str(deployer.sandbox.physical("EventBus"))
    deployer.sandbox.put_event("wandb-deployer", "Upgrade Requested", {"requested_by": "e2e", **detail}, bus=bus)


def runbook(deployer: SandboxDriver, deployment: str) -> RunbookState:
    state = read_runbook(deployment=deployment, table=deployer.table, dynamodb=client("dynamodb"))
    assert state is not None
    return state


def parameter(deployment: str, key: str) -> str | None:
    found = client("ssm").get_parameters(Names=[f"{PREFIX}/{deployment}/{key}"])["Parameters"]
    return str(found[0]["Value"]) if found else None


def approve_step(deployer: SandboxDriver, deployment: str) -> str:
    pending = deployer.wait_for_approval(deployment, timeout=120).pending_approval
    assert pending is not None
    deployer.answer(deployment, pending.plan_sha256, approve=True)
    return pending.execution_arn


# The guide's wait before aws-auth is retired, in real seconds (the handlers' clocks are not compressed): over twice
# what the EKS step's run and the retire step's plan take here (about 20 s), so the retire step's gate opens before it
# may be approved (the sandbox's default, 3 s, would have passed); the gate's own timeout (compressed 100x: 36 s by
# default) is raised above it.
AWS_AUTH_WAIT = 45


@pytest.fixture
def waiting_deployer(tmp_path: Path) -> Iterator[SandboxDriver]:
    parameters = {"RunbookAwsAuthWaitSeconds": str(AWS_AUTH_WAIT), "ApprovalTimeoutSeconds": "36000"}
    with running_deployer(
        REPO, time_scale=100.0, work_dir=tmp_path / "deployer", emulate_eks=True, parameters=parameters
    ) as driver:
        yield driver


def test_v7_to_v8_runs_as_the_guides_sequence_of_approved_runs(waiting_deployer: SandboxDriver, tmp_path: Path) -> None:
    deployer = waiting_deployer
    inbox = NotificationInbox.subscribe(deployer.sandbox)
    deployment = on_v7(deployer, tmp_path)

    request_upgrade(deployer, deployment=deployment, module_version="8.0.0", eks_cluster_version="1.33")

    # Step 1: the module, EKS unchanged, with the transition-only variables; it waits for a human (policy
    # `destructive`, no destructive change on data: only the runbook makes it wait).
    module_run = approve_step(deployer, deployment)
    state = runbook(deployer, deployment)
    assert (state.runbook.transition, state.current, state.steps[0].plan_sha256 is not None) == ("v7-to-v8", 0, True)
    assert state.state_version is not None and state.state_version.version_id  # recorded before the first apply
    assert parameter(deployment, "infra/preserve_aws_auth_configmap") == "true"
    assert parameter(deployment, "infra/eks_cluster_version") == "1.32"

    # Step 2: EKS one minor, started by the end of step 1; step 3: preserve_aws_auth_configmap back to its default.
    eks_run = approve_step(deployer, deployment)
    assert parameter(deployment, "infra/eks_cluster_version") == "1.33"
    # Step 3 may be approved one kubelet credential rotation (RunbookAwsAuthWaitSeconds) after step 1's run ended,
    # the EKS step in between included (the guide's step 11): approved right away, it is refused and stays pending ...
    retire = deployer.wait_for_approval(deployment, timeout=120).pending_approval
    assert retire is not None and retire.approvable_from is not None
    module_ended = parse_iso(str(runbook(deployer, deployment).steps[1].written_at))
    wait = timedelta(seconds=AWS_AUTH_WAIT)
    assert module_ended + wait <= parse_iso(retire.approvable_from) < module_ended + wait + timedelta(seconds=1)
    with pytest.raises(ApprovalTooEarlyError, match=r"may be approved from .* kubelet credential rotation"):
        deployer.answer(deployment, retire.plan_sha256, approve=True)
    still = deployer.status(deployment).pending_approval
    assert still is not None and (still.execution_arn, still.plan_sha256) == (retire.execution_arn, retire.plan_sha256)
    # ... and accepted once that time has passed.
    time.sleep(max(0.0, (parse_iso(retire.approvable_from) - datetime.now(UTC)).total_seconds()))
    deployer.answer(deployment, retire.plan_sha256, approve=True)
    retire_run = retire.execution_arn
    deployer.wait_until_idle()

    state = runbook(deployer, deployment)
    assert state.status == "completed"
    assert [(s.name, s.status, s.execution_arn) for s in state.steps] == [
        ("module", "succeeded", module_run),
        ("eks-1.33", "succeeded", eks_run),
        ("retire-aws-auth", "succeeded", retire_run),
    ]
    assert parameter(deployment, "infra/preserve_aws_auth_configmap") is None
    assert (parameter(deployment, "deployer/module_version"), parameter(deployment, "infra/eks_cluster_version")) == (
        "8.0.0",
        "1.33",
    )
    # every step is a run in the history, and the notifications name the step
    by_arn = {run.execution_arn: run for run in deployer.runs(deployment)}
    assert all(by_arn[arn].outcome == "succeeded" for arn in (module_run, eks_run, retire_run))
    succeeded = inbox.wait_for("Run Succeeded", count=4)
    steps = [n["detail"]["runbook"]["step"] for n in succeeded if "runbook" in n["detail"]]
    assert steps == ["step 1/3 module", "step 2/3 eks-1.33", "step 3/3 retire-aws-auth"]
    approvals = inbox.wait_for("Approval Needed", count=3)
    assert [n["detail"]["runbook_step"].split(":")[0] for n in approvals] == [
        "v7-to-v8 step 1/3 module",
        "v7-to-v8 step 2/3 eks-1.33",
        "v7-to-v8 step 3/3 retire-aws-auth",
    ]
    assert [n["detail"].get("approval_wait", "")[:41] for n in approvals] == [
        "",
        "",
        f"may be approved from {retire.approvable_from[:19]}Z",
    ]


def test_a_plan_that_replaces_the_cluster_stops_the_runbook_and_applies_nothing(
    deployer: SandboxDriver, tmp_path: Path
) -> None:
    deployment = on_v7(deployer, tmp_path)
    deployer.sandbox.faults.arm(REPLACE_CLUSTER_FAULT)  # the emulation plans as if the name overrides were missing

    request_upgrade(deployer, deployment=deployment, module_version="8.0.0")
    deployer.wait_for_new_execution()
    deployer.wait_until_idle()

    run = deployer.runs(deployment)[0]
    assert (run.outcome, run.error) == ("failed", "RunbookRuleViolationError")
    assert run.reason is not None and run.reason.startswith("runbook v7-to-v8, step 1/2 module: plan ")
    assert "`aws_eks_cluster.this[0]` must NOT be `must be replaced`" in run.reason  # the guide's words
    state = runbook(deployer, deployment)
    assert state.status == "stopped" and state.steps[0].status == "stopped"
    (cluster,) = [v for v in state.steps[0].violations if "aws_eks_cluster.this[0] would be replaced (must-not-" in v]
    assert "missed name override in step 2" in cluster  # the whole diagnosis is in the runbook's record
    assert state.state_version is None  # nothing was applied
    assert deployer.status(deployment).pending_approval is None


def test_legacy_to_operator_migration_runs_with_the_guides_transition_variables(deployer: SandboxDriver) -> None:
    deployment = deployer.push(LEGACY_EXAMPLE)
    deployer.wait_until_idle()
    assert deployer.runs(deployment)[0].outcome == "succeeded"

    # Unstaged, the request is rejected (the deployer's functions may not read the license), nothing written ...
    inbox = NotificationInbox.subscribe(deployer.sandbox)
    request_upgrade(deployer, deployment=deployment, module_version="4.7.2")
    (rejected,) = inbox.wait_for("Upgrade Rejected", count=1)
    assert any(
        reason.startswith("infra/license: the migration moves the license") for reason in rejected["detail"]["reasons"]
    )
    assert parameter(deployment, "deployer/generation") == "legacy"
    # ... staged as `wbd upgrade` does it (the operator's credentials), it runs.
    ssm = client("ssm")
    value = ssm.get_parameter(Name=f"{PREFIX}/{deployment}/app/license", WithDecryption=True)["Parameter"]["Value"]
    ssm.put_parameter(Name=f"{PREFIX}/{deployment}/infra/license", Value=value, Type="SecureString")
    deployer.wait_until_idle()
    request_upgrade(deployer, deployment=deployment, module_version="4.7.2")
    migration_run = approve_step(deployer, deployment)  # a runbook step (and a migration) always waits for a human
    deployer.wait_until_idle()

    state = runbook(deployer, deployment)
    assert (state.runbook.transition, state.status) == ("legacy-to-operator", "completed")
    assert [(s.name, s.status, s.execution_arn) for s in state.steps] == [("migrate", "succeeded", migration_run)]
    assert state.state_version is not None and state.state_version.version_id
    assert {key: parameter(deployment, key) for key in (
        "deployer/generation", "deployer/module_version", "infra/enable_dummy_dns", "infra/enable_operator_alb",
        "infra/size", "app/wandb_version", "app/license", "deployer/app_module_version",
    )} == {
        "deployer/generation": "operator",
        "deployer/module_version": "4.7.2",
        "infra/enable_dummy_dns": "true",
        "infra/enable_operator_alb": "true",
        "infra/size": "small",
        "app/wandb_version": None,
        "app/license": None,
        "deployer/app_module_version": None,
    }  # fmt: skip
    license_parameter = client("ssm").get_parameters(Names=[f"{PREFIX}/{deployment}/infra/license"])["Parameters"]
    assert (license_parameter[0]["Type"], license_parameter[0]["Version"]) == ("SecureString", 1)  # never rewritten
    run = {r.execution_arn: r for r in deployer.runs(deployment)}[migration_run]
    assert run.outcome == "succeeded"


def test_an_aborted_runbook_is_restored_to_its_recorded_state_and_runs_through_the_gate(
    deployer: SandboxDriver, tmp_path: Path
) -> None:
    deployment = on_v7(deployer, tmp_path)
    good = deployer.runs(deployment)[0]
    request_upgrade(deployer, deployment=deployment, module_version="8.0.0")

    # Step 1 (the module) is approved and applied; step 2's run waits for its approval when the runbook is aborted,
    # and that run is rejected: nothing holds the deployment.
    module_run = approve_step(deployer, deployment)
    pending = deployer.wait_for_approval(deployment, timeout=120).pending_approval
    assert pending is not None and pending.execution_arn != module_run
    aborted = CliRunner().invoke(app, ["runbook", deployment, "--abort", "--reason", "e2e"])
    assert aborted.exit_code == 0, aborted.output
    deployer.answer(deployment, pending.plan_sha256, approve=False, reason="aborted runbook")
    deployer.wait_until_idle()
    state = runbook(deployer, deployment)
    assert state.status == "aborted" and state.state_version is not None
    recorded = state.state_version
    assert recorded.version_id is not None
    s3 = client("s3")
    assert recorded.bucket == str(deployer.sandbox.physical("StateBucket"))
    recorded_body = s3.get_object(Bucket=recorded.bucket, Key=recorded.key, VersionId=recorded.version_id)["Body"]
    recorded_bytes = recorded_body.read()
    assert s3.get_object(Bucket=recorded.bucket, Key=recorded.key)["Body"].read() != recorded_bytes  # step 1 applied
    assert parameter(deployment, "deployer/module_version") == "8.0.0"
    executions = len(deployer.executions())

    # The operator restores it (wbd, the sandbox's admin credentials): the state and the config of the good run are
    # back, the deployment is paused and no run starts.
    restored = CliRunner().invoke(app, ["runbook", deployment, "--restore", "--yes"])
    assert restored.exit_code == 0, restored.output
    assert f"wbd resume {deployment}" in restored.stdout
    current = s3.get_object(Bucket=recorded.bucket, Key=recorded.key)
    assert current["Body"].read() == recorded_bytes
    assert (current["ServerSideEncryption"], current["VersionId"] != recorded.version_id) == ("aws:kms", True)
    state = runbook(deployer, deployment)
    assert state.status == "restored" and state.restore is not None
    assert (state.restore.restored_version_id, state.restore.new_version_id) == (
        recorded.version_id,
        current["VersionId"],
    )
    assert state.restore.target_run == good.execution_name
    assert parameter(deployment, "deployer/module_version") == "7.18.2"
    assert parameter(deployment, "infra/preserve_aws_auth_configmap") is None
    assert parameter(deployment, "infra/kubernetes_legacy_cluster_creator_admin") is None
    assert parameter(deployment, "deployer/paused") == "true"
    deployer.wait_until_idle()
    assert len(deployer.executions()) == executions  # paused: the restore's writes started nothing

    # Resumed, the run validates, plans against the restored state and passes the approval gate as the policy says.
    resumed = CliRunner().invoke(app, ["resume", deployment])
    assert resumed.exit_code == 0, resumed.output
    deployer.wait_for_new_execution()
    deployer.wait_until_idle()
    last = deployer.runs(deployment)[0]
    # The guide's check after pushing the saved state back: "the plan should be empty" (the 8.0.0 state would not
    # be, against this config); policy `destructive` lets an empty plan through without a human.
    assert (last.outcome, last.details.get("changes")) == ("no-changes", []), last
    assert last.fingerprint == good.fingerprint  # exactly the good run's config
    applied = deployer.status(deployment).applied
    # what the restored state holds: the good run's config (marked applied by --restore, then by this run, which
    # found the state already matching it)
    assert applied is not None and applied.fingerprint == good.fingerprint
    assert parameter(deployment, "deployer/module_version") == "7.18.2"

    # Every step and the restore are in the history and the runbook's record.
    by_arn = {run.execution_arn: run for run in deployer.runs(deployment)}
    assert by_arn[module_run].outcome == "succeeded"
    assert by_arn[pending.execution_arn].outcome == "rejected"
    state = runbook(deployer, deployment)
    assert [(s.name, s.status) for s in state.steps] == [("module", "succeeded"), ("retire-aws-auth", "running")]
    assert state.steps[0].execution_arn == module_run
