"""The sandbox engine on its fixture stack (tests/e2e/fixtures): template, Lambda routing, CodeBuild, events, time."""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from wbd.sandbox import Sandbox, SandboxAlreadyRunningError, TemplateError
from wbd.sandbox.identities import acting_as
from wbd.sandbox.serve import serve, shell_exports
from wbd.sandbox.template import Intrinsics, load_template, parse_template_text

from .conftest import FIXTURES, SandboxFactory

pytestmark = pytest.mark.e2e

SECRET = "s3cr3t-license-value-0123456789"


def _start(sandbox: Sandbox, logical_id: str, payload: Mapping[str, object]) -> str:
    sfn = boto3.client("stepfunctions")
    return str(
        sfn.start_execution(stateMachineArn=sandbox.state_machine_arn(logical_id), input=json.dumps(payload))[
            "executionArn"
        ]
    )


def _upload_build_source(sandbox: Sandbox, key: str) -> str:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in (FIXTURES / "build_source").iterdir():
            zipped.write(path, path.name)
    bucket = sandbox.physical("ArtifactsBucket")
    boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=archive.getvalue())
    return f"{bucket}/{key}"


def _failed_task_errors(history: list[dict[str, object]]) -> list[str]:
    return [str(event["taskFailedEventDetails"]["error"]) for event in history if event["type"] == "TaskFailed"]  # type: ignore[index]


# -- template engine -----------------------------------------------------------------------------------------------


def test_template_resolves_intrinsics_conditions_and_globals() -> None:
    template = load_template(FIXTURES / "template.yaml", {"Environment": "prod"})
    intrinsics = Intrinsics(
        template, {"AWS::Region": "eu-west-1", "AWS::StackName": "s"}, lambda logical, attr: f"{logical}.{attr}"
    )

    assert intrinsics.condition("IsProd") and not intrinsics.condition("IsDev")
    flaky = template.resources["FlakyFunction"]["Properties"]
    assert flaky["Runtime"] == "python3.12" and flaky["Timeout"] == 30
    variables = intrinsics.resolve(flaky["Environment"])["Variables"]
    assert variables == {
        "ARTIFACTS_BUCKET": "ArtifactsBucket.None",
        "DEPLOYMENTS_TABLE": "Table.None",
        "PARAMETER_PREFIX": "/wandb-deployer",
        "STAGE": "production",
        "FLAKY_MODE": "strict",
    }
    assert (
        intrinsics.resolve({"Fn::Sub": "${AWS::Region}/${ArtifactsBucket.Arn}/${!Literal}"})
        == "eu-west-1/ArtifactsBucket.Arn/${Literal}"
    )
    assert intrinsics.resolve({"Fn::Sub": ["${A}-${AWS::StackName}", {"A": {"Ref": "Environment"}}]}) == "prod-s"
    assert intrinsics.resolve(template.resources["VersionParameter"]["Properties"]["Value"]) == "1.2.3-prod"
    assert intrinsics.resolve([{"Fn::If": ["IsDev", "x", {"Ref": "AWS::NoValue"}]}, "kept"]) == ["kept"]
    order = template.creation_order()
    assert (
        order.index("ArtifactsKey")
        < order.index("ArtifactsBucket")
        < order.index("FlakyFunction")
        < order.index("FlakyStateMachine")
    )


def test_template_rejects_cycles_and_unknown_parameters(tmp_path: Path) -> None:
    text = (
        "Resources:\n"
        "  A: {Type: AWS::SNS::Topic, Properties: {TopicName: !GetAtt B.TopicName}}\n"
        "  B: {Type: AWS::SNS::Topic, Properties: {TopicName: !Ref A}}\n"
    )
    (tmp_path / "template.yaml").write_text(text)
    with pytest.raises(TemplateError, match="cycle"):
        load_template(tmp_path / "template.yaml").creation_order()
    with pytest.raises(TemplateError, match="unknown template parameter"):
        load_template(FIXTURES / "template.yaml", {"Nope": "1"})
    assert parse_template_text("Resources: {X: {Type: T, Properties: {A: !Sub 'a', B: !GetAtt X.Y}}}")["Resources"][
        "X"
    ]["Properties"] == {
        "A": {"Fn::Sub": "a"},
        "B": {"Fn::GetAtt": ["X", "Y"]},
    }


