"""The CodeBuild emulation: a StartBuild runs the real buildspec's phases as local bash subprocesses.

The source zip (`sourceLocationOverride` or the project's S3 source, `bucket/key`) is fetched from the emulator and
extracted into a fresh CODEBUILD_SRC_DIR; the buildspec is the project's inline one (the deployer's), the override's,
or a file of the source (default `buildspec.yml`); phases install,
pre_build, build and post_build run with CodeBuild's transition rules (`finally`, `on-failure: ABORT|CONTINUE`),
commands sharing exported variables and the working directory like buildspec 0.2. Environment: the project's
variables, the buildspec's `env`, then `environmentVariablesOverride` (PLAINTEXT, PARAMETER_STORE resolved with
decryption, SECRETS_MANAGER), plus the emulator endpoint, the credentials of a session of the build's service role
(StartBuild's serviceRoleOverride, else the project's), the sandbox's bin dir first on PATH and pip pointed at the
local wheelhouse (the sandbox has no package index). The source download, PARAMETER_STORE resolution and log upload
are made with that role too, as CodeBuild makes them.
Values from Parameter Store / Secrets Manager are masked in the build log, which goes to a file and to CloudWatch
Logs (`/aws/codebuild/<project>`). Timeouts are divided by the sandbox's time scale.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from wbd.sandbox.build_environment import SecretResolutionError, build_environment
from wbd.sandbox.build_source import fetch_source
from wbd.sandbox.emulator import emulator_client
from wbd.sandbox.errors import BuildSourceError
from wbd.sandbox.faults import FAIL_NEXT_BUILD, TIMEOUT_NEXT_BUILD, Faults
from wbd.sandbox.identities import Identity, IdentityBroker, acting_as

LOGGER = logging.getLogger(__name__)
PHASES = ("INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD")
TERMINAL = ("SUCCEEDED", "FAILED", "FAULT", "TIMED_OUT", "STOPPED")
_COMMAND_RUNNER = r"""
state="$1"; command="$2"
if [ -f "$state/env" ]; then . "$state/env" >/dev/null 2>&1; fi
export CODEBUILD_BUILD_SUCCEEDING="$3"
if [ -f "$state/cwd" ]; then cd "$(cat "$state/cwd")" || exit 1; fi
eval "$command"
rc=$?
export -p > "$state/env"
pwd > "$state/cwd"
exit $rc
"""


def wheelhouse() -> Path:
    """Where the sandbox's builds find the wheels their buildspec installs (`make setup` downloads them there, checked
    against the same sha256 pins): the sandbox has no package index, builds on AWS use PyPI."""
    return Path(os.environ.get("WBD_SANDBOX_WHEELHOUSE") or Path(sys.prefix) / "wheelhouse")


def wheelhouse_environment() -> dict[str, str]:
    """pip's settings for a sandbox build: the local wheelhouse only, never an index."""
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse()), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def _now() -> datetime:
    return datetime.now(tz=UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


@dataclass
class BuildRecord:
    """One emulated build, reported through moto's CodeBuild API (BatchGetBuilds, StopBuild, ListBuilds...)."""

    id: str
    arn: str
    project: str
    number: int
    source: dict[str, Any]
    environment: dict[str, Any]
    timeout_minutes: int
    log_group: str
    log_path: Path
    service_role: str = ""  # the project's role, or StartBuild's serviceRoleOverride: whose credentials the build has
    status: str = "IN_PROGRESS"  # what the API reports; terminal only when the build is completely done
    outcome: str = "IN_PROGRESS"  # the running verdict while phases execute
    current_phase: str = "SUBMITTED"
    phases: list[dict[str, Any]] = field(default_factory=list)
    start_time: datetime = field(default_factory=_now)
    end_time: datetime | None = None
    process: subprocess.Popen[bytes] | None = None
    stop_requested: bool = False
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def log_stream(self) -> str:
        return self.id.split(":", 1)[1]

    def to_build(self) -> dict[str, Any]:
        """The build as CodeBuild's API shape (camelCase)."""
        build: dict[str, Any] = {
            "id": self.id,
            "arn": self.arn,
            "buildNumber": self.number,
            "startTime": _iso(self.start_time),
            "currentPhase": self.current_phase,
            "buildStatus": self.status,
            "projectName": self.project,
            "phases": [dict(phase) for phase in self.phases],
            "source": dict(self.source),
            "environment": dict(self.environment),
            "serviceRole": self.service_role,
            "timeoutInMinutes": self.timeout_minutes,
            "buildComplete": self.status in TERMINAL,
            "initiator": "wbd-sandbox",
            "logs": {"groupName": self.log_group, "streamName": self.log_stream, "deepLink": str(self.log_path)},
        }
        if self.end_time is not None:
            build["endTime"] = _iso(self.end_time)
        return build


@dataclass
class _Run:
    """What the phases of one running build share."""

    record: BuildRecord
    environment: dict[str, str]
    src_dir: Path
    state_dir: Path
    deadline: float
    write: Callable[..., None]


class _PhaseFailedError(Exception):
    def __init__(self, status: str, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class BuildRunner:
    """Starts, tracks and stops emulated builds."""

    def __init__(
        self,
        work_dir: Path,
        faults: Faults,
        emulator_environment: dict[str, str],
        *,
        time_scale: float = 1.0,
        bin_dir: Path | None = None,
        extra_environment: dict[str, str] | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        identities: IdentityBroker | None = None,
    ) -> None:
        self.work_dir = work_dir
        self.identities = identities
        self.faults = faults
        self.emulator_environment = emulator_environment
        self.time_scale = time_scale
        self.bin_dir = bin_dir
        self.extra_environment = dict(extra_environment or {})
        self.region = region
        self.account_id = account_id
        self.builds: dict[str, BuildRecord] = {}
        self._numbers: dict[str, int] = {}
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        (work_dir / "builds").mkdir(parents=True, exist_ok=True)

    # -- API -----------------------------------------------------------------------------------------------------
    def start(self, project: dict[str, Any], request: dict[str, Any]) -> BuildRecord:
        """Start a build of `project` (moto's project metadata) with StartBuild's `request` parameters."""
        name = project["name"]
        with self._lock:
            self._numbers[name] = self._numbers.get(name, 0) + 1
            number = self._numbers[name]
        build_id = f"{name}:{uuid.uuid4()}"
        source = dict(project.get("source") or {"type": "NO_SOURCE"})
        for override, key in (
            ("sourceTypeOverride", "type"),
            ("sourceLocationOverride", "location"),
            ("buildspecOverride", "buildspec"),
            ("sourceVersion", "version"),  # for an S3 source: the object version to build from
        ):
            if request.get(override):
                source[key] = request[override]
        environment = dict(project.get("environment") or {})
        variables = {item["name"]: item for item in environment.get("environmentVariables") or []}
        variables.update({item["name"]: item for item in request.get("environmentVariablesOverride") or []})
        environment["environmentVariables"] = list(variables.values())
        logs = (project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
        record = BuildRecord(
            id=build_id,
            arn=f"arn:aws:codebuild:{self.region}:{self.account_id}:build/{build_id}",
            project=name,
            number=number,
            source=source,
            environment=environment,
            service_role=str(request.get("serviceRoleOverride") or project.get("serviceRole") or ""),
            timeout_minutes=int(request.get("timeoutInMinutesOverride") or project.get("timeoutInMinutes") or 60),
            log_group=logs.get("groupName") or f"/aws/codebuild/{name}",
            log_path=self.work_dir / "builds" / f"{build_id.replace(':', '_')}.log",
        )
        self._phase(record, "SUBMITTED", "SUCCEEDED")
        self.builds[build_id] = record
        thread = threading.Thread(target=self._run, args=(record,), name=f"wbd-build-{number}", daemon=True)
        self._threads.append(thread)
        thread.start()
        LOGGER.info("build started", extra={"build_id": build_id})
        return record

    def stop(self, build_id: str) -> BuildRecord:
        record = self.builds[build_id]
        record.stop_requested = True
        _kill(record.process)
        record.done.wait(timeout=30)
        return record

    def log(self, build_id: str) -> str:
        record = self.builds[build_id]
        return record.log_path.read_text(encoding="utf-8") if record.log_path.exists() else ""

    def close(self) -> None:
        for record in self.builds.values():
            if record.status not in TERMINAL:
                record.stop_requested = True
                _kill(record.process)
        for thread in self._threads:
            thread.join(timeout=30)

    # -- one build -----------------------------------------------------------------------------------------------
    def _identity(self, record: BuildRecord) -> Identity | None:
        """A session of the build's service role: the build's own calls and CodeBuild's for it use it."""
        if self.identities is None or not record.service_role:
            return None
        return self.identities.role_session(record.service_role, session_name=f"AWSCodeBuild-{record.number}")

    def _run(self, record: BuildRecord) -> None:
        identity = self._identity(record)
        with acting_as(identity):
            self._run_as(record, identity)

    def _run_as(self, record: BuildRecord, identity: Identity | None) -> None:
        secrets: list[str] = []
        deadline = time.monotonic() + record.timeout_minutes * 60 / self.time_scale
        write = self._writer(record, secrets)
        with tempfile.TemporaryDirectory(prefix="wbd-build-", dir=self.work_dir / "builds") as scratch:
            src_dir, state_dir = Path(scratch) / "src", Path(scratch) / "state"
            src_dir.mkdir()
            state_dir.mkdir(mode=0o700)
            try:
                self._phase(record, "QUEUED", "SUCCEEDED")
                self._phase(record, "PROVISIONING", "SUCCEEDED")
                write("Running the build locally (sandbox: CodeBuild emulation)")
                self._phase(record, "DOWNLOAD_SOURCE", "IN_PROGRESS")
                try:
                    spec = fetch_source(record.source, src_dir)
                    environment = build_environment(
                        self._base_environment(record, src_dir, identity),
                        spec.get("env") or {},
                        record.environment.get("environmentVariables") or [],
                        self.bin_dir,
                        secrets,
                    )
                except (BuildSourceError, SecretResolutionError) as exc:
                    write(f"Phase context status code: CLIENT_ERROR Message: {exc}")
                    raise _PhaseFailedError("FAILED", "CLIENT_ERROR", str(exc)) from exc
                self._close_open_phase(record, "SUCCEEDED", None, None)
                if self.faults.take(TIMEOUT_NEXT_BUILD) is not None:
                    write("Build timed out (sandbox fault)")
                    raise _PhaseFailedError("TIMED_OUT", "BUILD_TIMED_OUT", "Build has timed out (sandbox fault)")
                self._phases(_Run(record, environment, src_dir, state_dir, deadline, write), spec.get("phases") or {})
            except _PhaseFailedError as failure:
                self._close_open_phase(record, failure.status, failure.code, failure.message)
                record.outcome = failure.status if record.outcome == "IN_PROGRESS" else record.outcome
            finally:
                if record.outcome == "IN_PROGRESS":
                    record.outcome = "SUCCEEDED"
                self._phase(record, "FINALIZING", "SUCCEEDED")
                self._phase(record, "COMPLETED", None)
                record.end_time = _now()
                write(f"Build {record.outcome}")
                self._ship_log(record)
                record.status = record.outcome  # visible to BatchGetBuilds only once everything is written
                record.done.set()
                LOGGER.info("build finished", extra={"build_id": record.id, "status": record.status})

    def _base_environment(self, record: BuildRecord, src_dir: Path, identity: Identity | None) -> dict[str, str]:
        return {
            **self.emulator_environment,
            **(identity.environment() if identity is not None else {}),
            **wheelhouse_environment(),
            "CODEBUILD_BUILD_ID": record.id,
            "CODEBUILD_BUILD_ARN": record.arn,
            "CODEBUILD_BUILD_NUMBER": str(record.number),
            "CODEBUILD_SRC_DIR": str(src_dir),
            "CODEBUILD_INITIATOR": "wbd-sandbox",
            "CODEBUILD_LOG_PATH": record.log_stream,
            "WBD_SANDBOX_TIME_SCALE": str(self.time_scale),
            "WBD_SANDBOX_FAULTS_FILE": str(self.faults.path),
            "WBD_SANDBOX_WORK_DIR": str(self.work_dir),
            **self.extra_environment,
        }

    def _phases(self, run: _Run, phases: dict[str, Any]) -> None:
        """CodeBuild's transitions: INSTALL/PRE_BUILD failures end the build, a BUILD failure still runs POST_BUILD,
        `on-failure: ABORT` ends it at once, timeouts and stops end it."""
        failed_fault = self.faults.take(FAIL_NEXT_BUILD)
        for phase in PHASES:
            declared = phases.get(phase.lower()) or {}
            self._phase(run.record, phase, "IN_PROGRESS")
            run.write(f"Entering phase {phase}")
            try:
                if phase == "BUILD" and failed_fault is not None:
                    reason = str(failed_fault.get("reason", "sandbox fault: build failed"))
                    run.write(f"Sandbox fault: {reason}")
                    raise _PhaseFailedError("FAILED", "COMMAND_EXECUTION_ERROR", reason)
                self._commands(run, declared)
            except _PhaseFailedError as failure:
                self._close_open_phase(run.record, failure.status, failure.code, failure.message)
                run.write(f"Phase complete: {phase} State: {failure.status}")
                aborted = str(declared.get("on-failure", "")).upper() == "ABORT"
                run.record.outcome = failure.status if failure.status in ("TIMED_OUT", "STOPPED") else "FAILED"
                if aborted or failure.status in ("TIMED_OUT", "STOPPED") or phase in ("INSTALL", "PRE_BUILD"):
                    return
                continue
            self._close_open_phase(run.record, "SUCCEEDED", None, None)
            run.write(f"Phase complete: {phase} State: SUCCEEDED")

    def _commands(self, run: _Run, declared: dict[str, Any]) -> None:
        failure: _PhaseFailedError | None = None
        for command in declared.get("commands") or []:
            failure = self._command(run, str(command))
            if failure is not None:
                break
        for command in declared.get("finally") or []:
            if failure is not None and failure.status in ("TIMED_OUT", "STOPPED"):
                break
            failure = self._command(run, str(command)) or failure
        if failure is not None:
            raise failure

    def _command(self, run: _Run, command: str) -> _PhaseFailedError | None:
        record = run.record
        if record.stop_requested:
            return _PhaseFailedError("STOPPED", "BUILD_STOPPED", "Build was stopped")
        run.write(f"Running command {command}")
        succeeding = "1" if record.outcome == "IN_PROGRESS" else "0"
        process = subprocess.Popen(  # noqa: S603 - argument list; the command is the repository's buildspec
            ["bash", "-c", _COMMAND_RUNNER, "wbd-build", str(run.state_dir), command, succeeding],  # noqa: S607
            cwd=run.src_dir,
            env=run.environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        record.process = process
        watchdog = threading.Timer(max(0.0, run.deadline - time.monotonic()), _kill, args=(process,))
        watchdog.start()
        try:
            assert process.stdout is not None
            for line in iter(process.stdout.readline, b""):
                run.write(line.decode("utf-8", "replace").rstrip("\n"), True)
            code = process.wait()
        finally:
            watchdog.cancel()
            record.process = None
        if record.stop_requested:
            return _PhaseFailedError("STOPPED", "BUILD_STOPPED", "Build was stopped")
        if time.monotonic() >= run.deadline:
            return _PhaseFailedError("TIMED_OUT", "BUILD_TIMED_OUT", "Build has timed out")
        if code != 0:
            run.write(f"Command did not exit successfully {command} exit status {code}")
            message = f"Error while executing command: {command}. Reason: exit status {code}"
            return _PhaseFailedError("FAILED", "COMMAND_EXECUTION_ERROR", message)
        return None

    # -- helpers -------------------------------------------------------------------------------------------------
    def _writer(self, record: BuildRecord, secrets: list[str]) -> Callable[..., None]:
        lock = threading.Lock()

        def write(text: str, output: bool = False) -> None:
            for secret in secrets:
                if secret:
                    text = text.replace(secret, "***")
            stamp = _now().strftime("%Y/%m/%d %H:%M:%S.%f")[:-3]
            line = text if output else f"[Container] {stamp} {text}"
            with lock, record.log_path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

        return write

    @staticmethod
    def _phase(record: BuildRecord, phase: str, status: str | None) -> None:
        """Open `phase` (closing nothing) or record an instantaneous phase with its final status."""
        moment = _iso(_now())
        entry: dict[str, Any] = {"phaseType": phase, "startTime": moment}
        if status is not None and status != "IN_PROGRESS":
            entry.update({"phaseStatus": status, "endTime": moment, "durationInSeconds": 0})
        record.phases.append(entry)
        record.current_phase = phase

    @staticmethod
    def _close_open_phase(record: BuildRecord, status: str, code: str | None, message: str | None) -> None:
        for entry in reversed(record.phases):
            if "phaseStatus" not in entry and entry["phaseType"] != "COMPLETED":
                started = datetime.fromisoformat(entry["startTime"])
                entry.update({"phaseStatus": status, "endTime": _iso(_now())})
                entry["durationInSeconds"] = int((_now() - started).total_seconds())
                if code:
                    entry["contexts"] = [{"statusCode": code, "message": message or ""}]
                return

    def _ship_log(self, record: BuildRecord) -> None:
        """Copy the build log into the emulator's CloudWatch Logs (best effort: the file is the reference), with the
        build's role, as CodeBuild does (the log group is the project's; the sandbox makes a missing one itself)."""
        logs = emulator_client("logs")
        lines = self.log(record.id).splitlines() or ["(empty)"]
        try:
            with acting_as(None):
                if not logs.describe_log_groups(logGroupNamePrefix=record.log_group).get("logGroups"):
                    logs.create_log_group(logGroupName=record.log_group)
            logs.create_log_stream(logGroupName=record.log_group, logStreamName=record.log_stream)
            stamp = int(time.time() * 1000)
            for start in range(0, len(lines), 1000):
                events = [{"timestamp": stamp, "message": line or " "} for line in lines[start : start + 1000]]
                logs.put_log_events(logGroupName=record.log_group, logStreamName=record.log_stream, logEvents=events)
        except ClientError as exc:
            LOGGER.warning("build log not shipped to CloudWatch Logs", extra={"build_id": record.id, "error": str(exc)})


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        LOGGER.debug("build process already gone", extra={"pid": process.pid})
