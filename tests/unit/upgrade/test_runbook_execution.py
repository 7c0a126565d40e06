"""A runbook in the workflow: started by an upgrade request, each step's plan checked (a violation stops it with the
guide's diagnosis), the state's S3 version recorded before the first apply, the next step started by the end of the
previous step's run, a failed run stopping it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.plan.plans import resource_change
from tests.unit.runs.conftest import TABLE, create_deployments_table
from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.deploy.plan_step import summarise
from wandb_deployer.errors import (
    RunbookConflictError,
    RunbookRuleViolationError,
    RunbookStagingError,
    UpgradeRejectedError,
)
from wandb_deployer.settings import Settings
from wandb_deployer.states import PlanSummaryInput
from wandb_deployer.upgrade.guards import UpgradeRequest
from wandb_deployer.upgrade.request import process_upgrade_request
from wandb_deployer.upgrade.runbook_execution import finish_step, runs_current_step, start_runbook
from wandb_deployer.upgrade.runbook_record import read_runbook
from wandb_deployer.upgrade.runbooks import Runbook, runbook_for

pytestmark = pytest.mark.unit

REGION = "us-east-1"
PREFIX = "/wandb-deployer"
ARTIFACTS = "wbd-artifacts-test"
STATE = "wbd-state-test"
RUN_PREFIX = "runs/prod/exec-1/"
SHA = "ab" * 32
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:wandb-deployer-deploy:prod-1"
SETTINGS = Settings(artifacts_bucket=ARTIFACTS, state_bucket=STATE, deployments_table=TABLE, parameter_prefix=PREFIX)
EKS = "module.wandb_infra.module.app_eks.module.eks."
LICENSE = "eyJhbGciOiJSUzI1NiJ9.eyJsaWNlbnNlIjoidGVzdCJ9.c2lnbmF0dXJlLW5ldmVyLXByaW50ZWQ"


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        clients = {name: boto3.client(name, region_name=REGION) for name in ("s3", "dynamodb", "ssm", "sns", "events")}
        clients["s3"].create_bucket(Bucket=ARTIFACTS)
        clients["s3"].create_bucket(Bucket=STATE)
        clients["s3"].put_bucket_versioning(Bucket=STATE, VersioningConfiguration={"Status": "Enabled"})
        create_deployments_table(clients["dynamodb"])
        yield clients


def v7(eks: str = "1.32") -> DeploymentConfig:
    return DeploymentConfig(
        deployment="prod",
        deployer=DeployerSettings(generation="operator", module_version="7.18.2", terraform_version="1.10.5"),
        infra={"namespace": "wandb", "eks_cluster_version": eks},
    )


def v8_runbook(eks: str | None = "1.33") -> Runbook:
    request = UpgradeRequest(deployment="prod", module_version="8.0.0", eks_cluster_version=eks)
    found = runbook_for(request, v7())
    assert found is not None
    return found


def start(aws: dict[str, Any], runbook: Runbook, when: datetime | None = None) -> Any:
    return start_runbook(
        runbook,
        requested_by="alice",
        request_id=None,
        prefix=PREFIX,
        ssm=aws["ssm"],
        table=TABLE,
        dynamodb=aws["dynamodb"],
        now=when,
    )


def parameters(ssm: Any) -> dict[str, tuple[str, str]]:
    found = ssm.get_parameters_by_path(Path=f"{PREFIX}/prod", Recursive=True, WithDecryption=False)["Parameters"]
    return {p["Name"].removeprefix(f"{PREFIX}/prod/"): (p["Type"], p["Value"]) for p in found}


def store_plan(s3: Any, changes: list[dict[str, Any]]) -> None:
    result = {"action": "plan", "has_changes": bool(changes), "plan_sha256": SHA, "error": None}
    s3.put_object(Bucket=ARTIFACTS, Key=RUN_PREFIX + "plan-result.json", Body=json.dumps(result).encode())
    plan = {"format_version": "1.2", "resource_changes": changes}
    s3.put_object(Bucket=ARTIFACTS, Key=RUN_PREFIX + "plan.json", Body=json.dumps(plan).encode())


def plan_step(started_at: datetime | None, approval: Any = "never") -> Any:
    request = PlanSummaryInput(
        deployment="prod",
        run_prefix=RUN_PREFIX,
        approval=approval,
        generation="operator",
        execution_arn=EXECUTION,
        started_at=started_at,
    )
    return summarise(request, SETTINGS)


def later() -> datetime:
    return datetime.now(UTC) + timedelta(seconds=1)


def test_start_writes_the_first_step_only_and_a_second_runbook_is_refused(aws: dict[str, Any]) -> None:
    state = start(aws, v8_runbook())
    assert parameters(aws["ssm"]) == {
        "infra/kubernetes_legacy_cluster_creator_admin": ("String", "true"),
        "infra/preserve_aws_auth_configmap": ("String", "true"),
        "deployer/module_version": ("String", "8.0.0"),
    }  # EKS is not part of the first step
    assert state.status == "running" and state.current == 0 and state.steps[0].status == "running"
    assert read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"]) == state
    with pytest.raises(RunbookConflictError):
        start(aws, v8_runbook())


def test_a_plan_that_replaces_the_cluster_stops_the_runbook_with_the_guides_diagnosis(aws: dict[str, Any]) -> None:
    start(aws, v8_runbook())
    store_plan(aws["s3"], [resource_change(EKS + "aws_eks_cluster.this[0]", "aws_eks_cluster", ["delete", "create"])])

    with pytest.raises(RunbookRuleViolationError) as raised:
        plan_step(later())

    assert "missed name override in step 2" in str(raised.value)
    state = read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"])
    assert state is not None and state.status == "stopped"
    assert state.steps[0].status == "stopped" and state.steps[0].execution_arn == EXECUTION
    assert state.steps[0].violations[0].startswith(EKS + "aws_eks_cluster.this[0] would be replaced (must-not-replace)")
    assert state.reason is not None and state.reason.startswith("step 1/3 module: the plan breaks 2 rule(s)")
    assert state.state_version is None  # nothing will be applied


def test_a_good_plan_waits_for_a_human_names_the_step_and_records_the_state_version(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket=STATE, Key="deployments/prod/terraform.tfstate", Body=b"{}")
    version = aws["s3"].head_object(Bucket=STATE, Key="deployments/prod/terraform.tfstate")["VersionId"]
    start(aws, v8_runbook())
    store_plan(aws["s3"], [resource_change(EKS + "aws_eks_cluster.this[0]", "aws_eks_cluster", ["update"])])

    summary = plan_step(later(), approval="never")

    assert summary.requires_approval is True  # whatever the policy
    assert summary.runbook_step == (
        "v7-to-v8 step 1/3 module: module 7.18.2 -> 8.0.0 (EKS module v17 -> v20), EKS unchanged"
    )
    state = read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"])
    assert state is not None and state.status == "running"
    assert state.steps[0].plan_sha256 == SHA
    assert state.state_version is not None
    assert (state.state_version.bucket, state.state_version.key) == (STATE, "deployments/prod/terraform.tfstate")
    assert state.state_version.version_id == version


def test_a_run_that_started_before_the_step_was_written_is_not_the_steps_run(aws: dict[str, Any]) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    state = start(aws, v8_runbook())
    assert not runs_current_step(state, before) and runs_current_step(state, later())
    store_plan(aws["s3"], [resource_change(EKS + "aws_eks_cluster.this[0]", "aws_eks_cluster", ["delete", "create"])])

    summary = plan_step(before, approval="never")  # an older run: the policy decides, no runbook rule applies

    assert summary.runbook_step is None and summary.requires_approval is False
    assert runs_current_step(read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"]), later())


def finish(aws: dict[str, Any], state: Any, outcome: str = "succeeded") -> Any:
    return finish_step(
        state,
        outcome=outcome,
        execution_arn=EXECUTION,
        reason=None,
        prefix=PREFIX,
        ssm=aws["ssm"],
        table=TABLE,
        dynamodb=aws["dynamodb"],
    )


def test_each_successful_step_writes_the_next_and_the_last_completes(aws: dict[str, Any]) -> None:
    state = start(aws, v8_runbook())

    state = finish(aws, state)  # the module step's run succeeded
    assert (state.current, state.status, state.steps[0].status) == (1, "running", "succeeded")
    assert parameters(aws["ssm"])["infra/eks_cluster_version"] == ("String", "1.33")

    state = finish(aws, state, "no-changes")
    assert state.current == 2
    assert "infra/preserve_aws_auth_configmap" not in parameters(aws["ssm"])  # back to the module's default

    state = finish(aws, state)
    assert state.status == "completed" and [s.status for s in state.steps] == ["succeeded"] * 3
    assert read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"]) == state


@pytest.mark.parametrize("outcome", ["failed", "rejected", "timed-out"])
def test_a_step_whose_run_did_not_succeed_stops_the_runbook(aws: dict[str, Any], outcome: str) -> None:
    state = finish(aws, start(aws, v8_runbook()), outcome)
    assert state.status == "stopped" and state.current == 0
    assert state.steps[0].outcome == outcome and state.steps[1].status == "pending"
    assert "infra/eks_cluster_version" not in parameters(aws["ssm"])


def test_a_stale_writer_cannot_overwrite_a_newer_runbook_record(aws: dict[str, Any]) -> None:
    state = start(aws, v8_runbook())
    finish(aws, state)
    with pytest.raises(RunbookConflictError):
        finish(aws, state)  # the revision read is gone


def legacy_config(deployment: str) -> DeploymentConfig:
    return DeploymentConfig(
        deployment=deployment,
        deployer=DeployerSettings(generation="legacy", module_version="2.8.0", app_module_version="1.14.1"),
        infra={"namespace": "wandb", "eks_cluster_version": "1.29"},
        app={"wandb_version": "0.51.2"},
    )


def request(aws: dict[str, Any], detail: dict[str, Any], load: Any) -> Any:
    topic = aws["sns"].create_topic(Name="wbd-notifications")["TopicArn"]
    return process_upgrade_request(
        detail,
        load_config=load,
        prefix=PREFIX,
        ssm=aws["ssm"],
        sns=aws["sns"],
        events=aws["events"],
        topic_arn=topic,
        bus_name="default",
        table=TABLE,
        dynamodb=aws["dynamodb"],
    )


def _legacy_in_ssm(ssm: Any) -> None:
    ssm.put_parameter(Name=f"{PREFIX}/prod/app/license", Value=LICENSE, Type="SecureString")
    for name, value in {
        "app/wandb_version": "0.51.2",
        "deployer/generation": "legacy",
        "deployer/module_version": "2.8.0",
        "deployer/app_module_version": "1.14.1",
        "infra/namespace": "wandb",
        "infra/eks_cluster_version": "1.29",
    }.items():
        ssm.put_parameter(Name=f"{PREFIX}/prod/{name}", Value=value, Type="String")


def _from_ssm(aws: dict[str, Any]) -> Any:
    """The config as the loader gives it (`legacy_config`), with the secrets' versions as SSM holds them."""

    def load(deployment: str) -> DeploymentConfig:
        held = aws["ssm"].get_parameters_by_path(Path=f"{PREFIX}/{deployment}/", Recursive=True)["Parameters"]
        versions = {
            p["Name"].removeprefix(f"{PREFIX}/{deployment}/"): p["Version"] for p in held if p["Type"] == "SecureString"
        }
        return legacy_config(deployment).model_copy(update={"secret_versions": versions})

    return load


