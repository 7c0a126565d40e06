"""Runbooks: the documented major transitions as a sequence of steps, each one ordinary deploy run.

A step is a desired-configuration delta (SSM parameter writes, deletes back to the module's default, and moves of a
secret between sections), the pre-flight checks before its plan is applied, and the plan-shape rules its plan must
satisfy (`plan/shape.py`). The transitions (`runbook_data.py` holds the guides' rules and words):

- **7.x -> 8.x** (`docs/v8-upgrade-guide.md`): 1. the module, with `preserve_aws_auth_configmap = true` and
  `kubernetes_legacy_cluster_creator_admin = true`, the EKS version unchanged; 2. one EKS minor per run, when the
  request moves EKS; 3. `preserve_aws_auth_configmap` back to its default (retire the aws-auth ConfigMap).
- **legacy -> operator** (`docs/operator-migration/readme.md`): one apply of the operator module with
  `enable_dummy_dns` and `enable_operator_alb`, `size` and the license on the aws module, the app module's inputs
  (`wandb_version` among them) gone; then EKS, when the request moves it.
- **4.x -> 5.x** (README.md v5.0.0, "Upgrading from 4.x -> 5.x"): one run of the module (and EKS, as an ordinary
  upgrade) that drops the inputs 5.0.0 no longer has (`kubernetes_node_count`, `enable_dummy_dns`,
  `enable_operator_alb`) and, where `size` was not set, keeps what 4.x ran: the node count as equal min/max nodes per
  AZ and the 4.x defaults of the values `size` now sets.
- **6.x -> 7.x** (README.md v7.0.0, "6.x -> 7.x"): one run of the module that drops `create_bucket`, refused if its
  plan destroys the file-storage bucket (7.0.0 moves it with a `moved` block).

Every variable a step sets must be an input of the module release the step applies (checked here against the module
contract; the request is rejected otherwise), so a runbook never asks Terraform for an argument it would refuse.
"""

from __future__ import annotations

import fnmatch
import json
import math
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.contract import AWS_MODULE, ReleaseInterface, UnknownReleaseError, contract_for
from wandb_deployer.errors import UpgradeRejectedError
from wandb_deployer.plan.shape import PlanRule
from wandb_deployer.upgrade import runbook_data as data
from wandb_deployer.upgrade.guards import (
    CREATOR_ADMIN_INPUT,
    FIRST_OPERATOR_MAJOR,
    UpgradeRequest,
    evaluate_upgrade,
    parse_version,
)

Transition = Literal["v4-to-v5", "v6-to-v7", "v7-to-v8", "legacy-to-operator"]
PreflightKind = Literal["ec2-vcpu-quota", "subnet-free-ips"]
PRESERVE_AWS_AUTH = "preserve_aws_auth_configmap"
DUMMY_DNS = "enable_dummy_dns"
OPERATOR_ALB = "enable_operator_alb"


class ParameterChange(BaseModel):
    """One SSM parameter of a step, relative to the deployment's prefix: `value` None deletes it (the module's
    default applies again); `staged_from` names a SecureString the operator copied to `name` before the request
    (`wbd upgrade` does, with the operator's credentials: no function of the deployer reads a secret), which the step
    deletes."""

    model_config = ConfigDict(frozen=True)

    name: str
    value: str | None = None
    staged_from: str | None = None
    removed: bool = False  # deleted because the step's release no longer has the input (not a reset to its default)

    def describe(self) -> str:
        if self.staged_from:
            return f"{self.name} <- {self.staged_from} (SecureString staged by wbd upgrade; {self.staged_from} deleted)"
        if self.value is not None:
            return f"{self.name} = {self.value}"
        return f"{self.name}: deleted (" + ("removed from the module)" if self.removed else "module default)")


