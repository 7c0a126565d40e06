"""`arn:aws:states:::codebuild:<action>[.sync]` for moto's Step Functions interpreter, and moto's CodeBuild API
answered by the sandbox's build runner.

moto lists codebuild among its unsupported optimised integrations; the sandbox registers `StateTaskServiceCodeBuild`
in the interpreter's factory. Parameters are PascalCase in the ASL and mapped to the API's camelCase with botocore's
service model; outputs come back PascalCase (`{"Build": {"Id": ..., "BuildStatus": ...}}`), as on AWS.
`startBuild.sync` polls BatchGetBuilds until the build is terminal: SUCCEEDED returns `{"Build": {...}}`; FAILED,
FAULT, TIMED_OUT or STOPPED fail the task with `States.TaskFailed` and the JSON `{"Build": {...}}` as the cause.
A failing API call (e.g. unknown project) fails the task with `CodeBuild.AWSCodeBuildException`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import cache
from typing import Any, cast
from unittest.mock import patch

import botocore.session
from botocore.exceptions import ClientError
from botocore.model import ServiceModel, StructureShape
from moto.codebuild.exceptions import ResourceNotFoundException
from moto.codebuild.models import CodeBuildBackend
from moto.codebuild.responses import CodeBuildResponse
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent, FailureEventException
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_factory
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
    ResourceCondition,
    ResourceRuntimePart,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_callback import (
    StateTaskServiceCallback,
)
from moto.stepfunctions.parser.asl.eval.environment import Environment
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for
from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

from wbd.sandbox.codebuild import TERMINAL, BuildRunner

CODEBUILD_API_ERROR = "CodeBuild.AWSCodeBuildException"
_FAILED_STATUSES = ("FAILED", "FAULT", "TIMED_OUT", "STOPPED")


@cache
def _model() -> ServiceModel:
    return botocore.session.get_session().get_service_model("codebuild")


def _details(**details: Any) -> Any:
    """moto's EventDetails TypedDict lists every event kind as required; a failure carries exactly one."""
    return EventDetails(**details)  # type: ignore[typeddict-item]