def test_a_legacy_to_operator_request_without_the_staged_license_is_rejected_and_writes_nothing(
    aws: dict[str, Any],
) -> None:
    _legacy_in_ssm(aws["ssm"])
    before = parameters(aws["ssm"])

    with pytest.raises(UpgradeRejectedError) as raised:
        request(aws, {"deployment": "prod", "module_version": "4.7.2", "requested_by": "bob"}, _from_ssm(aws))

    assert raised.value.reasons == [
        "infra/license: the migration moves the license to the aws module and the deployer never reads it: stage "
        "it first (`wbd upgrade prod --module-version 4.7.2` copies app/license to infra/license with your "
        "credentials), or copy it yourself as a SecureString"
    ]
    assert parameters(aws["ssm"]) == before
    assert read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"]) is None


def test_a_legacy_to_operator_request_with_the_staged_license_drops_the_app_module(aws: dict[str, Any]) -> None:
    ssm = aws["ssm"]
    _legacy_in_ssm(ssm)
    ssm.put_parameter(Name=f"{PREFIX}/prod/infra/license", Value=LICENSE, Type="SecureString")  # as wbd stages it

    plan = request(aws, {"deployment": "prod", "module_version": "4.7.2", "requested_by": "bob"}, _from_ssm(aws))

    found = parameters(ssm)
    assert found["infra/license"][0] == "SecureString"
    assert ssm.get_parameter(Name=f"{PREFIX}/prod/infra/license")["Parameter"]["Version"] == 1  # never rewritten
    assert "app/license" not in found and "app/wandb_version" not in found
    assert "deployer/app_module_version" not in found
    assert found["deployer/generation"] == ("String", "operator")
    assert {found[f"infra/{n}"] for n in ("enable_dummy_dns", "enable_operator_alb")} == {("String", "true")}
    assert LICENSE not in plan.model_dump_json()
    assert any(note.startswith("runbook legacy-to-operator") for note in plan.notes)


