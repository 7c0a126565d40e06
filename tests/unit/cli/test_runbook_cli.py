"""`wbd upgrade --plan` prints a major's runbook and changes nothing; `wbd status` shows a running runbook's position
and next step; `wbd runbook` shows it whole, aborts it and prints the rollback to the recorded state version."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.unit.cli.conftest import PREFIX, TABLE, Deployer, push_example
from tests.unit.runs.secrets import FAKE_LICENSE
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.upgrade.guards import UpgradeRequest
from wandb_deployer.upgrade.runbook_execution import start_runbook
from wandb_deployer.upgrade.runbook_record import StateVersion, read_runbook, save_runbook
from wandb_deployer.upgrade.runbooks import runbook_for
from wbd.cli.main import app

pytestmark = pytest.mark.unit

LEGACY = REPO / "examples" / "legacy.yaml"


@pytest.fixture
def on_v7(deployer: Deployer) -> Deployer:
    """The demo deployment as it was on wandb/wandb/aws 7.18.2 (EKS 1.33)."""
    ssm = deployer.ssm
    ssm.put_parameter(Name=f"{PREFIX}/demo/deployer/module_version", Value="7.18.2", Type="String", Overwrite=True)
    ssm.delete_parameter(Name=f"{PREFIX}/demo/infra/kubernetes_legacy_cluster_creator_admin")
    return deployer


def parameters(deployer: Deployer, deployment: str = "demo") -> dict[str, str]:
    pages = deployer.ssm.get_paginator("get_parameters_by_path").paginate(Path=f"{PREFIX}/{deployment}", Recursive=True)
    return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}


def test_upgrade_plan_prints_the_runbook_and_changes_nothing(runner: CliRunner, on_v7: Deployer) -> None:
    before = parameters(on_v7)
    result = runner.invoke(
        app, ["upgrade", "demo", "--module-version", "8.0.0", "--eks-cluster-version", "1.34", "--plan"]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "runbook v7-to-v8 for demo: 7.18.2 -> 8.0.0" in text
    for line in (
        "1. module: module 7.18.2 -> 8.0.0",
        "infra/preserve_aws_auth_configmap = true",
        "infra/kubernetes_legacy_cluster_creator_admin = true",
        "pre-flight ec2-vcpu-quota",
        "plan rule must-not-replace: module.app_eks.module.eks.aws_eks_cluster.this[0]",
        "2. eks-1.34: EKS 1.33 -> 1.34",
        "3. retire-aws-auth",
        "infra/preserve_aws_auth_configmap: deleted (module default)",
        "plan rule expected-replacements: none",
    ):
        assert line in text, line
    assert parameters(on_v7) == before
    assert read_runbook(deployment="demo", table=TABLE, dynamodb=on_v7.dynamodb) is None


def test_upgrade_plan_of_a_refused_request_says_why(runner: CliRunner, on_v7: Deployer) -> None:
    result = runner.invoke(
        app, ["upgrade", "demo", "--module-version", "8.0.0", "--eks-cluster-version", "1.35", "--plan"]
    )
    assert result.exit_code == 1
    assert "Would be rejected (demo):" in result.stdout and "one minor version at a time" in result.stdout


def test_upgrade_plan_without_a_transition_is_one_run(runner: CliRunner, on_v7: Deployer) -> None:
    result = runner.invoke(
        app, ["upgrade", "demo", "--module-version", "7.18.2", "--eks-cluster-version", "1.34", "--plan"]
    )
    assert result.exit_code == 0, result.output
    assert "No runbook: one run applies these writes:" in result.stdout
    assert "infra/eks_cluster_version: 1.33 -> 1.34" in result.stdout


def started(deployer: Deployer) -> None:
    config = load_deployment_config("demo", prefix=PREFIX, ssm=deployer.ssm, with_secrets=False)
    runbook = runbook_for(UpgradeRequest(deployment="demo", module_version="8.0.0"), config)
    assert runbook is not None
    start_runbook(
        runbook,
        requested_by="alice",
        request_id=None,
        prefix=PREFIX,
        ssm=deployer.ssm,
        table=TABLE,
        dynamodb=deployer.dynamodb,
    )


def test_status_shows_the_runbooks_position_and_next_step(runner: CliRunner, on_v7: Deployer) -> None:
    started(on_v7)
    result = runner.invoke(app, ["status", "demo"])
    assert result.exit_code == 0, result.output
    assert "v7-to-v8 running, step 1/2 module: module 7.18.2 -> 8.0.0" in result.stdout
    assert "retire-aws-auth: preserve_aws_auth_configmap back to its default" in result.stdout
    report = json.loads(runner.invoke(app, ["status", "demo", "--json"]).stdout)
    assert report["runbook"]["status"] == "running" and report["runbook"]["current"] == 0


def test_abort_stops_the_runbook_and_names_the_restore_of_the_recorded_version(
    runner: CliRunner, on_v7: Deployer
) -> None:
    started(on_v7)
    state = read_runbook(deployment="demo", table=TABLE, dynamodb=on_v7.dynamodb)
    assert state is not None
    version = StateVersion(
        bucket="state",
        key="deployments/demo/terraform.tfstate",
        version_id="v1-abc",
        recorded_at="t",
        execution_arn="arn:x",
    )
    save_runbook(state.model_copy(update={"state_version": version}), table=TABLE, dynamodb=on_v7.dynamodb)

    result = runner.invoke(app, ["runbook", "demo", "--abort", "--reason", "capacity"])

    assert result.exit_code == 0, result.output
    aborted = read_runbook(deployment="demo", table=TABLE, dynamodb=on_v7.dynamodb)
    assert aborted is not None and aborted.status == "aborted" and aborted.reason == "step 1/2 module: capacity"
    text = " ".join(result.stdout.split())
    assert (
        "1. restore the state of t ('state/deployments/demo/terraform.tfstate?versionId=v1-abc') and the config of "
        "the last good run: wbd runbook demo --restore"
    ) in text
    again = runner.invoke(app, ["runbook", "demo", "--abort"])
    assert again.exit_code == 1 and "is aborted, not running" in again.stderr
    # an aborted runbook lets the next request through
    assert runner.invoke(app, ["runbook", "demo", "--json"]).exit_code == 0


def test_runbook_without_one_says_so(runner: CliRunner, on_v7: Deployer) -> None:
    result = runner.invoke(app, ["runbook", "demo"])
    assert result.exit_code == 1 and "demo has no runbook" in result.stderr


def test_upgrade_plan_prints_the_6_to_7_bucket_runbook(runner: CliRunner, deployer: Deployer) -> None:
    """README.md v7.0.0, "6.x -> 7.x": `create_bucket` is removed and a plan that destroys the bucket is refused."""
    ssm = deployer.ssm
    ssm.put_parameter(Name=f"{PREFIX}/demo/deployer/module_version", Value="6.1.0", Type="String", Overwrite=True)
    ssm.put_parameter(Name=f"{PREFIX}/demo/infra/create_bucket", Value="true", Type="String", Overwrite=True)
    ssm.delete_parameter(Name=f"{PREFIX}/demo/infra/kubernetes_legacy_cluster_creator_admin")
    before = parameters(deployer)
    result = runner.invoke(app, ["upgrade", "demo", "--module-version", "7.0.0", "--plan"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for line in (
        "runbook v6-to-v7 for demo: 6.1.0 -> 7.0.0 (README.md (wandb/terraform-aws-wandb v7.0.0), 6.x -> 7.x)",
        "1. module: module 6.1.0 -> 7.0.0: the file-storage bucket moves, kept",
        "infra/create_bucket: deleted (removed from the module)",
        "deployer/module_version = 7.0.0",
        "plan rule must-not-destroy: module.file_storage[0].*, module.file_storage.aws_s3_bucket.file_storage",
    ):
        assert line in text, line
    assert parameters(deployer) == before
    assert read_runbook(deployment="demo", table=TABLE, dynamodb=deployer.dynamodb) is None


def test_upgrade_plan_prints_the_4_to_5_node_count_runbook(runner: CliRunner, deployer: Deployer) -> None:
    """README.md v5.0.0, "Upgrading from 4.x -> 5.x": the node count becomes min/max nodes per AZ."""
    ssm = deployer.ssm
    ssm.put_parameter(Name=f"{PREFIX}/demo/deployer/module_version", Value="4.24.0", Type="String", Overwrite=True)
    for name in ("kubernetes_legacy_cluster_creator_admin", "size"):
        ssm.delete_parameter(Name=f"{PREFIX}/demo/infra/{name}")
    ssm.put_parameter(Name=f"{PREFIX}/demo/infra/kubernetes_node_count", Value="3", Type="String")
    before = parameters(deployer)
    result = runner.invoke(app, ["upgrade", "demo", "--module-version", "5.0.0", "--plan"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    for line in (
        "runbook v4-to-v5 for demo: 4.24.0 -> 5.0.0",
        "infra/kubernetes_min_nodes_per_az = 2",
        "infra/kubernetes_max_nodes_per_az = 2",
        "infra/kubernetes_node_count: deleted (removed from the module)",
        "3 node(s) over 2 private subnet(s): 2 per AZ",
    ):
        assert line in text, line
    assert parameters(deployer) == before


@pytest.fixture
def on_legacy(deployer: Deployer) -> Deployer:
    push_example(deployer.ssm, LEGACY)
    return deployer


def test_upgrade_plan_of_the_operator_migration_says_the_license_is_staged_first(
    runner: CliRunner, on_legacy: Deployer
) -> None:
    before = parameters(on_legacy, "legacy-demo")
    result = runner.invoke(app, ["upgrade", "legacy-demo", "--module-version", "4.7.2", "--plan"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())
    assert "runbook legacy-to-operator for legacy-demo" in text
    assert "infra/license <- app/license (SecureString staged by wbd upgrade; app/license deleted)" in text
    assert "wbd upgrade first stages app/license as infra/license (your credentials)" in text
    assert parameters(on_legacy, "legacy-demo") == before


def test_upgrade_to_the_operator_generation_stages_the_license_before_it_sends_the_request(
    runner: CliRunner, on_legacy: Deployer
) -> None:
    ssm = on_legacy.ssm
    result = runner.invoke(app, ["upgrade", "legacy-demo", "--module-version", "4.7.2", "--no-wait"])
    assert result.exit_code == 0, result.output
    assert "staged app/license as infra/license (SecureString) for the operator migration" in result.stdout
    assert FAKE_LICENSE not in result.output
    staged = ssm.get_parameter(Name=f"{PREFIX}/legacy-demo/infra/license", WithDecryption=True)["Parameter"]
    assert (staged["Type"], staged["Value"]) == ("SecureString", FAKE_LICENSE)
    assert ssm.get_parameter(Name=f"{PREFIX}/legacy-demo/app/license")["Parameter"]["Version"] == 1  # left to the step

    again = runner.invoke(app, ["upgrade", "legacy-demo", "--module-version", "4.7.2", "--no-wait"])
    assert again.exit_code == 0, again.output
    assert "staged" not in again.stdout  # already staged: not copied twice
    assert ssm.get_parameter(Name=f"{PREFIX}/legacy-demo/infra/license")["Parameter"]["Version"] == 1


def test_an_ordinary_upgrade_stages_nothing(runner: CliRunner, on_v7: Deployer) -> None:
    before = parameters(on_v7)
    result = runner.invoke(app, ["upgrade", "demo", "--eks-cluster-version", "1.34", "--no-wait"])
    assert result.exit_code == 0, result.output
    assert "staged" not in result.stdout and parameters(on_v7) == before
