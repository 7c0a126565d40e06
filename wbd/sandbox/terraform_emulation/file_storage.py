"""The desired file-storage resources of the W&B aws module (bucket, CORS, encryption, public access block, queue,
queue policy, notification) with Terraform-like addresses, and the deterministic random_pet."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from wbd.sandbox.terraform_emulation.state import RANDOM_PROVIDER, ResourceRecord
from wbd.sandbox.terraform_emulation.workspace import Workspace

BUCKET = "aws_s3_bucket"
PUBLIC_ACCESS_BLOCK = "aws_s3_bucket_public_access_block"
ENCRYPTION = "aws_s3_bucket_server_side_encryption_configuration"
CORS = "aws_s3_bucket_cors_configuration"
QUEUE = "aws_sqs_queue"
QUEUE_POLICY = "aws_sqs_queue_policy"
NOTIFICATION = "aws_s3_bucket_notification"
PET = "random_pet"
# Everything the emulation does not model (VPC, EKS, Aurora, Redis, the operator's helm release...) is stood for by one
# `terraform_data` resource holding the module versions and inputs: a change of any other input is an in-place update.
MODULE_INPUTS = "terraform_data"
MODULE_INPUTS_NAME = "emulated_module_inputs"
BUILTIN_PROVIDER = "terraform.io/builtin/terraform"
# Creation order (deletes run in reverse): the notification needs the queue policy, as in the module.
APPLY_ORDER = (PET, BUCKET, PUBLIC_ACCESS_BLOCK, ENCRYPTION, CORS, QUEUE, QUEUE_POLICY, NOTIFICATION, MODULE_INPUTS)
RESOURCE_NAME = "file_storage"
QUEUE_WAIT_SECONDS = 10
# The attribute whose change cannot be updated in place (the resource is replaced).
FORCE_NEW = {
    BUCKET: "bucket",
    PUBLIC_ACCESS_BLOCK: "bucket",
    ENCRYPTION: "bucket",
    CORS: "bucket",
    QUEUE: "name",
    NOTIFICATION: "bucket",
}
# Attributes computed by the provider: unknown when the resource is created.
COMPUTED = {QUEUE: ("id", "url"), QUEUE_POLICY: ("queue_url",)}

_ADJECTIVES = (
    "able", "bold", "brave", "bright", "calm", "clever", "cool", "eager", "fair", "fine", "glad", "grand", "happy",
    "keen", "kind", "lively", "lucky", "merry", "neat", "noble", "proud", "quick", "quiet", "sharp", "smart", "steady",
    "sunny", "swift", "tidy", "vital", "warm", "wise",
)  # fmt: skip
_ANIMALS = (
    "badger", "beagle", "bison", "cobra", "condor", "crane", "dingo", "eagle", "falcon", "ferret", "gecko", "heron",
    "ibex", "jackal", "koala", "lemur", "lynx", "marten", "moose", "newt", "ocelot", "otter", "panda", "puffin",
    "quail", "raven", "salmon", "tapir", "toucan", "walrus", "wombat", "yak",
)  # fmt: skip


def pet_name(lineage: str) -> str:
    """A two-word pet chosen by a hash of the state lineage (random_pet, made deterministic)."""
    digest = hashlib.sha256(lineage.encode()).digest()
    return f"{_ADJECTIVES[digest[0] % len(_ADJECTIVES)]}-{_ANIMALS[digest[1] % len(_ANIMALS)]}"


def module_prefix(workspace: Workspace) -> str:
    return f"module.{workspace.aws_module.name}"


UNCOUNTED_FILE_STORAGE_FROM_MAJOR = 7


def file_storage_module(workspace: Workspace) -> str:
    """Up to 6.x the module calls file storage with `count = var.create_bucket ? 1 : 0` (`module.file_storage[0]`);
    7.0.0 drops the count and moves the state with `moved { from = module.file_storage[0], to = module.file_storage }`
    (main.tf at v7.0.0)."""
    index = "" if workspace.aws_module.major >= UNCOUNTED_FILE_STORAGE_FROM_MAJOR else "[0]"
    return f"{module_prefix(workspace)}.module.file_storage{index}"


def moved_file_storage(workspace: Workspace, address: str) -> str | None:
    """Where the 7.x `moved` block puts a state object of `module.file_storage[0]` (None: not moved)."""
    counted = f"{module_prefix(workspace)}.module.file_storage[0]."
    if workspace.aws_module.major < UNCOUNTED_FILE_STORAGE_FROM_MAJOR or not address.startswith(counted):
        return None
    return f"{module_prefix(workspace)}.module.file_storage." + address.removeprefix(counted)


def pet_address(workspace: Workspace) -> str:
    return f"{module_prefix(workspace)}.{PET}.{RESOURCE_NAME}"


def creates_queue(workspace: Workspace) -> bool:
    return not workspace.inputs.use_internal_queue and not workspace.inputs.bucket_name


def queue_policy_document(queue_arn: str, bucket_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": bucket_arn}},
                }
            ],
        },
        sort_keys=True,
    )


def desired_resources(workspace: Workspace, pet: str, region: str, account: str) -> list[ResourceRecord]:
    """What the configuration asks for, in apply order (computed values that only exist after create omitted)."""
    prefix = module_prefix(workspace)
    storage = file_storage_module(workspace)
    records = [
        ResourceRecord(
            module=prefix,
            type=PET,
            name=RESOURCE_NAME,
            provider=RANDOM_PROVIDER,
            attributes={"id": pet, "keepers": None, "length": 2, "prefix": None, "separator": "-"},
        )
    ]
    if workspace.inputs.bucket_name:
        return [*records, module_inputs_record(workspace, prefix)]
    name = f"{workspace.inputs.namespace}-file-storage-{pet}"
    bucket_arn = f"arn:aws:s3:::{name}"
    bucket_address = f"{storage}.{BUCKET}.{RESOURCE_NAME}"

    def storage_record(kind: str, attributes: dict[str, Any], *depends: str) -> ResourceRecord:
        return ResourceRecord(
            module=storage, type=kind, name=RESOURCE_NAME, attributes=attributes, dependencies=depends
        )

    pet_ref = pet_address(workspace)
    records.append(module_inputs_record(workspace, prefix))
    records += [
        storage_record(
            BUCKET,
            {"id": name, "bucket": name, "arn": bucket_arn, "region": region, "force_destroy": False},
            pet_ref,
        ),
        storage_record(
            PUBLIC_ACCESS_BLOCK,
            {
                "id": name,
                "bucket": name,
                "block_public_acls": True,
                "block_public_policy": True,
                "ignore_public_acls": True,
                "restrict_public_buckets": True,
            },
            bucket_address,
        ),
        storage_record(
            ENCRYPTION,
            {"id": name, "bucket": name, "rule": [encryption_rule("aws:kms")]},
            bucket_address,
        ),
        storage_record(CORS, {"id": name, "bucket": name, "cors_rule": [cors_rule()]}, bucket_address),
    ]
    if not creates_queue(workspace):
        return records
    queue_arn = f"arn:aws:sqs:{region}:{account}:{name}"
    queue_address = f"{storage}.{QUEUE}.{RESOURCE_NAME}"
    policy_address = f"{storage}.{QUEUE_POLICY}.{RESOURCE_NAME}"
    records += [
        storage_record(
            QUEUE,
            {
                "name": name,
                "arn": queue_arn,
                "fifo_queue": False,
                "receive_wait_time_seconds": QUEUE_WAIT_SECONDS,
                "kms_master_key_id": None,
            },
            pet_ref,
        ),
        storage_record(
            QUEUE_POLICY,
            {"policy": queue_policy_document(queue_arn, bucket_arn)},
            bucket_address,
            queue_address,
        ),
        storage_record(
            NOTIFICATION,
            {
                "id": name,
                "bucket": name,
                "eventbridge": False,
                "queue": [queue_notification(queue_arn)],
            },
            bucket_address,
            queue_address,
            policy_address,
        ),
    ]
    return records


def module_inputs_record(workspace: Workspace, prefix: str) -> ResourceRecord:
    """The stand-in for the module's unmodelled resources: its versions and inputs (the license is never an input
    here: it comes from TF_VAR_license and is not stored)."""
    versions = {call.name: f"{call.source}@{call.version}" for call in (workspace.aws_module, *workspace.other_modules)}
    value = {"modules": versions, "inputs": dict(sorted(workspace.variables.items()))}
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
    return ResourceRecord(
        module=prefix,
        type=MODULE_INPUTS,
        name=MODULE_INPUTS_NAME,
        provider=BUILTIN_PROVIDER,
        attributes={"id": digest[:16], "input": value, "output": value, "triggers_replace": None},
    )


def encryption_rule(algorithm: str) -> dict[str, Any]:
    return {
        "apply_server_side_encryption_by_default": [{"kms_master_key_id": "", "sse_algorithm": algorithm}],
        "bucket_key_enabled": False,
    }


def cors_rule(
    methods: list[str] | None = None,
    origins: list[str] | None = None,
    headers: list[str] | None = None,
    expose: list[str] | None = None,
    max_age: int | None = 3000,
) -> dict[str, Any]:
    return {
        "allowed_headers": sorted(headers if headers is not None else ["*"]),
        "allowed_methods": sorted(methods if methods is not None else ["GET", "HEAD", "PUT"]),
        "allowed_origins": sorted(origins if origins is not None else ["*"]),
        "expose_headers": sorted(expose if expose is not None else ["ETag"]),
        "max_age_seconds": max_age,
    }


def queue_notification(
    queue_arn: str, events: list[str] | None = None, prefix: str = "", suffix: str = ""
) -> dict[str, Any]:
    return {
        "queue_arn": queue_arn,
        "events": sorted(events if events is not None else ["s3:ObjectCreated:*"]),
        "filter_prefix": prefix,
        "filter_suffix": suffix,
    }
