"""Driving the deployer in a running sandbox the way an operator would: push configs, change parameters, approve,
and wait for the event-driven runs. Used by `wbd sandbox demo`, the e2e tests and the benchmarks."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wandb_deployer.aws_clients import client
from wandb_deployer.config.parameters import config_to_parameters, diff_parameters, read_parameters, write_parameters
from wandb_deployer.runs.approval import answer_approval, caller_identity
from wandb_deployer.runs.change_source import describe_change, next_versions, note_writes
from wandb_deployer.runs.history import DeploymentStatus, RunRecord, deployment_status, list_runs
from wbd.config_file import load_config_file
from wbd.sandbox import Sandbox
from wbd.sandbox.emulator import ACCOUNT_ID
from wbd.sandbox.terraform_emulation.install import install_terraform_emulation
from wbd.sandbox.wandb_queue_reader import WandbQueueReader
from wbd.sandbox.wandb_standin import WandbStandIn

PREFIX = "/wandb-deployer"
DEPLOY_MACHINE = "DeployStateMachine"
DRIFT_MACHINE = "DriftStateMachine"
# The same template with shorter waits for the sandbox (time is compressed on top of these, except
# RunbookAwsAuthWaitSeconds: the handlers' own clocks are not compressed, so it is real seconds).
SANDBOX_PARAMETERS = {
    "SettleSeconds": "10",
    "HealthRetryIntervalSeconds": "10",
    "ApprovalTimeoutSeconds": "3600",
    "RunbookAwsAuthWaitSeconds": "3",
}
TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
POLL_SECONDS = 0.2  # a poll is several requests to the emulator, which the runs share; a run takes seconds


def demo_license() -> str:
    """An obviously fake license in the shape W&B licenses have (a compact JWS), made up at run time."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    return ".".join(
        [part({"alg": "none", "typ": "JWT"}), part({"sub": "wandb-deployer-sandbox", "demo": True}), "c2FuZGJveA"]
    )


