"""The emulation's init -> plan -> show -json -> apply -> output cycle against moto in-process."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.unit.terraform_emulation.workspaces import (
    STATE_BUCKET,
    STATE_KEY,
    TERRAFORM_VERSION,
    actions_by_address,
    render_workspace,
    show_plan,
)

pytestmark = pytest.mark.unit

STORAGE = "module.wandb_infra.module.file_storage"
BUCKET = f"{STORAGE}.aws_s3_bucket.file_storage"
QUEUE = f"{STORAGE}.aws_sqs_queue.file_storage"
POLICY = f"{STORAGE}.aws_sqs_queue_policy.file_storage"
NOTIFICATION = f"{STORAGE}.aws_s3_bucket_notification.file_storage"
CORS = f"{STORAGE}.aws_s3_bucket_cors_configuration.file_storage"
PET = "module.wandb_infra.random_pet.file_storage"
MODULE_INPUTS = "module.wandb_infra.terraform_data.emulated_module_inputs"
PLAN = ("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode", "-lock-timeout=5s")
APPLY = ("apply", "-input=false", "-no-color", "-lock-timeout=5s", "tfplan")


def state_document() -> dict[str, Any]:
    body = boto3.client("s3", region_name="us-east-1").get_object(Bucket=STATE_BUCKET, Key=STATE_KEY)["Body"].read()
    document: dict[str, Any] = json.loads(body)
    return document


def outputs(terraform: Any) -> dict[str, Any]:
    result = terraform("output", "-json")
    assert result.code == 0, result.text
    document: dict[str, Any] = json.loads(result.out)
    return document


def test_version_names_the_emulation(workspace: Path, terraform: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WBD_TERRAFORM_VERSION", "1.10.5")
    text = terraform("version")
    assert text.code == 0
    assert text.out.startswith("Terraform v1.10.5 (wandb-deployer sandbox emulation)")
    document = json.loads(terraform("version", "-json").out)
    assert document["terraform_version"] == "1.10.5"
    assert document["emulation"] == "wandb-deployer sandbox"
    assert "emulation" in terraform("-help").out


def test_init_needs_the_backend_bucket(workspace: Path, terraform: Any) -> None:
    boto3.client("s3", region_name="us-east-1").delete_bucket(Bucket=STATE_BUCKET)
    result = terraform("init", "-input=false", "-no-color")
    assert result.code == 1
    assert "S3 bucket does not exist" in result.err
    assert not (workspace / ".terraform").exists()


def test_plan_before_init_fails_like_terraform(workspace: Path, terraform: Any) -> None:
    result = terraform(*PLAN)
    assert result.code == 1
    assert "Backend initialization required" in result.err


def test_unknown_flag_and_command_fail(workspace: Path, terraform: Any) -> None:
    assert terraform("plan", "-bogus").code == 1
    assert terraform("destroy").code == 1


def test_first_plan_creates_the_wiring_in_terraform_json_format(workspace: Path, terraform: Any) -> None:
    assert terraform("init", "-input=false", "-no-color").code == 0
    result = terraform(*PLAN)
    assert result.code == 2, result.text
    assert "Plan: 9 to add, 0 to change, 0 to destroy." in result.out

    plan = show_plan(terraform)
    assert plan["format_version"] == "1.2"
    assert plan["terraform_version"] == TERRAFORM_VERSION
    assert plan["applyable"] is True and plan["complete"] is True and plan["errored"] is False
    actions = actions_by_address(plan)
    assert set(actions) == {
        PET,
        MODULE_INPUTS,
        BUCKET,
        f"{STORAGE}.aws_s3_bucket_public_access_block.file_storage",
        f"{STORAGE}.aws_s3_bucket_server_side_encryption_configuration.file_storage",
        CORS,
        QUEUE,
        POLICY,
        NOTIFICATION,
    }
    assert all(value == ["create"] for value in actions.values())
    queue = next(change for change in plan["resource_changes"] if change["address"] == QUEUE)
    assert queue["module_address"] == STORAGE
    assert queue["mode"] == "managed" and queue["type"] == "aws_sqs_queue" and queue["name"] == "file_storage"
    assert queue["provider_name"] == "registry.terraform.io/hashicorp/aws"
    assert queue["change"]["before"] is None
    assert queue["change"]["after_unknown"] == {"id": True, "url": True}
    assert queue["change"]["after"]["name"].startswith("wandb-file-storage-")
    assert plan["output_changes"]["bucket_name"]["actions"] == ["create"]
    assert plan["resource_drift"] == []
    child = plan["planned_values"]["root_module"]["child_modules"][0]
    assert child["address"] == "module.wandb_infra"
    assert child["child_modules"][0]["address"] == STORAGE

    with zipfile.ZipFile(workspace / "tfplan") as archive:
        saved = json.loads(archive.read("tfplan"))
        assert "tfconfig/main.tf.json" in archive.namelist()
    assert saved["prior_state_exists"] is False and saved["prior_serial"] == 0 and saved["lineage"]


def test_apply_creates_the_module_wiring_in_the_emulator(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    result = init_plan_apply()
    assert "Apply complete! Resources: 9 added, 0 changed, 0 destroyed." in result.out
    assert "database_password = <sensitive>" in result.out

    state = state_document()
    assert state["version"] == 4 and state["serial"] == 1 and state["lineage"]
    name = state["outputs"]["bucket_name"]["value"]
    assert name.startswith("wandb-file-storage-")
    s3 = boto3.client("s3", region_name="us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    cors = s3.get_bucket_cors(Bucket=name)["CORSRules"][0]
    assert sorted(cors["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    assert cors["AllowedOrigins"] == ["*"] and cors["AllowedHeaders"] == ["*"]
    assert cors["ExposeHeaders"] == ["ETag"] and cors["MaxAgeSeconds"] == 3000
    encryption = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "10"
    assert "FifoQueue" not in attributes or attributes["FifoQueue"] == "false"
    statement = json.loads(attributes["Policy"])["Statement"][0]
    assert statement["Effect"] == "Allow" and statement["Principal"] == "*"
    assert statement["Action"] == "sqs:SendMessage" and statement["Resource"] == attributes["QueueArn"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": f"arn:aws:s3:::{name}"}}
    notification = s3.get_bucket_notification_configuration(Bucket=name)["QueueConfigurations"]
    assert len(notification) == 1
    assert notification[0]["QueueArn"] == attributes["QueueArn"]
    assert notification[0]["Events"] == ["s3:ObjectCreated:*"]
    assert "Filter" not in notification[0]
    assert "Contents" not in s3.list_objects_v2(Bucket=STATE_BUCKET, Prefix=f"{STATE_KEY}.tflock")

    second = terraform(*PLAN)
    assert second.code == 0, second.text
    assert "No changes." in second.out
    assert set(map(tuple, actions_by_address(show_plan(terraform)).values())) == {("no-op",)}


def test_outputs_in_terraform_format(
    workspace: Path, terraform: Any, init_plan_apply: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_plan_apply()
    document = outputs(terraform)
    assert document["url"] == {"sensitive": False, "type": "string", "value": "https://wandb.example.com"}
    assert document["bucket_queue_name"]["value"] == document["bucket_name"]["value"]
    assert document["bucket_region"]["value"] == "us-east-1"
    assert document["cluster_name"]["value"] == "wandb-cluster"
    assert document["database_password"] == {"sensitive": True, "type": "string", "value": "emulated-password"}
    assert "emulation" in document["sandbox_emulation"]["value"]
    assert terraform("output", "-raw", "bucket_region").out.strip() == "us-east-1"


def test_url_comes_from_the_sandbox_stand_in(
    workspace: Path, terraform: Any, init_plan_apply: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WBD_SANDBOX_WANDB_URL", "http://127.0.0.1:8765")
    init_plan_apply()
    assert outputs(terraform)["url"]["value"] == "http://127.0.0.1:8765"


def test_internal_queue_creates_no_queue(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    render_workspace(workspace, use_internal_queue=True)
    init_plan_apply()
    types = {resource["type"] for resource in state_document()["resources"]}
    assert "aws_sqs_queue" not in types and "aws_s3_bucket_notification" not in types
    assert "aws_s3_bucket" in types
    assert outputs(terraform)["bucket_queue_name"]["value"] is None
    assert boto3.client("sqs", region_name="us-east-1").list_queues().get("QueueUrls", []) == []


def test_external_bucket_creates_no_file_storage(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    render_workspace(workspace, bucket_name="my-existing-bucket")
    init_plan_apply()
    assert sorted(resource["type"] for resource in state_document()["resources"]) == ["random_pet", "terraform_data"]
    document = outputs(terraform)
    assert document["bucket_name"]["value"] == "my-existing-bucket"
    assert document["bucket_queue_name"]["value"] is None


def test_pet_name_is_stable_across_plans(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    init_plan_apply()
    first = outputs(terraform)["bucket_name"]["value"]
    render_workspace(workspace, namespace="wandb")
    assert terraform(*PLAN).code == 0
    assert outputs(terraform)["bucket_name"]["value"] == first


def test_namespace_change_replaces_bucket_and_queue(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    init_plan_apply()
    old = outputs(terraform)["bucket_name"]["value"]
    render_workspace(workspace, namespace="research")
    assert terraform(*PLAN).code == 2
    plan = show_plan(terraform)
    actions = actions_by_address(plan)
    assert actions[BUCKET] == ["delete", "create"]
    assert actions[QUEUE] == ["delete", "create"]
    assert actions[POLICY] == ["update"]
    bucket = next(change for change in plan["resource_changes"] if change["address"] == BUCKET)
    assert bucket["action_reason"] == "replace_because_cannot_update"
    assert bucket["change"]["replace_paths"] == [["bucket"]]

    result = terraform(*APPLY)
    assert result.code == 0, result.text
    new = outputs(terraform)["bucket_name"]["value"]
    assert new.startswith("research-file-storage-") and new.endswith(old.removeprefix("wandb-file-storage-"))
    names = [bucket["Name"] for bucket in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]]
    assert old not in names and new in names
    assert terraform(*PLAN).code == 0


def test_file_storage_keeps_its_state_across_the_migration_and_the_7x_moved_block(
    workspace: Path, terraform: Any, init_plan_apply: Any
) -> None:
    # Up to 6.x the module counts file storage (`module.file_storage[0]`); 7.0.0 moves it to `module.file_storage`.
    render_workspace(workspace, module_version="2.8.0", legacy=True)
    init_plan_apply()
    counted_bucket = "module.wandb_infra.module.file_storage[0].aws_s3_bucket.file_storage"
    assert counted_bucket in {f"{r['module']}.{r['type']}.{r['name']}" for r in state_document()["resources"]}

    render_workspace(workspace, module_version="4.7.2")  # the operator migration guide's target: same address
    assert terraform(*PLAN).code == 2
    actions = actions_by_address(show_plan(terraform))
    assert actions[counted_bucket] == ["no-op"] and BUCKET not in actions
    assert terraform(*APPLY).code == 0

    render_workspace(workspace, module_version="8.0.0")  # moved, not destroyed and recreated
    assert terraform(*PLAN).code == 2
    actions = actions_by_address(show_plan(terraform))
    assert actions[BUCKET] == ["no-op"] and counted_bucket not in actions
    assert actions[PET] == ["no-op"]
    result = terraform(*APPLY)
    assert result.code == 0, result.text
    assert BUCKET in {f"{r['module']}.{r['type']}.{r['name']}" for r in state_document()["resources"]}
    assert terraform(*PLAN).code == 0


def test_stale_plan_is_refused(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    init_plan_apply()
    render_workspace(workspace, namespace="other")
    assert terraform(*PLAN).code == 2
    (workspace / "tfplan").rename(workspace / "old.tfplan")
    render_workspace(workspace, namespace="third")
    assert terraform(*PLAN).code == 2
    assert terraform(*APPLY).code == 0
    stale = terraform("apply", "-input=false", "-no-color", "old.tfplan")
    assert stale.code == 1
    assert "Error: Saved plan is stale" in stale.err


def test_plan_made_before_the_first_apply_is_stale_after_it(
    workspace: Path, terraform: Any, init_plan_apply: Any
) -> None:
    assert terraform("init", "-input=false").code == 0
    assert terraform("plan", "-input=false", "-out=first.tfplan").code == 0
    init_plan_apply()
    assert "Saved plan is stale" in terraform("apply", "-input=false", "first.tfplan").err


def test_failed_delete_keeps_what_was_done_in_state(workspace: Path, terraform: Any, init_plan_apply: Any) -> None:
    init_plan_apply()
    old = outputs(terraform)["bucket_name"]["value"]
    boto3.client("s3", region_name="us-east-1").put_object(Bucket=old, Key="media/file.bin", Body=b"data")
    render_workspace(workspace, namespace="research")
    assert terraform(*PLAN).code == 2
    result = terraform(*APPLY)
    assert result.code == 1
    assert "BucketNotEmpty" in result.err
    state = state_document()
    assert state["serial"] == 2
    assert BUCKET in {f"{r['module']}.{r['type']}.{r['name']}" for r in state["resources"]}


def test_other_inputs_change_only_the_module_inputs_stand_in(
    workspace: Path, terraform: Any, init_plan_apply: Any
) -> None:
    # Given an applied workspace, when an input the emulation does not model changes (size),
    init_plan_apply()
    tfvars_path = workspace / "terraform.tfvars.json"
    tfvars = json.loads(tfvars_path.read_text(encoding="utf-8"))
    tfvars["size"] = "medium"
    tfvars_path.write_text(json.dumps(tfvars), encoding="utf-8")
    result = terraform(*PLAN)
    # then the plan updates the stand-in in place and leaves every modelled resource alone.
    assert result.code == 2, result.text
    actions = actions_by_address(show_plan(terraform))
    assert actions.pop(MODULE_INPUTS) == ["update"]
    assert set(map(tuple, actions.values())) == {("no-op",)}
