"""Where a `wbd` command talks to AWS: the region and profile it resolved, its clients, and the deployer's directory.

Every command that uses AWS gets `--region` and `--profile` (see `command.py`) and resolves them here, once, before
it runs: `--region`, else AWS_REGION (what Lambda and the other AWS SDKs read; botocore alone ignores it), else
AWS_DEFAULT_REGION or the profile's region. Its clients come from its own boto3 session, so a command never changes
the process's default session (the sandbox runs its handlers in this process). AWS_ENDPOINT_URL (the sandbox) is
honoured by boto3 itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from pydantic import BaseModel, ConfigDict, ValidationError

from wbd.cli.errors import CliError, ExitCode

# Standard retries; the number of attempts is botocore's default (3) unless AWS_MAX_ATTEMPTS says otherwise.
_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=30)
DEFAULT_PREFIX = "/wandb-deployer"
NO_REGION = "no region: set AWS_REGION or pass --region"
NO_CREDENTIALS = (
    "no AWS credentials: set AWS_PROFILE (or pass --profile), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
)


class DeployerDirectory(BaseModel):
    """Where the deployer's resources are: the stack writes them to one SSM parameter (`<prefix>-stack`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    artifacts_bucket: str
    state_bucket: str
    deployments_table: str
    deploy_state_machine_arn: str
    drift_state_machine_arn: str = ""
    event_bus_name: str
    notifications_topic_arn: str = ""
    codebuild_project_name: str = ""
    parameter_prefix: str = DEFAULT_PREFIX


@dataclass
class AwsContext:
    """The AWS side of one command: its session (region, profile), clients and the deployer's directory."""

    session: Any
    prefix: str = DEFAULT_PREFIX
    _clients: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    _directory: DeployerDirectory | None = None
    _missing: bool = False

    @property
    def region(self) -> str:
        return str(self.session.region_name)

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self.session.client(service, region_name=region or self.region, config=_CONFIG)
        return self._clients[key]

    def directory_if_deployed(self) -> DeployerDirectory | None:
        """The directory, or None where the deployer is not deployed (SSM alone still takes a config push)."""
        try:
            return self.directory
        except CliError:
            if self._directory is None and self._missing:
                return None
            raise

    @property
    def directory(self) -> DeployerDirectory:
        """`<prefix>-stack`; a one-line error when the deployer is not deployed where this command points."""
        if self._directory is None:
            name = f"{self.prefix.rstrip('/')}-stack"
            try:
                value = self.client("ssm").get_parameter(Name=name)["Parameter"]["Value"]
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                    raise
                self._missing = True
                raise CliError(
                    f"wandb-deployer is not deployed in {self.region}: {name} does not exist (deploy it with "
                    "`sam deploy`, pass --region/--prefix, or point AWS_ENDPOINT_URL at a running sandbox)",
                    ExitCode.USAGE,
                ) from exc
            try:
                self._directory = DeployerDirectory.model_validate(json.loads(value))
            except (ValidationError, ValueError) as exc:
                raise CliError(f"{name} is not the deployer's directory (a JSON document of its resources)") from exc
        return self._directory


_CURRENT: ContextVar[AwsContext | None] = ContextVar("wbd_aws_context", default=None)


def current() -> AwsContext:
    context = _CURRENT.get()
    if context is None:  # a programming error: the command was not registered with `command(..., aws=True)`
        raise RuntimeError("this command has no AWS context")
    return context


def client(service: str, region: str | None = None) -> Any:
    """A client of the running command's session (the same signature as `wandb_deployer.aws_clients.client`)."""
    return current().client(service, region)


def resolve_session(region: str | None, profile: str | None) -> Any:
    """A boto3 session for `--region`/`--profile`; CliError (one line, exit 2) without a region or credentials."""
    try:
        session = boto3.Session(profile_name=profile or None)
    except ProfileNotFound as exc:
        raise CliError(f"AWS profile {profile!r} not found (aws configure list-profiles)", ExitCode.USAGE) from exc
    chosen = region or os.environ.get("AWS_REGION") or session.region_name
    if not chosen:
        raise CliError(NO_REGION, ExitCode.USAGE)
    session = boto3.Session(profile_name=profile or None, region_name=chosen)
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise CliError(f"AWS credentials could not be loaded: {_first_line(exc)}", ExitCode.USAGE) from exc
    if credentials is None:
        raise CliError(NO_CREDENTIALS, ExitCode.USAGE)
    return session


@contextmanager
def aws_context(region: str | None, profile: str | None, prefix: str) -> Iterator[AwsContext]:
    context = AwsContext(session=resolve_session(region, profile), prefix=prefix.rstrip("/") or DEFAULT_PREFIX)
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current_exc: BaseException | None = exc
    while current_exc is not None and id(current_exc) not in seen:
        seen.add(id(current_exc))
        yield current_exc
        current_exc = current_exc.__cause__ or current_exc.__context__


def aws_problem(exc: BaseException) -> str | None:
    """One line for an AWS failure anywhere in `exc`'s chain (None when it is not one)."""
    for link in _chain(exc):
        if isinstance(link, NoCredentialsError | PartialCredentialsError):
            return NO_CREDENTIALS
        if isinstance(link, NoRegionError):
            return NO_REGION
        if isinstance(link, EndpointConnectionError | ConnectTimeoutError | ConnectionClosedError | ReadTimeoutError):
            endpoint = getattr(link, "kwargs", {}).get("endpoint_url") or "the AWS endpoint"
            return f"cannot reach {endpoint}: check the network, the region or AWS_ENDPOINT_URL"
        if isinstance(link, ClientError):
            error = link.response.get("Error", {})
            code = str(error.get("Code", "Unknown"))
            operation = getattr(link, "operation_name", "a call")
            if code in {"UnrecognizedClientException", "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException"}:
                return f"AWS rejected the credentials ({code}): refresh them (aws sso login, or new keys)"
            # Only the code: AWS's message may quote a request's values (a secret, for PutParameter).
            return f"AWS refused {operation}: {code}"
        if isinstance(link, BotoCoreError):
            return f"AWS SDK error: {_first_line(link)}"
    return None