# What a step may write and delete (relative names, fnmatch patterns). The functions that write steps (UpgradeRequest
# the first, RecordRun the next ones) are granted exactly these in template.yaml (tests/unit/template checks it), and
# a runbook that would write anything else is refused before anything is written.
STEP_PUTS = frozenset(
    {
        "deployer/module_version",
        "deployer/terraform_version",
        "deployer/generation",
        "app/wandb_version",
        "infra/eks_cluster_version",
        f"infra/{CREATOR_ADMIN_INPUT}",
        f"infra/{PRESERVE_AWS_AUTH}",
        f"infra/{DUMMY_DNS}",
        f"infra/{OPERATOR_ALB}",
        "infra/size",
        *(f"infra/{name}" for name in data.V5_SIZE_OVERRIDES),
        f"infra/{data.MIN_NODES_PER_AZ}",
        f"infra/{data.MAX_NODES_PER_AZ}",
    }
)
STEP_DELETES = frozenset(
    {
        "app/*",
        "deployer/app_module_version",
        f"infra/{PRESERVE_AWS_AUTH}",
        f"infra/{data.CREATE_BUCKET}",
        f"infra/{data.NODE_COUNT}",
        *(f"infra/{name}" for name in data.V5_REMOVED_FLAGS),
    }
)
LICENSE_STAGING = ("app/license", "infra/license")  # legacy -> operator: the license moves to the aws module


class PreflightCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: PreflightKind
    why: str
    source: str


class RunbookStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    title: str
    module_version: str  # the aws module release the step's run applies
    changes: tuple[ParameterChange, ...]
    preflight: tuple[PreflightCheck, ...] = ()
    rules: tuple[PlanRule, ...] = ()
    note: str = ""  # what the human approving the step should know (shown with the approval)
    # An earlier step whose run's end starts a wait: this step's plan may not be approved before that run ended plus
    # the deployer's wait (RunbookAwsAuthWaitSeconds; `approvable_from` in runbook_execution); the guide's words why.
    approve_after: str | None = None
    approve_wait_reason: str = ""


class Runbook(BaseModel):
    model_config = ConfigDict(frozen=True)

    transition: Transition
    guide: str
    deployment: str
    from_module_version: str
    to_module_version: str
    steps: tuple[RunbookStep, ...]
    notes: tuple[str, ...] = Field(default_factory=tuple)
    region: str = "us-east-1"  # the deployment's region (pre-flight checks look there)
    cluster_name: str = ""  # the EKS cluster: the module names it after `namespace` (modules/app_eks/main.tf)


_CAPACITY = (
    PreflightCheck(
        kind="ec2-vcpu-quota",
        why=(
            "The graceful NG/LT replacement briefly doubles EC2 capacity per AZ during apply: current usage + "
            "same-again should not exceed the EC2 service quota."
        ),
        source=f"{data.V8_GUIDE}, Upgrade runbook, step 4",
    ),
    PreflightCheck(
        kind="subnet-free-ips",
        why="Each new node consumes one ENI's worth of IPs: confirm each private subnet has 2x steady-state headroom.",
        source=f"{data.V8_GUIDE}, Upgrade runbook, step 4",
    ),
)


def crosses_transition(request: UpgradeRequest, current: DeploymentConfig) -> Transition | None:
    """The documented transition this request crosses, if any."""
    if request.module_version is None:
        return None
    wanted, now = parse_version(request.module_version)[0], parse_version(current.deployer.module_version)[0]
    if current.deployer.generation == "legacy" and wanted >= FIRST_OPERATOR_MAJOR:
        return "legacy-to-operator"
    if current.deployer.generation != "operator":
        return None
    return _OPERATOR_MAJORS.get((now, wanted))


_OPERATOR_MAJORS: dict[tuple[int, int], Transition] = {(4, 5): "v4-to-v5", (6, 7): "v6-to-v7", (7, 8): "v7-to-v8"}
_GUIDES: dict[Transition, str] = {
    "v4-to-v5": data.V5_NOTES,
    "v6-to-v7": data.V7_NOTES,
    "v7-to-v8": data.V8_GUIDE,
    "legacy-to-operator": data.OPERATOR_GUIDE,
}


def transition_by_hand(applied: Mapping[str, str], desired: DeploymentConfig) -> str | None:
    """Why a desired config that moves the module across a documented major transition (a push, an SSM edit) must
    not run as one ordinary run: that transition is the guide's runbook (7.x -> 8.x without
    `preserve_aws_auth_configmap` destroys the aws-auth ConfigMap, and no plan rule would check the plan). None when
    it crosses none. `applied` is the snapshot of the config last applied (`<section>/<key>` -> value). The
    legacy -> operator migration by hand keeps its own gate (it always waits for a human)."""
    generation, module = applied.get("deployer/generation"), applied.get("deployer/module_version")
    if generation != "operator" or desired.deployer.generation != "operator" or not module:
        return None
    wanted = desired.deployer.module_version
    try:
        transition = _OPERATOR_MAJORS.get((parse_version(module)[0], parse_version(wanted)[0]))
    except ValueError:
        return None  # not versions: validation says so
    if transition is None:
        return None
    return (
        f"deployer/module_version: {module} -> {wanted} crosses the {transition} transition, which W&B documents as "
        f"a runbook ({_GUIDES[transition]}): request it with `wbd upgrade {desired.deployment} --module-version "
        f"{wanted}` (its steps, plan rules and approvals), or set deployer/module_version back to {module}"
    )


