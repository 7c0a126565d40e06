"""Inputs and outputs of every state of the workflows, as pydantic models (house rule 3).

Payloads carry S3 pointers and small summaries only: never plans, logs or secrets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.config.model import DEPLOYMENT_NAME_PATTERN, ApprovalPolicy, DriftAction, Generation, OnUnhealthy

# `push`: parameters written by `wbd config push`; `upgrade`: by an accepted upgrade request; `parameter-change`: any
# other write (the AWS CLI, the console, Terraform); `rerun`: the desired state moved during the previous run;
# `rollback`: `wbd rollback` or deployer/on_unhealthy wrote a succeeded run's config back.
Trigger = Literal["parameter-change", "push", "schedule", "upgrade", "manual", "rerun", "drift", "rollback"]
Severity = Literal["error", "warning", "info"]
# Every state's deployment is a valid deployment name (`"demo\n"` included: pydantic's patterns match the whole text).
DeploymentName = Annotated[str, Field(pattern=DEPLOYMENT_NAME_PATTERN)]


class StateModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class S3Pointer(StateModel):
    bucket: str
    key: str
    version_id: str | None = None

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


class RunInput(StateModel):
    """What starts a deploy run (the execution input)."""

    deployment: DeploymentName
    trigger: Trigger = "manual"


class LockInput(StateModel):
    deployment: DeploymentName
    execution_arn: str


class LockResult(StateModel):
    deployment: DeploymentName
    execution_arn: str
    took_over_from: str | None = None
    released_state_lock: bool = False


class LoadConfigInput(StateModel):
    deployment: DeploymentName
    execution_name: str
    # A deploy run passes its execution (what changed in SSM is recorded in its history) and has its version changes
    # checked against what was last applied (the upgrade guards); the drift check does neither.
    execution_arn: str | None = None
    started_at: datetime | None = None
    check_versions: bool = True


class LoadConfigResult(StateModel):
    """The validated, rendered desired state of a run: what later states need, by pointer."""

    deployment: DeploymentName
    fingerprint: str
    workspace: S3Pointer  # zip: *.tf.json, terraform.tfvars.json, buildspec and runner
    run_prefix: str  # s3 key prefix of this run's artifacts: runs/<deployment>/<execution_name>/
    generation: Generation
    module_version: str
    terraform_version: str
    approval: ApprovalPolicy
    drift_action: DriftAction
    health_timeout_seconds: int
    license_parameter: str | None  # the SSM parameter NAME (CodeBuild resolves it); never the value
    expects_queue: bool
    probe: bool = False
    paused: bool = False
    desired_generation: int = 0  # the desired-state counter this run snapshotted (compared at the end of the run)
    warnings: list[str] = Field(default_factory=list)  # non-fatal config problems, recorded with the run
    wandb_host: str = ""  # the module's fqdn (<subdomain>.<domain_name>): its alias record leads to the load balancer
    zone_id: str = ""  # the Route53 zone holding that record
    wandb_reads_queue: bool = False  # W&B consumes the module's queue at this release (verification/queue_use)
    allow_downgrade: str | None = None  # the deployer/allow_downgrade token in effect (consumed once applied)
    on_unhealthy: OnUnhealthy = "notify"  # after the health deadline: notify, or roll back (never twice in a row)
    version_changes: list[str] = Field(default_factory=list)  # risky version keys changed since the applied config
    snapshot_retention_days: int = 14  # deployer/snapshot_retention_days: the deployer's database snapshots kept
    region: str = ""  # deployer/region: where the deployment's resources (its database) live


class ChangeCounts(StateModel):
    create: int = 0
    update: int = 0
    delete: int = 0
    replace: int = 0


class PlanSummaryInput(StateModel):
    deployment: DeploymentName
    run_prefix: str
    approval: ApprovalPolicy
    generation: Generation
    trigger: Trigger = "manual"
    drift_action: DriftAction = "notify"
    execution_arn: str = ""  # with started_at: is this the run of a runbook's current step (upgrade/runbook_*)
    started_at: datetime | None = None
    version_changes: list[str] = Field(default_factory=list)  # from the load step: risky version keys changed


class PlanSummary(StateModel):
    plan_sha256: str
    has_changes: bool
    counts: ChangeCounts
    destructive: list[str] = Field(default_factory=list, description="first addresses of destructive changes on data")
    destructive_count: int = 0
    requires_approval: bool
    summary: S3Pointer  # the full summary (all addresses) as JSON in the artifacts bucket
    migration: bool = False  # the plan moves the deployment to another W&B generation (always needs approval)
    migrating_from: Generation | None = None  # the generation last applied, when this plan migrates away from it
    runbook_step: str | None = None  # `<transition> step i/n <name>` when the run is a runbook's step (always approved)
    # Why the database is snapshotted before the apply (empty: it is not), and which cluster (None: no snapshot).
    snapshot_reasons: list[str] = Field(default_factory=list)
    snapshot_cluster: str | None = None
    # A runbook step's documented wait: the plan may not be approved before this ISO time, and why (None: any time).
    approvable_from: str | None = None
    approvable_reason: str | None = None


class ApprovalRequest(StateModel):
    deployment: DeploymentName
    execution_arn: str
    task_token: str
    plan_sha256: str
    counts: ChangeCounts
    destructive: list[str] = Field(default_factory=list)
    summary: S3Pointer
    runbook_step: str | None = None  # the runbook step this plan is (named in the Approval Needed notification)
    snapshot_reasons: list[str] = Field(default_factory=list)  # a database snapshot is taken before apply, because
    snapshot_cluster: str | None = None
    approvable_from: str | None = None  # not approvable before (a runbook step's documented wait), and why
    approvable_reason: str | None = None


class ApprovalDecision(StateModel):
    """What `wbd approve` sends back through SendTaskSuccess."""

    approved_sha256: str
    approved_by: str


class TerraformOutputs(StateModel):
    url: str = ""
    bucket_name: str = ""
    bucket_queue_name: str | None = None
    bucket_region: str = ""
    cluster_name: str = ""


class Finding(StateModel):
    code: str
    severity: Severity
    message: str
    fix_hint: str = ""


class VerifyInput(StateModel):
    deployment: DeploymentName
    run_prefix: str
    expects_queue: bool
    probe: bool = False
    wandb_reads_queue: bool = False  # W&B may take the probe's event first


class WiringResult(StateModel):
    expects_queue: bool
    passed: bool
    findings: list[Finding] = Field(default_factory=list)


class VerifyWiringOutput(StateModel):
    outputs: TerraformOutputs
    wiring: WiringResult


class HealthInput(StateModel):
    deployment: DeploymentName
    url: str
    generation: Generation
    attempt: int = 0
    timeout_seconds: int = 900
    interval_seconds: int = 20
    wandb_host: str = ""  # with zone_id: find the load balancer and read its targets' health
    zone_id: str = ""
    region: str = ""  # the deployment's region (the load balancer and the queue's metrics live there)
    queue_name: str | None = None
    reads_queue: bool = False  # check that W&B consumes `queue_name`


class HealthResult(StateModel):
    healthy: bool
    attempt: int
    findings: list[Finding] = Field(default_factory=list)
    server_version: str | None = None
    certificate_days_left: int | None = None
    license_days_left: int | None = None  # None: no readable expiry
    give_up: bool = False  # the next attempt would pass the deployment's health deadline


class BuildRef(StateModel):
    build_id: str
    status: str = ""


class Wrapped(StateModel):
    """A step's result as the ASL keeps it: `{"value": <model>}` under the step's own key."""

    value: dict[str, object]


class ApprovedPlan(StateModel):
    sha256: str
    approved_by: str


class RunError(StateModel):
    """`$.error` as Step Functions' Catch (or `Health deadline passed`) leaves it."""

    Error: str = ""
    Cause: str | None = None