# -- stack, lambda routing -----------------------------------------------------------------------------------------


def test_stack_is_provisioned_from_the_template(sandbox: Sandbox) -> None:
    assert "ProdOnlyTopic" not in sandbox.resources  # condition false in dev
    # Lambda permissions are resource-based policies, which moto does not evaluate (the SAM transform makes one more)
    assert sandbox.skipped == {
        "LambdaLogsPermission": "AWS::Lambda::Permission",
        "RecorderFunctionRecordedPermission": "AWS::Lambda::Permission",
    }
    bucket = sandbox.physical("ArtifactsBucket")
    assert boto3.client("s3").get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert boto3.client("ssm").get_parameter(Name="/fixture/version")["Parameter"]["Value"] == "1.2.3-dev"
    assert sandbox.function_environment("FlakyFunction")["ARTIFACTS_BUCKET"] == bucket
    assert os.environ["AWS_ENDPOINT_URL"] == sandbox.endpoint_url


def test_every_call_is_authorized_against_the_callers_role(sandbox: Sandbox) -> None:
    # Given the roles the SAM transform made: the recorder may write the table, the flaky function nothing at all
    table = sandbox.physical("Table")
    identities = sandbox.identities
    assert identities is not None
    recorder = identities.role_session(str(sandbox.attribute("RecorderFunctionRole", "Arn")))
    flaky = identities.role_session(str(sandbox.attribute("FlakyFunctionRole", "Arn")))
    item = {"pk": {"S": "authorized"}}

    # When each writes to the table with its own session
    with acting_as(recorder):
        boto3.client("dynamodb").put_item(TableName=table, Item=item)
    with acting_as(flaky), pytest.raises(ClientError) as denied:
        boto3.client("dynamodb").put_item(TableName=table, Item=item)

    # Then IAM allowed the one its policy grants on that table, and denied the other; the ledger has both.
    assert "AccessDenied" in str(denied.value)  # (moto answers a JSON service's denial in XML: code "403")
    decisions = {
        (d.principal.split("/")[1], d.allowed) for d in sandbox.ledger.snapshot() if d.action == "dynamodb:PutItem"
    }
    assert {(recorder.arn.split("/")[1], True), (flaky.arn.split("/")[1], False)} <= decisions


def test_handler_error_is_retried_then_caught_by_name(sandbox: Sandbox) -> None:
    execution = sandbox.wait_for_execution(_start(sandbox, "FlakyStateMachine", {"mode": "fail"}), timeout=30)

    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["outcome"] == "caught" and output["error"]["Error"] == "FlakyError"
    assert json.loads(output["error"]["Cause"])["errorMessage"] == "flaky failure requested"
    assert _failed_task_errors(sandbox.history(execution["executionArn"])) == ["FlakyError"] * 3  # 1 try + 2 retries


def test_handler_gets_its_template_environment_and_context(sandbox: Sandbox) -> None:
    execution = sandbox.wait_for_execution(_start(sandbox, "FlakyStateMachine", {"mode": "ok"}), timeout=30)

    result = json.loads(execution["output"])["invoke"]["result"]
    assert result["bucket"] == sandbox.physical("ArtifactsBucket")
    assert result["stage"] == "development" and result["flaky_mode"] == "strict"
    assert result["function_name"] == sandbox.physical("FlakyFunction") and result["remaining_ms"] > 0
    assert "FLAKY_MODE" not in os.environ  # applied only for the duration of the call


def test_throttled_function_is_retried_by_lambda_error_name(sandbox: Sandbox) -> None:
    sandbox.faults.throttle_function("FlakyFunction", times=2)

    execution = sandbox.wait_for_execution(_start(sandbox, "FlakyStateMachine", {"mode": "ok"}), timeout=30)

    assert execution["status"] == "SUCCEEDED"
    assert _failed_task_errors(sandbox.history(execution["executionArn"])) == ["Lambda.TooManyRequestsException"] * 2


# -- CodeBuild -------------------------------------------------------------------------------------------------------