def runbook_for(request: UpgradeRequest, current: DeploymentConfig) -> Runbook | None:
    """The runbook of a request that crosses a documented transition (None: an ordinary upgrade, one run).

    Raises UpgradeRejectedError naming every reason the request cannot run as the guide's runbook."""
    transition = crosses_transition(request, current)
    if transition == "v7-to-v8":
        return _v7_to_v8(request, current)
    if transition == "legacy-to-operator":
        return _legacy_to_operator(request, current)
    if transition in ("v4-to-v5", "v6-to-v7"):
        return _smaller_major(request, current, transition)
    return None


def _eks_steps(request: UpgradeRequest, current: DeploymentConfig, module_version: str) -> list[RunbookStep]:
    if request.eks_cluster_version is None:
        return []
    before = current.infra.get("eks_cluster_version")
    return [
        RunbookStep(
            name=f"eks-{request.eks_cluster_version}",
            title=f"EKS {before or '(module default)'} -> {request.eks_cluster_version}, the module already moved",
            module_version=module_version,
            changes=(ParameterChange(name="infra/eks_cluster_version", value=request.eks_cluster_version),),
            rules=data.V8_EKS_STEP_RULES,
            note="EKS's UpdateClusterVersion accepts exactly one minor jump at a time; one apply per minor.",
        )
    ]


def _v7_to_v8(request: UpgradeRequest, current: DeploymentConfig) -> Runbook:
    plan = evaluate_upgrade(request, current)  # every guard of an ordinary upgrade (EKS step, Terraform >= 1.9, ...)
    target = request.module_version or ""
    module_changes = [
        ParameterChange(name=write.name, value=write.value)
        for write in plan.writes
        if write.name not in ("infra/eks_cluster_version", "deployer/module_version", f"infra/{CREATOR_ADMIN_INPUT}")
    ]
    module_changes += [
        ParameterChange(name=f"infra/{CREATOR_ADMIN_INPUT}", value="true"),
        ParameterChange(name=f"infra/{PRESERVE_AWS_AUTH}", value="true"),
        ParameterChange(name="deployer/module_version", value=target),
    ]
    steps = [
        RunbookStep(
            name="module",
            title=f"module {current.deployer.module_version} -> {target} (EKS module v17 -> v20), EKS unchanged",
            module_version=target,
            changes=tuple(module_changes),
            preflight=_CAPACITY,
            rules=data.V8_MODULE_STEP_RULES,
            note=(
                "Node groups and launch templates are replaced (create before destroy); capacity doubles briefly. "
                "Before this step's apply the deployer records the Terraform state's S3 version (the guide's "
                "rollback pushes that state back)."
            ),
        ),
        *_eks_steps(request, current, target),
        RunbookStep(
            name="retire-aws-auth",
            title="preserve_aws_auth_configmap back to its default: the aws-auth ConfigMap is destroyed",
            module_version=target,
            changes=(ParameterChange(name=f"infra/{PRESERVE_AWS_AUTH}"),),
            rules=data.V8_RETIRE_AWS_AUTH_RULES,
            note=(
                "The deployer refuses to approve this step before one kubelet credential rotation (the stack's "
                "RunbookAwsAuthWaitSeconds, default an hour) has passed since the module step's run ended: if "
                "anything still relies on aws-auth, that's when you'll see it."
            ),
            approve_after="module",
            approve_wait_reason=f"{data.V8_AWS_AUTH_WAIT_REASON} ({data.V8_AWS_AUTH_WAIT_SOURCE})",
        ),
    ]
    runbook = Runbook(
        transition="v7-to-v8",
        guide=data.V8_GUIDE,
        deployment=current.deployment,
        from_module_version=current.deployer.module_version,
        to_module_version=target,
        steps=tuple(steps),
        notes=tuple(plan.notes),
        **_where(current),
    )
    _check_contract(runbook)
    return runbook


