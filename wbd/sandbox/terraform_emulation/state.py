"""Terraform state (format v4 shape) kept in the S3 backend bucket at the backend key."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from wbd.sandbox.terraform_emulation.environment import emulator_client
from wbd.sandbox.terraform_emulation.errors import BackendBucketMissingError, StateStorageError
from wbd.sandbox.terraform_emulation.workspace import S3Backend

STATE_VERSION = 4
AWS_PROVIDER = "registry.terraform.io/hashicorp/aws"
RANDOM_PROVIDER = "registry.terraform.io/hashicorp/random"


class ResourceRecord(BaseModel):
    """One managed resource instance: where it lives and its attributes."""

    model_config = ConfigDict(frozen=True)

    module: str
    type: str
    name: str
    provider: str = AWS_PROVIDER
    attributes: dict[str, Any] = Field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        return f"{self.module}.{self.type}.{self.name}"

    def with_attributes(self, attributes: dict[str, Any]) -> ResourceRecord:
        return self.model_copy(update={"attributes": attributes})


class State(BaseModel):
    model_config = ConfigDict(frozen=True)

    terraform_version: str
    serial: int
    lineage: str
    outputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    resources: tuple[ResourceRecord, ...] = ()

    def by_address(self) -> dict[str, ResourceRecord]:
        return {record.address: record for record in self.resources}

    def to_document(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "terraform_version": self.terraform_version,
            "serial": self.serial,
            "lineage": self.lineage,
            "outputs": self.outputs,
            "resources": [
                {
                    "module": record.module,
                    "mode": "managed",
                    "type": record.type,
                    "name": record.name,
                    "provider": f'provider["{record.provider}"]',
                    "instances": [
                        {
                            "schema_version": 0,
                            "attributes": record.attributes,
                            "sensitive_attributes": [],
                            "dependencies": list(record.dependencies),
                        }
                    ],
                }
                for record in self.resources
            ],
            "check_results": None,
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> State:
        if document.get("version") != STATE_VERSION:
            raise StateStorageError(f"unsupported state version {document.get('version')!r}")
        records = []
        for resource in document.get("resources", []):
            provider = str(resource.get("provider", ""))
            provider = provider.removeprefix('provider["').removesuffix('"]') or AWS_PROVIDER
            for instance in resource.get("instances", []):
                records.append(
                    ResourceRecord(
                        module=resource.get("module", ""),
                        type=resource["type"],
                        name=resource["name"],
                        provider=provider,
                        attributes=instance.get("attributes", {}),
                        dependencies=tuple(instance.get("dependencies", [])),
                    )
                )
        return cls(
            terraform_version=str(document.get("terraform_version", "")),
            serial=int(document.get("serial", 0)),
            lineage=str(document.get("lineage", "")),
            outputs=document.get("outputs", {}),
            resources=tuple(records),
        )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def check_backend_bucket(backend: S3Backend) -> None:
    """`init`: the backend bucket must exist (the deployer creates it; Terraform does not)."""
    s3 = emulator_client("s3", backend.region)
    try:
        s3.head_bucket(Bucket=backend.bucket)
    except ClientError as exc:
        if _error_code(exc) in {"404", "NoSuchBucket", "403"}:
            raise BackendBucketMissingError(f"The referenced S3 bucket {backend.bucket!r} must exist.") from exc
        raise StateStorageError(f"cannot reach the backend bucket: {_error_code(exc)}") from exc


def load_state(backend: S3Backend) -> State | None:
    """The current state, or None when none was written yet."""
    s3 = emulator_client("s3", backend.region)
    try:
        body = s3.get_object(Bucket=backend.bucket, Key=backend.key)["Body"].read()
    except ClientError as exc:
        if _error_code(exc) in {"NoSuchKey", "404"}:
            return None
        if _error_code(exc) == "NoSuchBucket":
            raise BackendBucketMissingError(f"The referenced S3 bucket {backend.bucket!r} must exist.") from exc
        raise StateStorageError(f"cannot read state {backend.path}: {_error_code(exc)}") from exc
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise StateStorageError(f"state {backend.path} is not valid JSON") from exc
    return State.from_document(document)


def save_state(backend: S3Backend, state: State) -> None:
    s3 = emulator_client("s3", backend.region)
    body = json.dumps(state.to_document(), indent=2, sort_keys=False).encode()
    try:
        s3.put_object(
            Bucket=backend.bucket, Key=backend.key, Body=body, ContentType="application/json", **backend.encryption
        )
    except ClientError as exc:
        raise StateStorageError(f"cannot write state {backend.path}: {_error_code(exc)}") from exc
