"""EventBridge behaviour moto lacks: SSM change events, delivery to Lambda and Step Functions targets, schedules.

- After PutParameter / DeleteParameter(s) / LabelParameterVersion the sandbox puts AWS's `aws.ssm` /
  `Parameter Store Change` event on the default bus (detail: operation Create|Update|Delete|LabelParameterVersion,
  name, type, description), once provisioning is done (`ssm_events_enabled`).
- Rules deliver matching events (moto's own pattern matching) to Lambda targets (asynchronous invoke through the
  in-process router) and Step Functions targets (StartExecution with the target's role, when it names one, as
  EventBridge and Scheduler do), honouring the target's Input / InputPath / InputTransformer; other target kinds stay
  with moto. Disabled rules deliver nothing.
- `fire_rule_schedule` / `fire_scheduler_schedule` deliver a schedule's invocation now.
- A state machine that starts another (`arn:aws:states:::states:startExecution`, as the drift check starts a
  remediation run) works as on AWS: moto's interpreter hands the ASL's PascalCase parameters to boto unchanged and
  returns boto's camelCase; the sandbox maps both with the botocore model, as the interpreter does for other services.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast
from unittest.mock import patch

import botocore.session
from botocore.model import OperationModel
from jsonpath_ng.ext import parse as jsonpath  # type: ignore[attr-defined]
from moto.events.models import EventsBackend, Rule, events_backends
from moto.events.utils import EventTemplateParser
from moto.ssm.exceptions import ParameterNotFound
from moto.ssm.models import SimpleSystemManagerBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
    StateTaskServiceSfn,
)
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from wbd.sandbox.emulator import emulator_client
from wbd.sandbox.identities import IdentityBroker, acting_as
from wbd.sandbox.lambda_router import LambdaRouter

LOGGER = logging.getLogger(__name__)
_DELIVERED_SERVICES = ("lambda", "states")


def iso_time(value: Any) -> str:
    """EventBridge's `time` format (moto puts a unix timestamp there)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What EventBridge sends to a target: Input, InputPath, InputTransformer, or the whole event."""
    if target.get("Input") is not None:
        raw = target["Input"]
        return json.loads(raw) if isinstance(raw, str) else raw
    if target.get("InputPath"):
        matches = jsonpath(target["InputPath"]).find(event)
        return matches[0].value if matches else None
    transformer = target.get("InputTransformer")
    if transformer:
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=cast(Any, event),
        )
    return event


