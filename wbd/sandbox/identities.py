"""Who calls the emulator: every request the sandbox makes is signed by the identity AWS would use.

- The operator (the process itself: tests, `wbd`, the AWS CLI through `wbd sandbox up`): an IAM user with
  AdministratorAccess, `wbd-sandbox-operator`, with an access key of its own.
- A Lambda handler: its function's role, assumed as the Lambda service assumes it (session = the function's name);
  the router runs the handler with `acting_as(...)`.
- Step Functions' interpreter: the state machine's role (it calls Lambda and CodeBuild with it).
- A CodeBuild build: its service role (StartBuild's serviceRoleOverride, else the project's), in the build's
  environment and for what CodeBuild itself does with it (source download, PARAMETER_STORE, logs).
- EventBridge Scheduler: the schedule's target role, to start the state machine.

A role is assumed through STS's backend, as the AWS service principal in its trust policy would (no caller identity is
involved, so no user needs sts:AssumeRole on it). `acting_as` sets the identity for the current thread: a patch of
botocore's request signer signs every request of that thread with it, whichever (cached) client sends it.
"""

from __future__ import annotations

import importlib
import json
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cache
from typing import Any
from unittest.mock import patch

import boto3
from botocore.credentials import Credentials
from botocore.signers import RequestSigner
from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy, iam_backends
from moto.sts.models import sts_backends

OPERATOR_USER = "wbd-sandbox-operator"
_STATE_TASK = "moto.stepfunctions.parser.asl.component.state.exec.state_task"
# Every module of moto's interpreter that calls a service (each imports `boto_client_for` by name).
_INTERPRETER_MODULES = (
    f"{_STATE_TASK}.lambda_eval_utils",
    *(
        f"{_STATE_TASK}.service.state_task_service_{name}"
        for name in ("aws_sdk", "batch", "dynamodb", "ecs", "events", "glue", "sfn", "sns", "sqs", "unsupported")
    ),
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    "moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "wbd.sandbox.codebuild_task",
)
ADMINISTRATOR_ACCESS = "arn:aws:iam::aws:policy/AdministratorAccess"
_local = threading.local()


@dataclass(frozen=True)
class Identity:
    """An access key the emulator knows (an IAM user's, or a role session's with its token)."""

    arn: str
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def credentials(self) -> Credentials:
        return Credentials(self.access_key_id, self.secret_access_key, self.session_token)

    def environment(self) -> dict[str, str]:
        """The AWS_* variables a process (a build) uses to act as this identity."""
        variables = {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}
        if self.session_token:
            variables["AWS_SESSION_TOKEN"] = self.session_token
            variables["AWS_SECURITY_TOKEN"] = self.session_token
        return variables


def current_identity() -> Identity | None:
    identity: Identity | None = getattr(_local, "identity", None)
    return identity


@contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    """Sign every request of this thread with `identity` for the block (None: the client's own credentials)."""
    previous = current_identity()
    _local.identity = identity
    try:
        yield
    finally:
        _local.identity = previous


@cache
def _aws_managed_policy_documents() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(aws_managed_policies_data)
    return parsed


class IdentityBroker:
    """The operator's identity and every role session the sandbox hands out, for one account of the emulator."""

    def __init__(self, account_id: str, region: str) -> None:
        self.account_id = account_id
        self.region = region
        self.operator: Identity | None = None
        self._sessions: dict[str, Identity] = {}
        self._lock = threading.Lock()

    def create_operator(self) -> Identity:
        """The operator user with AdministratorAccess and its access key (made in IAM's backend directly)."""
        backend = iam_backends[self.account_id]["aws"]
        self.ensure_aws_managed_policies([ADMINISTRATOR_ACCESS])
        user = backend.create_user(self.region, OPERATOR_USER, path="/", tags=None)
        backend.attach_user_policy(ADMINISTRATOR_ACCESS, OPERATOR_USER)
        key = backend.create_access_key(OPERATOR_USER)
        self.operator = Identity(user.arn, key.access_key_id, key.secret_access_key)
        return self.operator

    def ensure_aws_managed_policies(self, arns: list[str]) -> None:
        """Make the AWS managed policies among `arns` known to IAM (moto loads all of them only on request, slowly)."""
        backend = iam_backends[self.account_id]["aws"]
        documents = _aws_managed_policy_documents()
        for arn in arns:
            name = arn.rsplit("/", 1)[-1]
            if arn.startswith("arn:aws:iam::aws:policy/") and arn not in backend.managed_policies and name in documents:
                policy = AWSManagedPolicy.from_data(name, self.account_id, self.region, documents[name])
                backend.managed_policies[policy.arn] = policy

    def role_session(self, role_arn: str, session_name: str | None = None) -> Identity:
        """A session of the role, assumed once per role and reused (the emulator does not expire it)."""
        with self._lock:
            found = self._sessions.get(role_arn)
            if found is not None:
                return found
            name = (session_name or f"wbd-sandbox-{uuid.uuid4().hex[:8]}")[:64]
            assumed = sts_backends[self.account_id]["aws"].assume_role(
                region_name=self.region,
                role_session_name=name,
                role_arn=role_arn,
                policy="",
                duration=43200,
                external_id="",
            )
            identity = Identity(assumed.arn, assumed.access_key_id, assumed.secret_access_key, assumed.session_token)
            self._sessions[role_arn] = identity
            return identity

    def sessions(self) -> dict[str, Identity]:
        with self._lock:
            return dict(self._sessions)


def install_thread_signing(patches: ExitStack) -> None:
    """Requests of a thread acting as an identity are signed with its credentials (see the module docstring)."""
    original = RequestSigner.get_auth_instance

    def get_auth_instance(
        signer: RequestSigner,
        signing_name: str,
        region_name: str,
        signature_version: str | None = None,
        request_credentials: Any = None,
        **kwargs: Any,
    ) -> Any:
        identity = current_identity()
        if identity is not None and request_credentials is None:
            request_credentials = identity.credentials()
        return original(signer, signing_name, region_name, signature_version, request_credentials, **kwargs)

    patches.enter_context(patch.object(RequestSigner, "get_auth_instance", get_auth_instance))


def install_interpreter_identities(patches: ExitStack, identities: IdentityBroker) -> None:
    """moto's Step Functions interpreter calls services with fixed fake keys; here it calls them with a session of
    the state machine's role (or of a Task's `Credentials.RoleArn`), as Step Functions does."""
    from moto.stepfunctions.parser.asl.utils import boto_client as boto_client_module

    original = boto_client_module.boto_client_for

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        client = original(region=region, service=service, state_credentials=state_credentials)
        role_arn = getattr(state_credentials, "role_arn", None)
        if not role_arn:
            return client
        identity = identities.role_session(str(role_arn), session_name="StepFunctions")
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=client.meta.endpoint_url,
            aws_access_key_id=identity.access_key_id,
            aws_secret_access_key=identity.secret_access_key,
            aws_session_token=identity.session_token,
            config=client.meta.config,
        )

    for name in _INTERPRETER_MODULES:
        importlib.import_module(name)
    modules = [
        module
        for name, module in list(sys.modules.items())
        if (name.startswith("moto.stepfunctions.parser") or name.startswith("wbd.sandbox"))
        and getattr(module, "boto_client_for", None) is original
    ]
    for module in modules:
        patches.enter_context(patch.object(module, "boto_client_for", boto_client_for))