def test_successful_build_runs_buildspec_phases_with_overrides_and_parameter_store(sandbox: Sandbox) -> None:
    boto3.client("ssm").put_parameter(Name="/fixture/secret", Value=SECRET, Type="SecureString")
    source = _upload_build_source(sandbox, "source/build.zip")

    execution = sandbox.wait_for_execution(
        _start(sandbox, "BuildStateMachine", {"source": source, "target": "prod", "should_fail": "no"}), timeout=60
    )

    assert execution["status"] == "SUCCEEDED", execution
    build = json.loads(execution["output"])["build"]
    assert build["Status"] == "SUCCEEDED"
    proof = boto3.client("s3").get_object(Bucket=sandbox.physical("ArtifactsBucket"), Key="proof/prod")["Body"].read()
    assert proof.decode() == hashlib.sha256(SECRET.encode()).hexdigest()  # the secret reached the build process
    log = sandbox.build_logs(build["Id"])
    assert "greeting=hello from_buildspec=buildspec-value" in log  # project variable beats the buildspec's
    assert "target=prod cwd=work carried=yes" in log  # override; cwd and exports carry between commands
    assert "secret is ***" in log and "finally ran" in log and "post_build ran build_succeeding=1" in log
    described = boto3.client("codebuild").batch_get_builds(ids=[build["Id"]])["builds"][0]
    assert described["buildStatus"] == "SUCCEEDED"
    assert [phase["phaseType"] for phase in described["phases"]][-3:] == ["POST_BUILD", "FINALIZING", "COMPLETED"]
    streams = boto3.client("logs").describe_log_streams(logGroupName=sandbox.physical("BuildLogGroup"))["logStreams"]
    assert len(streams) == 1
    everything = log + json.dumps(sandbox.history(execution["executionArn"]), default=str) + execution["output"]
    assert SECRET not in everything


def test_failed_build_reaches_the_catch_path(sandbox: Sandbox) -> None:
    boto3.client("ssm").put_parameter(Name="/fixture/secret", Value=SECRET, Type="SecureString")
    source = _upload_build_source(sandbox, "source/build.zip")

    execution = sandbox.wait_for_execution(
        _start(sandbox, "BuildStateMachine", {"source": source, "target": "dev", "should_fail": "yes"}), timeout=60
    )

    output = json.loads(execution["output"])
    assert execution["status"] == "SUCCEEDED" and output["outcome"] == "build failed"
    assert output["error"]["Error"] == "States.TaskFailed"
    failed_build = json.loads(output["error"]["Cause"])["Build"]
    assert failed_build["BuildStatus"] == "FAILED"
    build_phase = next(phase for phase in failed_build["Phases"] if phase["PhaseType"] == "BUILD")
    assert build_phase["PhaseStatus"] == "FAILED"
    log = sandbox.build_logs(failed_build["Id"])
    assert "finally ran" in log and "post_build ran build_succeeding=0" in log
    assert SECRET not in log + execution["output"]


def test_build_faults_fail_or_time_out_the_next_build(sandbox: Sandbox) -> None:
    boto3.client("ssm").put_parameter(Name="/fixture/secret", Value=SECRET, Type="SecureString")
    source = _upload_build_source(sandbox, "source/build.zip")
    payload = {"source": source, "target": "dev", "should_fail": "no"}

    sandbox.faults.fail_next_build("injected failure")
    failed = json.loads(sandbox.wait_for_execution(_start(sandbox, "BuildStateMachine", payload), timeout=60)["output"])
    sandbox.faults.timeout_next_build()
    timed_out = json.loads(
        sandbox.wait_for_execution(_start(sandbox, "BuildStateMachine", payload), timeout=60)["output"]
    )

    assert json.loads(failed["error"]["Cause"])["Build"]["BuildStatus"] == "FAILED"
    assert "injected failure" in sandbox.build_logs(json.loads(failed["error"]["Cause"])["Build"]["Id"])
    assert json.loads(timed_out["error"]["Cause"])["Build"]["BuildStatus"] == "TIMED_OUT"


# -- events, schedules, time -----------------------------------------------------------------------------------------