class RunContext(StateModel):
    """The parts of the workflow's state that the end of a run needs; every part may be missing on a failure path."""

    config: Wrapped | None = None
    plan_build: BuildRef | None = None
    apply_build: BuildRef | None = None
    plan: Wrapped | None = None
    approved_plan: ApprovedPlan | None = None
    verify: Wrapped | None = None
    health: Wrapped | None = None
    error: RunError | None = None

    @property
    def loaded(self) -> LoadConfigResult | None:
        return LoadConfigResult.model_validate(self.config.value) if self.config else None

    @property
    def planned(self) -> PlanSummary | None:
        return PlanSummary.model_validate(self.plan.value) if self.plan else None

    @property
    def verified(self) -> VerifyWiringOutput | None:
        return VerifyWiringOutput.model_validate(self.verify.value) if self.verify else None

    @property
    def health_result(self) -> HealthResult | None:
        """The last health attempt (absent before the first one; the placeholder of `Start health checks` is not
        a result)."""
        if self.health is None or "findings" not in self.health.value:
            return None
        return HealthResult.model_validate(self.health.value)


class RecordRunInput(StateModel):
    deployment: DeploymentName
    execution_arn: str
    outcome: Literal["started", "approval-needed", "succeeded", "failed", "no-changes", "rejected"]
    trigger: Trigger = "manual"
    started_at: datetime | None = None
    fingerprint: str | None = None
    plan_sha256: str | None = None
    counts: ChangeCounts | None = None
    error: str | None = None
    cause: str | None = None
    warnings: list[str] = Field(default_factory=list)  # config warnings of the run
    findings: list[Finding] = Field(default_factory=list)  # verification findings (warnings are recorded)
    context: RunContext = RunContext()  # the workflow's state (pointers and summaries) for the run's record


class FinishRunInput(StateModel):
    deployment: DeploymentName
    execution_arn: str
    outcome: Literal["succeeded", "failed", "rejected", "checked"]
    trigger: Trigger = "manual"
    context: RunContext = RunContext()


class DeploymentList(StateModel):
    deployments: list[str]


class DriftInput(StateModel):
    deployment: DeploymentName
    execution_arn: str
    run_prefix: str
    drift_action: DriftAction
    paused: bool = False  # a paused deployment is checked and notified, never remediated
    health: HealthResult | None = None


class DriftResult(StateModel):
    deployment: DeploymentName
    transition: Literal["new", "changed", "unchanged", "resolved", "clean"]
    drifted: bool
    remediate: bool
    fingerprint: str | None = None


class FinishRunResult(StateModel):
    deployment: DeploymentName
    released: bool
    next_execution_arn: str | None = None


class SnapshotInput(StateModel):
    """Snapshot database: `start` takes the snapshot, `check` reads it until available (then prunes old ones)."""

    action: Literal["start", "check"]
    deployment: DeploymentName
    region: str = ""  # the deployment's region (its database's); empty: the deployer's own
    execution_arn: str
    started_at: datetime | None = None
    cluster: str
    reasons: list[str] = Field(default_factory=list)
    retention_days: int = Field(default=14, ge=1)
    arn: str = ""  # `check`: the snapshot `start` took


class SnapshotResult(StateModel):
    identifier: str
    arn: str
    cluster: str
    available: bool
    pruned: list[str] = Field(default_factory=list)