def _client_error_cause(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Message', '')} (Service: AWSCodeBuild; Error Code: {details.get('Code')})"


def _operation_name(action: str) -> str:
    return action[0].upper() + action[1:]


class StateTaskServiceCodeBuild(StateTaskServiceCallback):
    """The CodeBuild optimised integration: request-response for every action, `.sync` for startBuild."""

    def __init__(self) -> None:
        super().__init__(
            supported_integration_patterns=cast(Any, {ResourceCondition.Sync, ResourceCondition.WaitForTaskToken})
        )

    def _get_supported_parameters(self) -> set[str] | None:
        operation = _operation_name(self.resource.api_action)
        if operation not in _model().operation_names:
            return None
        shape = _model().operation_model(operation).input_shape
        return {name[0].upper() + name[1:] for name in shape.members} if shape else set()

    def _normalise_parameters(
        self, parameters: dict[str, Any], boto_service_name: str | None = None, service_action_name: str | None = None
    ) -> None:
        shape = _model().operation_model(_operation_name(self.resource.api_action)).input_shape
        if isinstance(shape, StructureShape):
            self._to_boto_request(parameters, shape)

    def _from_error(self, env: Environment, ex: Exception) -> FailureEvent:
        if isinstance(ex, ClientError):
            return FailureEvent(
                env=env,
                error_name=CustomErrorName(CODEBUILD_API_ERROR),
                event_type=HistoryEventType.TaskFailed,
                event_details=_details(
                    taskFailedEventDetails=TaskFailedEventDetails(
                        error=CODEBUILD_API_ERROR,
                        cause=_client_error_cause(ex),
                        resource=self._get_sfn_resource(),
                        resourceType=self._get_sfn_resource_type(),
                    )
                ),
            )
        return super()._from_error(env=env, ex=ex)

    def _eval_service_task(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> None:
        client = boto_client_for(
            region=resource_runtime_part.region, service="codebuild", state_credentials=state_credentials
        )
        operation = _operation_name(self.resource.api_action)
        response = getattr(client, self._get_boto_service_action())(**normalised_parameters)
        response.pop("ResponseMetadata", None)
        output_shape = _model().operation_model(operation).output_shape
        if isinstance(output_shape, StructureShape):
            self._from_boto_response(response, output_shape)
        env.stack.append(response)

    def _build_sync_resolver(
        self,
        env: Environment,
        resource_runtime_part: ResourceRuntimePart,
        normalised_parameters: dict[str, Any],
        state_credentials: StateCredentials,
    ) -> Callable[[], Any]:
        if _operation_name(self.resource.api_action) != "StartBuild":
            raise RuntimeError(f"Unsupported .sync callback procedure in resource {self.resource.resource_arn}")
        client = boto_client_for(
            region=resource_runtime_part.region, service="codebuild", state_credentials=state_credentials
        )
        build_id = env.stack.pop()["Build"]["Id"]
        build_shape = _model().operation_model("BatchGetBuilds").output_shape.members["builds"].member

        def resolve() -> Any:
            builds = client.batch_get_builds(ids=[build_id])["builds"]
            if not builds or builds[0]["buildStatus"] not in TERMINAL:
                if not env.is_running():
                    client.stop_build(id=build_id)
                return None
            build = builds[0]
            self._from_boto_response(build, build_shape)
            output = {"Build": build}
            if build["BuildStatus"] in _FAILED_STATUSES:
                raise FailureEventException(
                    FailureEvent(
                        env=env,
                        error_name=StatesErrorName(typ=StatesErrorNameType.StatesTaskFailed),
                        event_type=HistoryEventType.TaskFailed,
                        event_details=_details(
                            taskFailedEventDetails=TaskFailedEventDetails(
                                resource=self._get_sfn_resource(),
                                resourceType=self._get_sfn_resource_type(),
                                error=StatesErrorNameType.StatesTaskFailed.to_name(),
                                cause=to_json_str(output),
                            )
                        ),
                    )
                )
            return output

        return resolve


def install_codebuild(patches: ExitStack, runner: BuildRunner) -> None:
    """Register the integration in the interpreter and route moto's CodeBuild build API to `runner`."""
    original_factory = state_task_service_factory.state_task_service_for

    def state_task_service_for(service_name: str) -> StateTaskService:
        if service_name == "codebuild":
            return StateTaskServiceCodeBuild()
        return original_factory(service_name)

    patches.enter_context(patch.object(state_task_factory, "state_task_service_for", state_task_service_for))
    patches.enter_context(patch.object(state_task_service_factory, "state_task_service_for", state_task_service_for))

    def start_build(response: CodeBuildResponse) -> ActionResult:
        backend = response.codebuild_backend
        name = response._get_param("projectName")
        project = backend.codebuild_projects.get(name)
        if project is None:
            arn = f"arn:aws:codebuild:{response.region}:{response.current_account}:project/{name}"
            raise ResourceNotFoundException(f"Project cannot be found: {arn}")
        request = {
            key: response._get_param(key)
            for key in (
                "sourceTypeOverride",
                "sourceLocationOverride",
                "buildspecOverride",
                "environmentVariablesOverride",
                "timeoutInMinutesOverride",
                "sourceVersion",
                "serviceRoleOverride",
            )
        }
        record = runner.start(project.project_metadata, request)
        backend.build_history.setdefault(name, []).append(record.id)
        return ActionResult({"build": record.to_build()})

    original_batch_get = CodeBuildBackend.batch_get_builds
    original_stop = CodeBuildBackend.stop_build

    def batch_get_builds(backend: CodeBuildBackend, ids: list[str]) -> list[dict[str, Any]]:
        ours = [runner.builds[build_id].to_build() for build_id in ids if build_id in runner.builds]
        others = [build_id for build_id in ids if build_id not in runner.builds]
        return ours + (original_batch_get(backend, others) if others else [])

    def stop_build(backend: CodeBuildBackend, build_id: str) -> dict[str, Any] | None:
        if build_id in runner.builds:
            return runner.stop(build_id).to_build()
        return original_stop(backend, build_id)

    patches.enter_context(patch.object(CodeBuildResponse, "start_build", start_build))
    patches.enter_context(patch.object(CodeBuildBackend, "batch_get_builds", batch_get_builds))
    patches.enter_context(patch.object(CodeBuildBackend, "stop_build", stop_build))
    patches.callback(runner.close)