def test_ssm_put_parameter_starts_an_execution_through_the_template_rule(sandbox: Sandbox) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/elsewhere/ignored", Value="1", Type="String")
    ssm.put_parameter(Name="/wandb-deployer/dev/infra/size", Value="small", Type="String")

    executions = sandbox.wait_for_executions("EventStateMachine", count=1, timeout=10)

    event = json.loads(sandbox.wait_for_execution(executions[0]["executionArn"], timeout=10)["input"])
    assert event["source"] == "aws.ssm" and event["detail-type"] == "Parameter Store Change"
    assert event["detail"] == {
        "operation": "Create",
        "name": "/wandb-deployer/dev/infra/size",
        "type": "String",
        "description": "",
    }
    assert "small" not in json.dumps(event)
    ssm.put_parameter(Name="/wandb-deployer/dev/infra/size", Value="large", Type="String", Overwrite=True)
    newest = sandbox.wait_for_executions("EventStateMachine", count=2, timeout=10)[0]
    assert json.loads(sandbox.wait_for_execution(newest["executionArn"])["input"])["detail"]["operation"] == "Update"
    assert len(sandbox.executions("EventStateMachine")) == 2  # the parameter outside the prefix started nothing


def test_custom_bus_event_is_delivered_to_a_lambda_target(sandbox: Sandbox) -> None:
    sandbox.put_event("fixture", "Record Requested", {"deployment": "dev"}, bus=sandbox.physical("Bus"))

    table = sandbox.physical("Table")
    dynamodb = boto3.client("dynamodb")
    for _ in range(200):
        item = dynamodb.get_item(TableName=table, Key={"pk": {"S": "recorded"}}).get("Item")
        if item:
            break
        time.sleep(0.05)
    assert item is not None
    assert json.loads(item["event"]["S"])["detail"] == {"deployment": "dev"}


def test_schedules_fire_now(sandbox: Sandbox) -> None:
    (nightly,) = sandbox.fire_schedule("EventStateMachineNightly")
    (hourly,) = sandbox.fire_schedule("EventStateMachineHourly")

    assert json.loads(sandbox.wait_for_execution(nightly)["input"]) == {"mode": "scheduled"}
    scheduled_event = json.loads(sandbox.wait_for_execution(hourly)["input"])
    assert scheduled_event["detail-type"] == "Scheduled Event" and scheduled_event["source"] == "aws.events"


def test_time_compression_makes_a_five_minute_wait_quick(sandbox: Sandbox) -> None:
    execution = sandbox.wait_for_execution(_start(sandbox, "WaitStateMachine", {}), timeout=20)  # 300 s / 100

    assert execution["status"] == "SUCCEEDED"
    assert sandbox.counters.state_transitions(execution["executionArn"]) == 2


def test_counters_and_cleanup(sandbox_factory: SandboxFactory) -> None:
    sandbox = sandbox_factory()
    sandbox.wait_for_execution(_start(sandbox, "FlakyStateMachine", {"mode": "ok"}))
    calls = sandbox.counters.api_calls()
    assert calls["lambda"]["Invoke"] == 1 and calls["stepfunctions"]["StartExecution"] == 1
    assert calls["s3"]["CreateBucket"] == 1
    with pytest.raises(SandboxAlreadyRunningError):
        Sandbox(FIXTURES).start()

    sandbox.stop()

    assert "AWS_ENDPOINT_URL" not in os.environ and "MOTO_PORT" not in os.environ
    second = sandbox_factory(time_scale=50.0)
    assert boto3.client("s3").list_buckets()["Buckets"][0]["Name"] == second.physical("ArtifactsBucket")


def test_serve_announces_exports_and_stops(tmp_path: Path) -> None:
    stop = threading.Event()
    announced: list[str] = []

    def announce(sandbox: Sandbox) -> None:
        announced.append(shell_exports(sandbox))
        stop.set()

    serve(Sandbox(FIXTURES, work_dir=tmp_path / "served"), announce, stop)

    assert announced and "export AWS_ENDPOINT_URL=http://127.0.0.1:" in announced[0]
    assert "AWS_ENDPOINT_URL" not in os.environ