class EventDelivery:
    """Delivers events and schedules to the stack's Lambda functions and state machines."""

    def __init__(self, router: LambdaRouter, region: str, account_id: str, identities: IdentityBroker) -> None:
        self.router = router
        self.identities = identities
        self.region = region
        self.account_id = account_id
        self.ssm_events_enabled = False
        self.deliveries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    # -- patches -------------------------------------------------------------------------------------------------
    def install(self, patches: ExitStack) -> None:
        delivery = self
        original_send = Rule.send_to_targets

        def send_to_targets(rule: Rule, original_event: dict[str, Any], transform_input: bool = True) -> None:
            if rule.state != "ENABLED" or not rule.event_pattern.get_pattern():
                return  # disabled, or a schedule-only rule (moto would match every event against its empty pattern)
            event = copy.deepcopy(original_event)
            event["time"] = iso_time(event.get("time"))
            event.pop("ingestion-time", None)
            if not rule.event_pattern.matches_event(cast(Any, event)):
                return
            others = [target for target in rule.targets if target["Arn"].split(":")[2] not in _DELIVERED_SERVICES]
            for target in rule.targets:
                if target["Arn"].split(":")[2] in _DELIVERED_SERVICES:
                    delivery.deliver(target, target_input(target, event), origin=rule.name)
            if others:
                clone = copy.copy(rule)
                clone.targets = others
                original_send(clone, cast(Any, original_event), transform_input)

        patches.enter_context(patch.object(Rule, "send_to_targets", send_to_targets))
        self._install_ssm(patches)
        install_start_execution_integration(patches)

    def _install_ssm(self, patches: ExitStack) -> None:
        delivery = self
        original_put = SimpleSystemManagerBackend.put_parameter
        original_delete = SimpleSystemManagerBackend.delete_parameter
        original_delete_many = SimpleSystemManagerBackend.delete_parameters
        original_label = SimpleSystemManagerBackend.label_parameter_version

        def put_parameter(backend: SimpleSystemManagerBackend, name: str, *args: Any, **kwargs: Any) -> Any:
            existed = _parameter(backend, name) is not None
            result = original_put(backend, name, *args, **kwargs)
            delivery.parameter_changed(backend, name, "Update" if existed else "Create")
            return result

        def delete_parameter(backend: SimpleSystemManagerBackend, name: str) -> None:
            before = _parameter(backend, name)
            original_delete(backend, name)
            delivery.parameter_changed(backend, name, "Delete", before)

        def delete_parameters(backend: SimpleSystemManagerBackend, names: list[str]) -> list[str]:
            before = {name: _parameter(backend, name) for name in names}
            deleted = original_delete_many(backend, names)
            for name in deleted:
                delivery.parameter_changed(backend, name, "Delete", before.get(name))
            return deleted

        def label_parameter_version(backend: SimpleSystemManagerBackend, name: str, *args: Any, **kwargs: Any) -> Any:
            result = original_label(backend, name, *args, **kwargs)
            delivery.parameter_changed(backend, name, "LabelParameterVersion")
            return result

        for attribute, replacement in (
            ("put_parameter", put_parameter),
            ("delete_parameter", delete_parameter),
            ("delete_parameters", delete_parameters),
            ("label_parameter_version", label_parameter_version),
        ):
            patches.enter_context(patch.object(SimpleSystemManagerBackend, attribute, replacement))

    # -- events --------------------------------------------------------------------------------------------------
    def parameter_changed(
        self, backend: SimpleSystemManagerBackend, name: str, operation: str, before: Any = None
    ) -> None:
        """Put AWS's Parameter Store Change event for `name` on the default bus (never the value)."""
        if not self.ssm_events_enabled:
            return
        parameter = before if before is not None else _parameter(backend, name)
        detail = {
            "operation": operation,
            "name": name,
            "type": getattr(parameter, "parameter_type", "String"),
            "description": getattr(parameter, "description", None) or "",
        }
        arn = f"arn:aws:ssm:{backend.region_name}:{backend.account_id}:parameter/{name.lstrip('/')}"
        self.events_backend().put_events(
            [
                {
                    "Source": "aws.ssm",
                    "DetailType": "Parameter Store Change",
                    "Detail": json.dumps(detail),
                    "Resources": [arn],
                }
            ]
        )
        LOGGER.info("parameter change event put", extra={"parameter": name, "operation": operation})

    def events_backend(self) -> EventsBackend:
        return events_backends[self.account_id][self.region]

    def deliver(self, target: dict[str, Any], payload: Any, origin: str) -> str | None:
        """Send `payload` to a Lambda (async) or Step Functions (StartExecution) target; returns the execution ARN."""
        arn = str(target["Arn"])
        service = arn.split(":")[2]
        record: dict[str, Any] = {"origin": origin, "target": arn}
        if service == "states" and target.get("RoleArn"):
            # EventBridge and Scheduler start a state machine with the target's role, as on AWS.
            with acting_as(self.identities.role_session(str(target["RoleArn"]), session_name="events")):
                started = emulator_client("stepfunctions").start_execution(
                    stateMachineArn=arn, name=str(uuid.uuid4()), input=json.dumps(payload)
                )
            record["execution_arn"] = started["executionArn"]
        elif service == "states":
            backend = stepfunctions_parser_backends[self.account_id][arn.split(":")[3]]
            execution = backend.start_execution(arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload))
            record["execution_arn"] = execution.execution_arn
        elif service == "lambda" and target.get("RoleArn"):
            # EventBridge Scheduler invokes a function with the schedule's role (an EventBridge rule needs none: the
            # function's resource policy allows it), asynchronously.
            with acting_as(self.identities.role_session(str(target["RoleArn"]), session_name="scheduler")):
                emulator_client("lambda").invoke(
                    FunctionName=arn, InvocationType="Event", Payload=json.dumps(payload).encode()
                )
        elif service == "lambda":
            name = arn.split(":")[6]
            spec = self.router.functions.get(name)
            if spec is None:
                LOGGER.warning("event target is not a sandbox function", extra={"target": arn})
                return None
            thread = threading.Thread(
                target=self.router.run, args=(spec, payload), name=f"wbd-event-{spec.logical_id}", daemon=True
            )
            self.router.track(thread)
            thread.start()
        with self._lock:
            self.deliveries.append(record)
        LOGGER.info("event delivered", extra=record)
        return record.get("execution_arn")

    def fire_rule_schedule(self, rule_name: str, bus: str | None) -> list[str]:
        """Deliver a scheduled rule's `Scheduled Event` to its targets now; returns started execution ARNs."""
        rule = self.events_backend().describe_rule(rule_name, bus)
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account_id,
            "time": iso_time(datetime.now(tz=UTC).timestamp()),
            "region": self.region,
            "resources": [rule.arn],
            "detail": {},
        }
        started = [self.deliver(target, target_input(target, event), origin=rule_name) for target in rule.targets]
        return [arn for arn in started if arn]

    def fire_scheduler_schedule(self, name: str, target: dict[str, Any]) -> list[str]:
        """Deliver an EventBridge Scheduler schedule's target invocation now."""
        raw = target.get("Input")
        payload = (json.loads(raw) if isinstance(raw, str) else raw) if raw is not None else {}
        started = self.deliver(target, payload, origin=name)
        return [started] if started else []


@cache
def _stepfunctions_operation(name: str) -> OperationModel:
    return botocore.session.get_session().get_service_model("stepfunctions").operation_model(name)


def _operation_name(service: StateTaskServiceSfn, service_action_name: str | None) -> str:
    """`StartExecution` from the resource's `startExecution` (or from a snake_case action the interpreter names)."""
    action = service_action_name or service.resource.api_action
    return "".join(part[:1].upper() + part[1:] for part in action.split("_"))


def install_start_execution_integration(patches: ExitStack) -> None:
    """Map the `states:` integration's parameters to boto's names and its responses back to the ASL's names."""
    original_parameters = StateTaskServiceSfn._normalise_parameters
    original_response = StateTaskServiceSfn._normalise_response

    def normalise_parameters(
        service: StateTaskServiceSfn,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original_parameters(service, parameters, boto_service_name, service_action_name)
        shape = _stepfunctions_operation(_operation_name(service, service_action_name)).input_shape
        if shape is not None:
            service._to_boto_request(parameters, cast(Any, shape))

    def normalise_response(
        service: StateTaskServiceSfn,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        original_response(service, response, boto_service_name, service_action_name)
        shape = _stepfunctions_operation(_operation_name(service, service_action_name)).output_shape
        if shape is not None:
            service._from_boto_response(response, cast(Any, shape))

    patches.enter_context(patch.object(StateTaskServiceSfn, "_normalise_parameters", normalise_parameters))
    patches.enter_context(patch.object(StateTaskServiceSfn, "_normalise_response", normalise_response))


def _parameter(backend: SimpleSystemManagerBackend, name: str) -> Any:
    try:
        return backend.get_parameter(name)
    except ParameterNotFound:
        return None
