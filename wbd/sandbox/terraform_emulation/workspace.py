"""Reading the workspace the deployer renders: `*.tf.json` (backend, module calls, provider region) and
`terraform.tfvars.json` (the user's inputs). Values are data: nothing here evaluates them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wbd.sandbox.terraform_emulation.errors import WorkspaceError

AWS_MODULE_SOURCE = "wandb/wandb/aws"
KUBERNETES_MODULE_SOURCE = "wandb/wandb/kubernetes"
TFVARS_FILE = "terraform.tfvars.json"
INIT_DIR = ".terraform"
FIRST_OPERATOR_MAJOR = 4


class S3Backend(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    bucket: str = Field(min_length=3)
    key: str = Field(min_length=1)
    region: str = "us-east-1"
    use_lockfile: bool = False
    encrypt: bool = False
    kms_key_id: str = ""

    @property
    def encryption(self) -> dict[str, str]:
        """What the S3 backend sends with every state and lock file write (hashicorp/terraform,
        internal/backend/remote-state/s3/client.go): with `encrypt`, SSE-KMS when `kms_key_id` is set, else SSE-S3
        (AES256); without `encrypt`, nothing (the bucket's default encryption applies)."""
        if not self.encrypt:
            return {}
        if self.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": "AES256"}

    @property
    def lock_key(self) -> str:
        return f"{self.key}.tflock"

    @property
    def path(self) -> str:
        return f"{self.bucket}/{self.key}"


class ModuleCall(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    source: str
    version: str = ""

    @property
    def major(self) -> int:
        match = re.search(r"(\d+)(?:\.\d+)*", self.version)
        return int(match.group(1)) if match else 0


class FileStorageInputs(BaseModel):
    """The module inputs that decide the observable resources."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    namespace: str = Field(min_length=1)
    use_internal_queue: bool = False
    bucket_name: str = ""
    domain_name: str = ""
    subdomain: str = ""


class Workspace(BaseModel):
    model_config = ConfigDict(frozen=True)

    directory: Path
    backend: S3Backend
    aws_module: ModuleCall
    other_modules: tuple[ModuleCall, ...] = ()
    inputs: FileStorageInputs
    variables: dict[str, Any]
    provider_region: str | None = None
    config_files: tuple[str, ...] = ()

    @property
    def operator_generation(self) -> bool:
        return self.aws_module.major >= FIRST_OPERATOR_MAJOR

    @property
    def initialized(self) -> bool:
        return (self.directory / INIT_DIR).is_dir()


def _blocks(value: Any) -> list[dict[str, Any]]:
    """Terraform's JSON syntax allows a block as an object or as a list of objects."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise WorkspaceError(f"cannot read {path.name}: {type(exc).__name__}") from exc
    if not isinstance(document, dict):
        raise WorkspaceError(f"{path.name} must hold a JSON object")
    return document


def _backend(documents: dict[str, dict[str, Any]]) -> S3Backend:
    for name, document in documents.items():
        for terraform_block in _blocks(document.get("terraform")):
            for backend_block in _blocks(terraform_block.get("backend")):
                for s3_block in _blocks(backend_block.get("s3")):
                    try:
                        return S3Backend.model_validate(s3_block)
                    except ValidationError as exc:
                        raise WorkspaceError(f"{name}: the s3 backend needs bucket and key") from exc
    raise WorkspaceError("no terraform.backend.s3 block in any *.tf.json file")


def _module_calls(documents: dict[str, dict[str, Any]]) -> list[ModuleCall]:
    calls: list[ModuleCall] = []
    for document in documents.values():
        for module_block in _blocks(document.get("module")):
            for name, body in module_block.items():
                for call in _blocks(body):
                    source = str(call.get("source", ""))
                    calls.append(ModuleCall(name=name, source=source, version=str(call.get("version", ""))))
    return calls


def _provider_region(documents: dict[str, dict[str, Any]]) -> str | None:
    for document in documents.values():
        for provider_block in _blocks(document.get("provider")):
            for aws in _blocks(provider_block.get("aws")):
                region = aws.get("region")
                if isinstance(region, str) and region and "${" not in region:
                    return region
    return None


def _is_module(source: str, wanted: str) -> bool:
    return source.removeprefix("registry.terraform.io/").removeprefix("app.terraform.io/") == wanted


def load_workspace(directory: Path) -> Workspace:
    """Read the rendered workspace in `directory`; fails with WorkspaceError naming what is missing."""
    files = sorted(directory.glob("*.tf.json"))
    if not files:
        raise WorkspaceError(
            "no *.tf.json configuration files in the working directory", summary="No configuration files"
        )
    documents = {path.name: _read_json(path) for path in files}
    tfvars_path = directory / TFVARS_FILE
    variables = _read_json(tfvars_path) if tfvars_path.exists() else {}
    for auto in sorted(directory.glob("*.auto.tfvars.json")):  # as Terraform: after terraform.tfvars, lexical order
        variables.update(_read_json(auto))
    calls = _module_calls(documents)
    aws_calls = [call for call in calls if _is_module(call.source, AWS_MODULE_SOURCE)]
    if len(aws_calls) != 1:
        raise WorkspaceError(
            f"expected exactly one module call with source {AWS_MODULE_SOURCE}, found {len(aws_calls)}"
        )
    try:
        inputs = FileStorageInputs.model_validate(variables)
    except ValidationError as exc:
        names = ", ".join(".".join(str(part) for part in error["loc"]) for error in exc.errors())
        raise WorkspaceError(f"{TFVARS_FILE}: invalid or missing input(s): {names}") from exc
    return Workspace(
        directory=directory,
        backend=_backend(documents),
        aws_module=aws_calls[0],
        other_modules=tuple(call for call in calls if call is not aws_calls[0]),
        inputs=inputs,
        variables=variables,
        provider_region=_provider_region(documents),
        config_files=tuple(path.name for path in files),
    )