def test_a_license_unstaged_after_the_request_was_accepted_stops_the_runbook_before_any_write(
    aws: dict[str, Any],
) -> None:
    _legacy_in_ssm(aws["ssm"])
    runbook = runbook_for(
        UpgradeRequest(deployment="prod", module_version="4.7.2"),
        legacy_config("prod").model_copy(
            update={"secret_versions": {"app/license": 1, "infra/license": 1}}  # staged when the request was read
        ),
    )
    assert runbook is not None
    before = parameters(aws["ssm"])

    with pytest.raises(RunbookStagingError, match="infra/license is not staged"):
        start(aws, runbook)

    assert parameters(aws["ssm"]) == before
    state = read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"])
    assert state is not None and (state.status, state.record.outcome) == ("stopped", "rejected")


def test_any_upgrade_is_refused_while_a_runbook_runs(aws: dict[str, Any]) -> None:
    start(aws, v8_runbook())

    def load(deployment: str) -> DeploymentConfig:
        return v7()

    with pytest.raises(UpgradeRejectedError) as raised:
        request(aws, {"deployment": "prod", "eks_cluster_version": "1.33"}, load)
    assert raised.value.reasons == [
        "runbook v7-to-v8 is running (step 1/3 module): wait for it to finish, or abort it (wbd runbook prod --abort)"
    ]


