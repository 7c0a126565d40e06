"""`Sandbox`: the whole deployer on one machine, on the embedded AWS emulator (moto, pinned).

    with Sandbox(repo_root) as sandbox:
        emulator_client("ssm").put_parameter(...)          # anything in this process talks to the emulator
        arn = sandbox.executions("DeployStateMachine")[0]["executionArn"]
        sandbox.wait_for_execution(arn, timeout=30)

Only one sandbox runs per process at a time; `stop()` restores os.environ and every patch of moto.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any
from unittest.mock import patch

from moto.core.responses import EmptyResult
from moto.moto_api._internal.models import moto_api_backend
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from wbd.sandbox import iam_enforcement
from wbd.sandbox.codebuild import BuildRecord, BuildRunner
from wbd.sandbox.codebuild_task import install_codebuild
from wbd.sandbox.counters import ApiCounters
from wbd.sandbox.emulator import ACCOUNT_ID, Emulator, emulator_client
from wbd.sandbox.errors import (
    ExecutionWaitTimeoutError,
    SandboxAlreadyRunningError,
    SandboxError,
    SandboxNotRunningError,
    UnknownResourceError,
)
from wbd.sandbox.events import EventDelivery
from wbd.sandbox.faults import Faults
from wbd.sandbox.hosted_zones import EXAMPLE_ZONES, provide_hosted_zone
from wbd.sandbox.iam_report import record_iam_run
from wbd.sandbox.identities import IdentityBroker, install_interpreter_identities, install_thread_signing
from wbd.sandbox.lambda_router import LambdaRouter
from wbd.sandbox.provisioning import Stack
from wbd.sandbox.queue_metrics import install_queue_metrics
from wbd.sandbox.stack_records import ProvisionedResource
from wbd.sandbox.target_health import install_target_health_checks
from wbd.sandbox.template import load_template
from wbd.sandbox.time_compression import install_time_compression

LOGGER = logging.getLogger(__name__)
_ACTIVE_LOCK = threading.Lock()
_ACTIVE: list[Sandbox] = []
_TERMINAL_EXECUTION = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class Counters:
    """Emulator API calls by service/operation, and state transitions per execution."""

    def __init__(self, api: ApiCounters, history: Callable[[str], list[dict[str, Any]]]) -> None:
        self.api = api
        self._history = history

    def api_calls(self) -> dict[str, dict[str, int]]:
        return self.api.snapshot()

    def total_api_calls(self, service: str | None = None) -> int:
        return self.api.total(service)

    def state_transitions(self, execution_arn: str) -> int:
        """States entered by an execution (what AWS bills as state transitions, retries aside)."""
        return sum(1 for event in self._history(execution_arn) if event["type"].endswith("StateEntered"))

    def reset(self) -> None:
        self.api.reset()


class Sandbox:
    """The template's resources, state machines and handlers running against moto in this process."""

    def __init__(
        self,
        repo_root: Path,
        work_dir: Path | None = None,
        time_scale: float = 100.0,
        parameters: dict[str, str] | None = None,
        *,
        template: str = "template.yaml",
        stack_name: str = "wandb-deployer-sandbox",
        region: str = "us-east-1",
        bin_dir: Path | None = None,
        build_environment: dict[str, str] | None = None,
    ) -> None:
        self.repo_root = Path(repo_root).resolve()
        self.template_path = self.repo_root / template
        self.time_scale = time_scale
        self.parameters = dict(parameters or {})
        self.stack_name = stack_name
        self.region = region
        self.build_environment = dict(build_environment or {})
        self._given_work_dir = work_dir
        self._given_bin_dir = bin_dir
        self.work_dir = Path(work_dir) if work_dir else Path()
        self.emulator = Emulator(region=region)
        self._patches = ExitStack()
        self._stack: Stack | None = None
        self._runner: BuildRunner | None = None
        self._delivery: EventDelivery | None = None
        self._router: LambdaRouter | None = None
        self.faults: Faults
        self.identities: IdentityBroker | None = None
        self.ledger = iam_enforcement.Ledger()
        self.counters = Counters(self.emulator.counters, self.history)

    # -- lifecycle -----------------------------------------------------------------------------------------------
    def __enter__(self) -> Sandbox:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def bin_dir(self) -> Path:
        """Directory put first on PATH of every build (the lead installs the terraform emulation here)."""
        return self._given_bin_dir or self.work_dir / "bin"

    def start(self) -> None:
        with _ACTIVE_LOCK:
            if _ACTIVE:
                raise SandboxAlreadyRunningError("a sandbox is already running in this process; stop it first")
            _ACTIVE.append(self)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.work_dir = Path(self._given_work_dir or tempfile.mkdtemp(prefix="wbd-sandbox-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.bin_dir.mkdir(parents=True, exist_ok=True)
        template = load_template(
            self.template_path, self.parameters, region=self.region, account_id=ACCOUNT_ID, stack_name=self.stack_name
        )
        moto_api_backend.reset()
        self.emulator.start()
        identities = IdentityBroker(ACCOUNT_ID, self.region)
        self.emulator.use_credentials(identities.create_operator().environment())
        stack = Stack(template, self.stack_name, self.region, ACCOUNT_ID, identities)
        self.faults = Faults(self.work_dir / "faults.json", function_name_of=self._function_name)
        router = LambdaRouter(stack.functions, self.faults, self.work_dir / "logs", identities)
        runner = BuildRunner(
            self.work_dir,
            self.faults,
            self.emulator.environment,
            time_scale=self.time_scale,
            bin_dir=self.bin_dir,
            extra_environment=self.build_environment,
            region=self.region,
            account_id=ACCOUNT_ID,
            identities=identities,
        )
        delivery = EventDelivery(router, self.region, ACCOUNT_ID, identities)
        install_time_compression(self._patches, self.time_scale)
        install_target_health_checks(self._patches)
        install_queue_metrics(self._patches, self.time_scale)
        _install_execution_names(self._patches)
        _install_task_failure_cause(self._patches)
        install_thread_signing(self._patches)
        install_interpreter_identities(self._patches, identities)
        router.install(self._patches)
        install_codebuild(self._patches, runner)
        delivery.install(self._patches)
        self._stack, self._runner, self._delivery, self._router = stack, runner, delivery, router
        self.identities = identities
        stack.provision()
        for zone_id, domain in EXAMPLE_ZONES.items():
            provide_hosted_zone(zone_id, domain)
        # From here on every request is authorized by IAM, as on AWS (see iam_enforcement.py for what moto judges).
        iam_enforcement.install(self._patches, self.ledger)
        delivery.ssm_events_enabled = True
        LOGGER.info("sandbox started", extra={"endpoint_url": self.endpoint_url, "resources": len(stack.records)})

    def stop(self) -> None:
        if self._stack is not None:
            self._stop_running_executions()
            self._record_iam_decisions()
        self._patches.close()
        if self.emulator._server is not None:
            self.emulator.stop()
        moto_api_backend.reset()
        if self._given_work_dir is None and self.work_dir != Path():
            shutil.rmtree(self.work_dir, ignore_errors=True)
        self._stack = self._runner = self._delivery = None
        with _ACTIVE_LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def _stop_running_executions(self) -> None:
        sfn = emulator_client("stepfunctions")
        for machine in sfn.list_state_machines()["stateMachines"]:
            for execution in sfn.list_executions(stateMachineArn=machine["stateMachineArn"], statusFilter="RUNNING")[
                "executions"
            ]:
                sfn.stop_execution(executionArn=execution["executionArn"], error="Sandbox.Stopped")

    def _record_iam_decisions(self) -> None:
        """With WBD_IAM_RECORD_DIR set (`make iam-report`), write this sandbox's roles and IAM decisions there."""
        directory = os.environ.get("WBD_IAM_RECORD_DIR")
        if not directory or self._stack is None:
            return
        record_iam_run(Path(directory), self._stack, self.ledger)

    # -- lookups -------------------------------------------------------------------------------------------------
    @property
    def stack(self) -> Stack:
        if self._stack is None:
            raise SandboxNotRunningError("the sandbox is not running")
        return self._stack

    @property
    def endpoint_url(self) -> str:
        return self.emulator.endpoint_url

    @property
    def environment(self) -> dict[str, str]:
        """Variables another process needs to use this sandbox (AWS CLI, `wbd`): endpoint, region, credentials."""
        return self.emulator.environment

    @property
    def resources(self) -> dict[str, Any]:
        """Logical id -> physical id (Ref value: name, URL or ARN) of every created resource."""
        return {
            logical_id: record.ref for logical_id, record in self.stack.records.items() if record.status == "created"
        }

    @property
    def skipped(self) -> dict[str, str]:
        """Logical id -> type of the resources the sandbox does not emulate."""
        return {
            logical_id: record.type for logical_id, record in self.stack.records.items() if record.status == "skipped"
        }

    def record(self, logical_id: str) -> ProvisionedResource:
        return self.stack.record(logical_id)

    def physical(self, logical_id: str) -> Any:
        return self.stack.record(logical_id).ref

    def attribute(self, logical_id: str, attribute: str) -> Any:
        return self.stack.lookup(logical_id, attribute)

    def function_environment(self, logical_id: str) -> dict[str, str]:
        record = self.stack.record(logical_id)
        if "spec" not in record.details:
            raise UnknownResourceError(f"{logical_id} is not a function")
        return dict(record.details["spec"].environment)

    def state_machine_arn(self, logical_id: str) -> str:
        record = self.stack.record(logical_id)
        if not record.type.endswith("StateMachine"):
            raise UnknownResourceError(f"{logical_id} is not a state machine")
        return str(record.attributes["Arn"])

    def _function_name(self, logical_id: str) -> str:
        return str(self.stack.record(logical_id).ref)

    # -- executions ----------------------------------------------------------------------------------------------
    def wait_for_execution(self, execution_arn: str, timeout: float = 60.0) -> dict[str, Any]:
        """DescribeExecution once the execution is terminal; raises ExecutionWaitTimeoutError after `timeout` s."""
        sfn = emulator_client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] in _TERMINAL_EXECUTION:
                return described
            if time.monotonic() > deadline:
                raise ExecutionWaitTimeoutError(f"{execution_arn} still {described['status']} after {timeout} s")
            time.sleep(0.1)

    @contextmanager
    def stable_environment(self) -> Iterator[None]:
        """Hold while reading os.environ whole (creating a boto3 client) outside a handler: a handler running in
        another thread adds and removes its variables, and a read that meets a removed key fails with KeyError."""
        if self._router is None:
            yield
            return
        with self._router.environment_lock:
            yield

    def executions(self, state_machine_logical_id: str) -> list[dict[str, Any]]:
        """ListExecutions of a template state machine, all pages, newest first."""
        with self.stable_environment():
            sfn = emulator_client("stepfunctions")
        found: list[dict[str, Any]] = []
        for page in sfn.get_paginator("list_executions").paginate(
            stateMachineArn=self.state_machine_arn(state_machine_logical_id)
        ):
            found.extend(page["executions"])
        return sorted(found, key=lambda item: item["startDate"], reverse=True)

    def wait_for_executions(
        self, state_machine_logical_id: str, count: int = 1, timeout: float = 30.0
    ) -> list[dict[str, Any]]:
        """Wait until at least `count` executions of the state machine exist; returns them (newest first)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.executions(state_machine_logical_id)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise ExecutionWaitTimeoutError(
                    f"{state_machine_logical_id}: {len(found)} of {count} executions after {timeout} s"
                )
            time.sleep(0.1)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        """GetExecutionHistory, all pages."""
        sfn = emulator_client("stepfunctions")
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = sfn.get_execution_history(executionArn=execution_arn, **({"nextToken": token} if token else {}))
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events

    # -- events and schedules ------------------------------------------------------------------------------------
    def fire_schedule(self, logical_id: str) -> list[str]:
        """Deliver a schedule (AWS::Scheduler::Schedule, a rate/cron rule, or a SAM Schedule/ScheduleV2 event
        `<Owner><EventName>`) to its target now. Returns the ARNs of executions it started."""
        if self._delivery is None:
            raise SandboxNotRunningError("the sandbox is not running")
        record = self.stack.record(logical_id)
        if not record.details.get("schedule"):
            raise SandboxError(f"{logical_id} is not a schedule")
        if record.type == "AWS::Scheduler::Schedule":
            return self._delivery.fire_scheduler_schedule(str(record.ref), record.details["target"])
        return self._delivery.fire_rule_schedule(str(record.ref), record.details.get("bus"))

    def put_event(self, source: str, detail_type: str, detail: dict[str, Any], bus: str | None = None) -> str:
        """PutEvents of one event (default bus unless `bus`); returns its event id."""
        entry: dict[str, Any] = {"Source": source, "DetailType": detail_type, "Detail": _json(detail)}
        if bus:
            entry["EventBusName"] = bus
        result = emulator_client("events").put_events(Entries=[entry])
        if result.get("FailedEntryCount"):
            raise SandboxError(f"PutEvents failed: {result['Entries'][0].get('ErrorMessage')}")
        return str(result["Entries"][0]["EventId"])

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        return list(self._delivery.deliveries) if self._delivery else []

    # -- builds --------------------------------------------------------------------------------------------------
    def builds(self) -> list[BuildRecord]:
        return list(self._runner.builds.values()) if self._runner else []

    def function_logs(self, logical_id: str) -> str:
        """Everything a function printed (its powertools logs and metrics), as CloudWatch Logs would hold it."""
        if self._router is None:
            raise SandboxNotRunningError("the sandbox is not running")
        return self._router.logs(logical_id)

    def all_logs(self) -> str:
        """Every function log and every build log of this sandbox (for secret scans)."""
        logs = [path.read_text(encoding="utf-8") for path in sorted((self.work_dir / "logs").glob("*.log"))]
        if self._runner is not None:
            logs += [self._runner.log(build.id) for build in self.builds()]
        return "\n".join(logs)

    def build_logs(self, build_id: str) -> str:
        if self._runner is None:
            raise SandboxNotRunningError("the sandbox is not running")
        return self._runner.log(build_id)


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


def _install_execution_names(patches: ExitStack) -> None:
    """StartExecution without a name gets a UUID name, as on AWS (moto would name every such execution 'None')."""
    original = StepFunctionsParserBackend.start_execution

    def start_execution(
        backend: StepFunctionsParserBackend, state_machine_arn: str, name: str | None = None, *args: Any, **kwargs: Any
    ) -> Any:
        return original(backend, state_machine_arn, name or str(uuid.uuid4()), *args, **kwargs)

    patches.enter_context(patch.object(StepFunctionsParserBackend, "start_execution", start_execution))


def _install_task_failure_cause(patches: ExitStack) -> None:
    """SendTaskFailure keeps its `cause` (moto's response handler drops it)."""

    def send_task_failure(response: StepFunctionResponse) -> EmptyResult:
        backend: Any = response.stepfunction_backend  # the parser backend (ASL execution on) takes a cause
        backend.send_task_failure(
            response._get_param("taskToken"), error=response._get_param("error"), cause=response._get_param("cause")
        )
        return EmptyResult()

    patches.enter_context(patch.object(StepFunctionResponse, "send_task_failure", send_task_failure))