def _legacy_to_operator(request: UpgradeRequest, current: DeploymentConfig) -> Runbook:
    target = request.module_version or ""
    reasons: list[str] = []
    if request.wandb_version:
        reasons.append(
            "wandb_version: the operator generation takes the W&B version from W&B's release channel; "
            "the migration removes app/wandb_version"
        )
    others = request.model_copy(update={"module_version": None, "wandb_version": None})
    plan = None
    if others.eks_cluster_version or others.terraform_version:
        try:
            plan = evaluate_upgrade(others, current)
        except UpgradeRejectedError as exc:
            reasons += exc.reasons
    release = _release(target, reasons)
    if release is not None:
        for name in (DUMMY_DNS, OPERATOR_ALB):
            if name not in release:
                reasons.append(
                    f"module_version: the operator migration guide sets {name} for the upgrade, and {name} is not an "
                    f"input of {AWS_MODULE} {target}: migrate to a 4.x release that has it (the guide uses 4.7.2), "
                    "then upgrade"
                )
        for key in sorted(current.infra):
            if key not in release:
                reasons.append(f"infra/{key}: not an input of {AWS_MODULE} {target}; remove it before migrating")
    if license_staging(request, current) is not None:
        source, target_name = LICENSE_STAGING
        reasons.append(
            f"{target_name}: the migration moves the license to the aws module and the deployer never reads it: "
            f"stage it first (`wbd upgrade {current.deployment} --module-version {target}` copies {source} to "
            f"{target_name} with your credentials), or copy it yourself as a SecureString"
        )
    if reasons:
        raise UpgradeRejectedError(current.deployment, reasons)
    assert release is not None
    changes = [
        ParameterChange(name=w.name, value=w.value)
        for w in (plan.writes if plan else [])
        if w.name != "infra/eks_cluster_version"
    ]
    changes.append(ParameterChange(name=LICENSE_STAGING[1], staged_from=LICENSE_STAGING[0]))
    changes += [ParameterChange(name=f"infra/{name}", value="true") for name in (DUMMY_DNS, OPERATOR_ALB)]
    if "size" in release and "size" not in current.infra:
        changes.append(ParameterChange(name="infra/size", value="small"))
    changes += [ParameterChange(name=f"app/{key}") for key in sorted(current.app)]
    changes += [
        ParameterChange(name="deployer/app_module_version"),
        ParameterChange(name="deployer/generation", value="operator"),
        ParameterChange(name="deployer/module_version", value=target),
    ]
    steps = [
        RunbookStep(
            name="migrate",
            title=f"legacy ({current.deployer.module_version} + app module) -> operator {target}",
            module_version=target,
            changes=tuple(changes),
            rules=data.OPERATOR_MIGRATION_RULES,
            note=(
                "The app module's kubernetes_* resources are destroyed and the operator installs W&B; the Route53 "
                "record is replaced (plan a DNS cutover). The deployment needs egress to deploy.wandb.ai."
            ),
        ),
        *_eks_steps(request, current, target),
    ]
    runbook = Runbook(
        transition="legacy-to-operator",
        guide=data.OPERATOR_GUIDE,
        deployment=current.deployment,
        from_module_version=current.deployer.module_version,
        to_module_version=target,
        steps=tuple(steps),
        notes=tuple(plan.notes if plan else ()),
        **_where(current),
    )
    _check_contract(runbook)
    return runbook


