"""The license reaches Terraform and nothing else: not the execution history, the run history, the function or build
logs, the artifacts, nor the notifications (issue 4). The workflow tests scan their runs the same way.

The one named exception: `plan.tfplan`. Terraform saves variable values in its saved plan, and apply needs that file
byte for byte, so the deployer keeps it, KMS-encrypted under the deployer's key, and this test checks that it is.
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.e2e.conftest import OPERATOR_EXAMPLE
from tests.e2e.run_evidence import SAVED_PLAN, NotificationCapture, license_leaks, unique_license
from wandb_deployer.aws_clients import client
from wbd.sandbox_driver import SandboxDriver

pytestmark = pytest.mark.e2e

LICENSE_PARAMETER = "/wandb-deployer/demo/infra/license"


def test_the_license_reaches_terraform_only_through_parameter_store(deployer: SandboxDriver) -> None:
    notifications = NotificationCapture.subscribe(deployer)
    license_value = unique_license()

    # Given a first install under the policy `always`: plan, approval gate, apply, outputs, wiring and health, with a
    # secret input too (a token in other_wandb_env: a SecureString the plan build reads itself)
    token = f"gorilla-token-{license_value.rsplit('.', 1)[-1][:12]}"
    deployment = deployer.push(
        OPERATOR_EXAMPLE,
        license_value=license_value,
        deployer={"approval": "always"},
        infra={"other_wandb_env": {"GORILLA_TOKEN": token}},
    )
    pending = deployer.wait_for_approval(deployment).pending_approval
    assert pending is not None
    deployer.answer(deployment, pending.plan_sha256, approve=True)
    deployer.wait_until_idle()
    (run,) = deployer.runs(deployment)
    # (aws 8.x requires `license`: the emulated plan fails without TF_VAR_license, so it did reach Terraform)
    assert run.outcome == "succeeded"

    # Then the builds were handed the parameter's NAME, resolved by CodeBuild from Parameter Store,
    build_tasks = [
        json.loads(event["taskScheduledEventDetails"]["parameters"])
        for event in deployer.sandbox.history(run.execution_arn)
        if event.get("taskScheduledEventDetails", {}).get("resourceType") == "codebuild"
    ]
    assert len(build_tasks) == 2  # plan and apply
    plan_build, apply_build = build_tasks
    (variable,) = [v for v in plan_build["EnvironmentVariablesOverride"] if v["Name"] == "TF_VAR_license"]
    assert variable == {
        "Name": "TF_VAR_license",
        "Type": "PARAMETER_STORE",
        "Value": "/wandb-deployer/demo/infra/license",
    }
    # (the apply applies the saved plan, which holds its inputs: it is never handed the license)
    assert not [v for v in apply_build["EnvironmentVariablesOverride"] if v["Name"].startswith("TF_VAR_")]
    assert apply_build["ServiceRoleOverride"] == deployer.sandbox.attribute("TerraformApplyRole", "Arn")

    # and the license is nowhere in what the run produced (the saved plan excepted, see below), nor the secret input
    # (the emulated plan fails without a value for it: it did reach Terraform);
    assert license_leaks(deployer, license_value, notifications) == []
    assert license_leaks(deployer, token, notifications) == []
    stored = client("ssm").get_parameter(Name="/wandb-deployer/demo/infra/other_wandb_env")["Parameter"]
    assert stored["Type"] == "SecureString"

    # the saved plan, the one artifact allowed to hold it, is KMS-encrypted under the deployer's key.
    s3 = client("s3")
    key_arn = str(deployer.sandbox.attribute("DeployerKey", "Arn"))
    saved_plans = [key for key in deployer.artifacts() if key.rsplit("/", 1)[-1] == SAVED_PLAN]
    assert saved_plans
    for key in saved_plans:
        head = s3.head_object(Bucket=deployer.artifacts_bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] in (key_arn, key_arn.rsplit("/", 1)[-1])

    # Terraform state, which holds the license too, is written with the deployer's key (security review, item 2).
    state_bucket = str(deployer.sandbox.physical("StateBucket"))
    head = s3.head_object(Bucket=state_bucket, Key=f"deployments/{deployment}/terraform.tfstate")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] in (key_arn, key_arn.rsplit("/", 1)[-1])

    # Control: the scan does see a license where it should not be (a table item, an artifact, a zipped workspace file,
    # a message).
    client("dynamodb").put_item(
        TableName=deployer.table,
        Item={"pk": {"S": "CONTROL"}, "sk": {"S": "LEAK"}, "note": {"S": license_value}},
    )
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("terraform.tfvars.json", json.dumps({"license": license_value}))
    s3.put_object(Bucket=deployer.artifacts_bucket, Key="runs/control/leak.txt", Body=license_value.encode())
    s3.put_object(Bucket=deployer.artifacts_bucket, Key="runs/control/workspace.zip", Body=bundle.getvalue())
    control = json.dumps({"event": "Control", "deployment": deployment, "detail": {"note": license_value}})
    client("sns").publish(TopicArn=str(deployer.sandbox.physical("NotificationsTopic")), Message=control)
    assert notifications.wait_for_text(license_value)
    assert license_leaks(deployer, license_value, notifications) == [
        "deployments table",
        "artifact runs/control/leak.txt",
        "artifact runs/control/workspace.zip!terraform.tfvars.json",
        "notifications",
    ]