# --- the smaller majors (README.md v5.0.0 "Upgrading from 4.x -> 5.x", v7.0.0 "6.x -> 7.x") -----------------------


def test_a_4_to_5_runbook_writes_the_per_az_counts_and_deletes_the_inputs_5_0_0_lacks(aws: dict[str, Any]) -> None:
    ssm = aws["ssm"]
    for name, value in (("kubernetes_node_count", "4"), ("enable_dummy_dns", "true"), ("namespace", "wandb")):
        ssm.put_parameter(Name=f"{PREFIX}/prod/infra/{name}", Value=value, Type="String")
    current = DeploymentConfig(
        deployment="prod",
        deployer=DeployerSettings(generation="operator", module_version="4.24.0", terraform_version="1.10.5"),
        infra={"namespace": "wandb", "kubernetes_node_count": 4, "enable_dummy_dns": True},
    )
    runbook = runbook_for(UpgradeRequest(deployment="prod", module_version="5.0.0"), current)
    assert runbook is not None

    state = start(aws, runbook)

    assert parameters(ssm) == {
        "infra/namespace": ("String", "wandb"),
        "infra/kubernetes_instance_types": ("String", '["m5.large"]'),
        "infra/elasticache_node_type": ("String", "cache.t2.medium"),
        "infra/database_instance_class": ("String", "db.r5.large"),
        "infra/kubernetes_min_nodes_per_az": ("String", "2"),
        "infra/kubernetes_max_nodes_per_az": ("String", "2"),
        "deployer/module_version": ("String", "5.0.0"),
    }
    assert state.status == "running" and len(state.steps) == 1


def test_a_6_to_7_plan_that_destroys_the_bucket_stops_the_runbook(aws: dict[str, Any]) -> None:
    current = DeploymentConfig(
        deployment="prod",
        deployer=DeployerSettings(generation="operator", module_version="6.1.0", terraform_version="1.10.5"),
        infra={"namespace": "wandb"},
    )
    runbook = runbook_for(UpgradeRequest(deployment="prod", module_version="7.0.0"), current)
    assert runbook is not None
    start(aws, runbook)
    bucket = "module.wandb_infra.module.file_storage[0].aws_s3_bucket.file_storage"
    store_plan(aws["s3"], [resource_change(bucket, "aws_s3_bucket", ["delete"])])

    with pytest.raises(RunbookRuleViolationError) as raised:
        plan_step(later())

    assert "may result in terraform deleting your bucket" in str(raised.value)
    state = read_runbook(deployment="prod", table=TABLE, dynamodb=aws["dynamodb"])
    assert state is not None and state.status == "stopped"
    assert state.steps[0].violations[0].startswith(bucket + " would be destroyed (must-not-destroy)")