def _smaller_major(request: UpgradeRequest, current: DeploymentConfig, transition: Transition) -> Runbook:
    """4.x -> 5.x or 6.x -> 7.x: one run (the module, and EKS with it as in any upgrade) with the README's notes
    turned into the step's changes and plan rules."""
    plan = evaluate_upgrade(request, current)  # every guard of an ordinary upgrade (EKS step, Terraform >= 1.9, ...)
    target = request.module_version or ""
    reasons: list[str] = []
    release = _release(target, reasons)
    before = _release(current.deployer.module_version, reasons)
    if release is None or before is None:
        raise UpgradeRejectedError(current.deployment, reasons)
    notes = list(plan.notes)
    rules: tuple[PlanRule, ...] = ()
    if transition == "v4-to-v5":
        removed, settings, step_notes = _v5_changes(current, before, reasons)
        guide = data.V5_NOTES
        title = f"module {current.deployer.module_version} -> {target}: node counts per AZ, removed flags"
    else:
        removed = (data.CREATE_BUCKET,) if data.CREATE_BUCKET in current.infra else ()
        settings, step_notes = [], [_v7_bucket_note(current)]
        guide, rules = data.V7_NOTES, data.V7_BUCKET_RULES
        title = f"module {current.deployer.module_version} -> {target}: the file-storage bucket moves, kept"
    reasons += [
        f"infra/{key}: not an input of {AWS_MODULE} {target}; remove it before upgrading"
        for key in sorted(current.infra)
        if key not in release and key not in removed
    ]
    if reasons:
        raise UpgradeRejectedError(current.deployment, reasons)
    changes = [ParameterChange(name=w.name, value=w.value) for w in plan.writes if w.name != "deployer/module_version"]
    changes += settings
    changes += [ParameterChange(name=f"infra/{name}", removed=True) for name in removed]
    changes.append(ParameterChange(name="deployer/module_version", value=target))
    step = RunbookStep(
        name="module",
        title=title,
        module_version=target,
        changes=tuple(changes),
        rules=rules,
        note=" ".join(step_notes),
    )
    runbook = Runbook(
        transition=transition,
        guide=guide,
        deployment=current.deployment,
        from_module_version=current.deployer.module_version,
        to_module_version=target,
        steps=(step,),
        notes=tuple(notes),
        **_where(current),
    )
    _check_contract(runbook)
    return runbook


def _v5_changes(
    current: DeploymentConfig, before: ReleaseInterface, reasons: list[str]
) -> tuple[tuple[str, ...], list[ParameterChange], list[str]]:
    """4.x -> 5.x (README.md v5.0.0): the inputs to remove, the values that keep what 4.x ran, and the notes."""
    removed = tuple(name for name in (data.NODE_COUNT, *data.V5_REMOVED_FLAGS) if name in current.infra)
    if current.infra.get("size") not in (None, ""):
        # 4.x: `try(local.deployment_size[var.size].node_count, var.kubernetes_node_count)` (main.tf v4.24.0)
        return (
            removed,
            [],
            [
                f"size is set: 4.x took the node count from it, 5.x takes {data.MIN_NODES_PER_AZ} and "
                f"{data.MAX_NODES_PER_AZ} from it (deployment-size.tf v5.0.0); the cluster now scales between them."
            ],
        )
    settings = [
        ParameterChange(name=f"infra/{name}", value=_ssm_text(variable.default))
        for name in data.V5_SIZE_OVERRIDES
        if name not in current.infra and (variable := before.get(name)) is not None and variable.default is not None
    ]
    count = _number(current.infra.get(data.NODE_COUNT))
    if count is None and (variable := before.get(data.NODE_COUNT)) is not None:
        count = _number(variable.default)
    if count is None:
        return removed, settings, [f"{before.version} has no {data.NODE_COUNT}: 5.x sizes the nodes from size=small."]
    subnets = _private_subnets(current, before)
    if subnets is None:
        reasons.append(
            f"infra/{data.NODE_COUNT}: cannot be converted to {data.MIN_NODES_PER_AZ}/{data.MAX_NODES_PER_AZ}: the "
            "number of private subnets (one 5.x node group each) is not known; set infra/size instead first"
        )
        return removed, settings, []
    per_az = math.ceil(count / subnets)
    pair = (data.MIN_NODES_PER_AZ, data.MAX_NODES_PER_AZ)
    settings += [ParameterChange(name=f"infra/{name}", value=str(per_az)) for name in pair]
    return (
        removed,
        settings,
        [
            f"size is not set: 5.x would default it to small; the 4.x values are kept ({count} node(s) over {subnets} "
            f"private subnet(s): {per_az} per AZ, min = max, no scaling). " + data.V5_NODE_COUNT_NOTE
        ],
    )


def _private_subnets(current: DeploymentConfig, before: ReleaseInterface) -> int | None:
    """How many private subnets the node groups use: the VPC's (`network_private_subnet_cidrs`) or the given ones."""

    def value(name: str) -> object:
        variable = before.get(name)
        return current.infra.get(name, variable.default if variable is not None else None)

    create_vpc = value("create_vpc")
    created = create_vpc is True or str(create_vpc).lower() == "true"
    subnets = value("network_private_subnet_cidrs" if created else "network_private_subnets")
    if isinstance(subnets, str):
        try:
            subnets = json.loads(subnets)
        except json.JSONDecodeError:
            return None
    return len(subnets) if isinstance(subnets, list) and subnets else None