@dataclass
class SandboxDriver:
    sandbox: Sandbox
    standin: WandbStandIn
    queue_reader: WandbQueueReader | None = None  # W&B consuming its queue where the deployment wires it
    seen: set[str] = field(default_factory=set)

    def _client(self, service: str) -> Any:
        """A client of the emulator, created while no handler changes os.environ (see Sandbox.stable_environment)."""
        with self.sandbox.stable_environment():
            return client(service)

    # -- desired state -------------------------------------------------------------------------------------------
    def push(
        self,
        path: Path,
        *,
        license_value: str | None = None,
        deployment: str | None = None,
        infra: dict[str, object] | None = None,
        deployer: dict[str, object] | None = None,
    ) -> str:
        """What `wbd config push --yes` does: write only what differs from SSM (the license as a SecureString)."""
        config = load_config_file(path, deployment=deployment, license=license_value or demo_license())
        if infra or deployer:
            config = config.model_copy(
                update={
                    "infra": {**config.infra, **(infra or {})},
                    "deployer": config.deployer.model_copy(update=deployer or {}),
                }
            )
        ssm = self._client("ssm")
        desired = config_to_parameters(config, prefix=PREFIX)
        current = read_parameters(config.deployment, prefix=PREFIX, ssm=ssm, decrypt=True)
        diff = diff_parameters(desired, current)
        versions = next_versions(diff, current)
        note_writes(
            deployment=config.deployment,
            source="push",
            by="sandbox-operator",
            versions=versions,
            table=self.table,
            dynamodb=self._client("dynamodb"),
        )
        description = describe_change("push", "sandbox-operator")
        write_parameters(diff, desired, ssm=ssm, description=description)
        return config.deployment

    def put(self, deployment: str, key: str, value: str, type_: str = "String") -> None:
        """`aws ssm put-parameter --overwrite --name /wandb-deployer/<deployment>/<key> --value <value>`."""
        self._client("ssm").put_parameter(Name=f"{PREFIX}/{deployment}/{key}", Value=value, Type=type_, Overwrite=True)

    # -- runs ----------------------------------------------------------------------------------------------------
    def executions(self, machine: str = DEPLOY_MACHINE) -> list[dict[str, Any]]:
        return self.sandbox.executions(machine)

    def describe(self, execution_arn: str) -> dict[str, Any]:
        return dict(self._client("stepfunctions").describe_execution(executionArn=execution_arn))

    def wait_for_new_execution(self, machine: str = DEPLOY_MACHINE, timeout: float = 60.0) -> str:
        """The oldest execution of `machine` not seen before (one the events started, not the caller)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            fresh = [e for e in self.executions(machine) if e["executionArn"] not in self.seen]
            if fresh:
                arn = str(min(fresh, key=lambda e: e["startDate"])["executionArn"])
                self.seen.add(arn)
                return arn
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"no new execution of {machine} within {timeout} s")

    def wait_until_idle(self, machine: str = DEPLOY_MACHINE, timeout: float = 180.0, quiet: float = 1.0) -> list[str]:
        """Wait until no execution of `machine` runs (for `quiet` seconds); returns every execution ARN so far."""
        deadline = time.monotonic() + timeout
        idle_since: float | None = None
        while time.monotonic() < deadline:
            running = [e for e in self.executions(machine) if e["status"] == "RUNNING"]
            if running:
                idle_since = None
            elif idle_since is None:
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= quiet:
                arns = [str(e["executionArn"]) for e in self.executions(machine)]
                self.seen.update(arns)
                return arns
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{machine} still running after {timeout} s")

    def wait_for_status(self, execution_arn: str, timeout: float = 180.0) -> dict[str, Any]:
        return self.sandbox.wait_for_execution(execution_arn, timeout=timeout)

    def wait_for_approval(self, deployment: str, timeout: float = 60.0) -> DeploymentStatus:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.status(deployment)
            if status.pending_approval is not None:
                return status
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{deployment} never waited for approval")

    def answer(self, deployment: str, plan_sha256: str, *, approve: bool, reason: str = "") -> None:
        """What `wbd approve` / `wbd reject` do."""
        answer_approval(
            deployment=deployment,
            plan_sha256=plan_sha256,
            approve=approve,
            who=caller_identity(self._client("sts")),
            reason=reason or ("approved" if approve else "rejected"),
            sfn=self._client("stepfunctions"),
            table=self.table,
            dynamodb=self._client("dynamodb"),
        )

    # -- what the deployer recorded -------------------------------------------------------------------------------
    @property
    def table(self) -> str:
        return str(self.sandbox.physical("DeploymentsTable"))

    @property
    def artifacts_bucket(self) -> str:
        return str(self.sandbox.physical("ArtifactsBucket"))

    def runs(self, deployment: str) -> list[RunRecord]:
        return list_runs(deployment=deployment, table=self.table, dynamodb=self._client("dynamodb"), limit=100)

    def status(self, deployment: str) -> DeploymentStatus:
        return deployment_status(deployment=deployment, table=self.table, dynamodb=self._client("dynamodb"))

    def artifacts(self) -> dict[str, bytes]:
        """Every object in the artifacts bucket (key -> bytes), for secret scans."""
        s3 = self._client("s3")
        objects: dict[str, bytes] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.artifacts_bucket):
            for item in page.get("Contents", []):
                objects[item["Key"]] = s3.get_object(Bucket=self.artifacts_bucket, Key=item["Key"])["Body"].read()
        return objects


@contextmanager
def running_deployer(
    repo_root: Path,
    *,
    time_scale: float = 100.0,
    work_dir: Path | None = None,
    parameters: dict[str, str] | None = None,
    emulate_eks: bool = False,
    emulate_database: bool = False,
) -> Iterator[SandboxDriver]:
    """The sandbox with the Terraform emulation installed and a W&B stand-in as every deployment's endpoint
    (`emulate_eks`: the emulation's EKS plan shapes, for the major-upgrade runbooks)."""
    with WandbStandIn(version="0.70.0") as standin:
        sandbox = Sandbox(
            repo_root,
            work_dir=work_dir,
            time_scale=time_scale,
            parameters={**SANDBOX_PARAMETERS, **(parameters or {})},
            build_environment={
                "WBD_SANDBOX_WANDB_URL": standin.url,
                "WBD_SANDBOX_WANDB_TARGET": standin.target_address,
                **({"WBD_SANDBOX_EMULATE_EKS": "1"} if emulate_eks else {}),
                **({"WBD_SANDBOX_EMULATE_DATABASE": "1"} if emulate_database else {}),
            },
        )
        with sandbox:
            install_terraform_emulation(sandbox.bin_dir)
            reader = WandbQueueReader(ACCOUNT_ID).start()
            try:
                yield SandboxDriver(sandbox=sandbox, standin=standin, queue_reader=reader)
            finally:
                reader.stop()
