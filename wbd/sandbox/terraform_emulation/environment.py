"""The emulation's environment, read once and validated (the only module here that reads os.environ), and its
boto3 clients for the AWS emulator (boto3 itself honours AWS_ENDPOINT_URL).

The license (`TF_VAR_license`) is only checked for presence; its value is never read.
"""

from __future__ import annotations

import getpass
import os
import socket
from functools import cache
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.config import Config
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wbd.sandbox.terraform_emulation.errors import InvalidEnvironmentError

DEFAULT_TERRAFORM_VERSION = "1.9.8"
Fault = Literal["", "plan-error", "apply-error", "hang"]


class EmulationEnvironment(BaseModel):
    model_config = ConfigDict(frozen=True)

    terraform_version: str = Field(default=DEFAULT_TERRAFORM_VERSION, pattern=r"^\d+\.\d+\.\d+([-+.][0-9A-Za-z.-]+)?$")
    time_scale: float = Field(default=1.0, gt=0)
    fault: Fault = ""
    wandb_url: str = ""
    wandb_target: str = Field(default="", pattern=r"^$|^[0-9a-fA-F.:]+:\d+$")  # the stand-in's target `<ip>:<port>`
    aws_region: str = "us-east-1"
    license_provided: bool = False
    tf_variables: frozenset[str] = frozenset()  # names given as TF_VAR_<name> (values never read)
    who: str = "unknown@localhost"
    faults_file: Path | None = None
    emulate_eks: bool = False  # WBD_SANDBOX_EMULATE_EKS=1: the EKS plan-shape emulation (eks.py)
    emulate_database: bool = False  # WBD_SANDBOX_EMULATE_DATABASE=1: the Aurora cluster (database.py)


def _who() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


@cache
def read_environment() -> EmulationEnvironment:
    """Validate the emulation's environment variables once per process."""
    values: dict[str, Any] = {
        "terraform_version": os.environ.get("WBD_TERRAFORM_VERSION") or DEFAULT_TERRAFORM_VERSION,
        "time_scale": os.environ.get("WBD_SANDBOX_TIME_SCALE") or 1.0,
        "fault": os.environ.get("WBD_SANDBOX_FAULT_TERRAFORM", "").strip(),
        "wandb_url": os.environ.get("WBD_SANDBOX_WANDB_URL", ""),
        "wandb_target": os.environ.get("WBD_SANDBOX_WANDB_TARGET", ""),
        "aws_region": os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        "license_provided": "TF_VAR_license" in os.environ,
        "tf_variables": frozenset(name.removeprefix("TF_VAR_") for name in os.environ if name.startswith("TF_VAR_")),
        "who": _who(),
        "faults_file": os.environ.get("WBD_SANDBOX_FAULTS_FILE") or None,
        "emulate_eks": os.environ.get("WBD_SANDBOX_EMULATE_EKS", "") == "1",
        "emulate_database": os.environ.get("WBD_SANDBOX_EMULATE_DATABASE", "") == "1",
    }
    try:
        return EmulationEnvironment.model_validate(values)
    except ValidationError as exc:
        names = ", ".join(".".join(str(part) for part in error["loc"]) for error in exc.errors())
        raise InvalidEnvironmentError(f"invalid value for: {names}") from exc


_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, s3={"addressing_style": "path"})


@cache
def emulator_client(service: str, region: str) -> Any:
    """A cached boto3 client for the AWS emulator (path-style S3 so a 127.0.0.1 endpoint works)."""
    return boto3.client(service, region_name=region, config=_CONFIG)


def clear_caches() -> None:
    """Forget the environment and the clients (tests run several commands in one process)."""
    read_environment.cache_clear()
    emulator_client.cache_clear()