def _number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _ssm_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


def _v7_bucket_note(current: DeploymentConfig) -> str:
    create_bucket = current.infra.get(data.CREATE_BUCKET)
    if create_bucket is False or str(create_bucket).lower() == "false":
        return (
            "create_bucket was false: 7.x always creates the module's default bucket (README.md v7.0.0: \"always "
            'creating a "defaultBucket" which can be overidden"); this plan creates it.'
        )
    return (
        "7.0.0 moves the bucket from module.file_storage[0] to module.file_storage (moved block, main.tf v7.0.0): "
        "the plan must not destroy it. After this run no module older than 7.x may be applied (it would delete the "
        "bucket); the deployer refuses that downgrade."
    )


def _where(current: DeploymentConfig) -> dict[str, str]:
    return {"region": current.deployer.region, "cluster_name": str(current.infra.get("namespace") or "")}


def _release(version: str, reasons: list[str]) -> ReleaseInterface | None:
    try:
        return contract_for(AWS_MODULE).release(version)
    except UnknownReleaseError as exc:
        reasons.append(f"module_version: {exc}")
        return None


def step_variables(step: RunbookStep) -> list[str]:
    """The aws module inputs a step sets or resets."""
    return [change.name.split("/", 1)[1] for change in step.changes if change.name.startswith("infra/")]


def step_removals(step: RunbookStep) -> list[str]:
    """The inputs a step deletes that its release no longer has (a 4.x -> 5.x step drops `kubernetes_node_count`)."""
    release = contract_for(AWS_MODULE).release(step.module_version)
    return [
        change.name.split("/", 1)[1]
        for change in step.changes
        if change.name.startswith("infra/")
        and change.value is None
        and change.staged_from is None
        and change.name.split("/", 1)[1] not in release
    ]


def step_writes(step: RunbookStep) -> list[str]:
    """The parameters a step puts (a staged secret is put by the operator, not by the step)."""
    return [change.name for change in step.changes if change.value is not None]


def step_deletes(step: RunbookStep) -> list[str]:
    """The parameters a step deletes (resets, removals, and the sources of staged secrets)."""
    return [change.staged_from or change.name for change in step.changes if change.value is None]


def _allowed(name: str, patterns: frozenset[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def license_staging(request: UpgradeRequest, current: DeploymentConfig) -> tuple[str, str] | None:
    """(source, target) when the request migrates a legacy deployment to the operator generation and the license is
    not yet staged in the aws module's section: what `wbd upgrade` copies before it sends the request."""
    try:
        target = parse_version(request.module_version) if request.module_version else None
    except ValueError:
        return None  # not a version: the request is rejected for that
    if current.deployer.generation != "legacy" or target is None or target[0] < FIRST_OPERATOR_MAJOR:
        return None
    return None if LICENSE_STAGING[1] in current.secret_versions else LICENSE_STAGING


def _check_contract(runbook: Runbook) -> None:
    """Every infra input a step sets (or resets to its default) exists at the release the step applies; a delete of
    an input that release no longer has is a removal (it asks Terraform for nothing)."""
    contract = contract_for(AWS_MODULE)
    reasons = []
    for position, step in enumerate(runbook.steps):
        release = contract.release(step.module_version)
        removed = step_removals(step)
        reasons += [
            f"runbook step {step.name}: infra/{name} is not an input of {AWS_MODULE} {step.module_version}"
            for name in step_variables(step)
            if name not in release and name not in removed
        ]
        earlier = [before.name for before in runbook.steps[:position]]
        if step.approve_after is not None and step.approve_after not in earlier:
            reasons.append(f"runbook step {step.name}: waits after {step.approve_after!r}, which is no earlier step")
        reasons += [
            f"runbook step {step.name}: {name}: a runbook step may not write it (the deployer is not granted it)"
            for name in step_writes(step)
            if not _allowed(name, STEP_PUTS)
        ]
        reasons += [
            f"runbook step {step.name}: {name}: a runbook step may not delete it (the deployer is not granted it)"
            for name in step_deletes(step)
            if not _allowed(name, STEP_DELETES)
        ]
    if reasons:
        raise UpgradeRejectedError(runbook.deployment, reasons)
