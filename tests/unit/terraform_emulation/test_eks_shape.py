"""The EKS plan-shape emulation (opt-in) across 7.18.2 -> 8.0.0, checked with the runbook's own rules: the guide's
good plan passes each step, and each documented mistake (no preserve_aws_auth_configmap, creator admin false, a
missed name override) breaks the rule the guide names."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.unit.terraform_emulation.workspaces import STATE_BUCKET, TERRAFORM_VERSION, WORKSPACE_ZONE_ID
from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.plan.shape import RuleViolation, ShapedChange, check_plan_shape
from wandb_deployer.plan.summary import summarise_plan_json
from wandb_deployer.upgrade import runbook_data as data
from wandb_deployer.workspace import render_workspace
from wbd.sandbox.terraform_emulation.eks import ENABLE_VARIABLE, REPLACE_CLUSTER_FAULT
from wbd.sandbox.terraform_emulation.environment import clear_caches

pytestmark = pytest.mark.unit

EKS = "module.wandb_infra.module.app_eks.module.eks."
AWS_AUTH_V17 = EKS + "kubernetes_config_map.aws_auth[0]"
AWS_AUTH_LEGACY = "module.wandb_infra.module.app_eks.kubernetes_config_map.aws_auth_legacy[0]"
PLAN = ("plan", "-input=false", "-no-color", "-out=tfplan", "-detailed-exitcode")


@pytest.fixture
def eks_workspace(workspace: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    monkeypatch.setenv(ENABLE_VARIABLE, "1")
    faults = tmp_path / "faults.json"
    faults.write_text("{}")
    monkeypatch.setenv("WBD_SANDBOX_FAULTS_FILE", str(faults))
    clear_caches()
    yield workspace
    clear_caches()


def render(directory: Path, module_version: str, eks: str = "1.32", **infra: Any) -> None:
    values: dict[str, Any] = {
        "namespace": "wandb",
        "domain_name": "example.com",
        "subdomain": "wandb",
        "zone_id": WORKSPACE_ZONE_ID,
        "allowed_inbound_cidr": ["0.0.0.0/0"],
        "allowed_inbound_ipv6_cidr": ["::/0"],
        "eks_cluster_version": eks,
        **infra,
    }
    settings = DeployerSettings(module_version=module_version, terraform_version=TERRAFORM_VERSION)
    config = DeploymentConfig(deployment="prod", deployer=settings, infra=values)
    for old in directory.glob("*.tf.json"):
        old.unlink()
    render_workspace(config, state_bucket=STATE_BUCKET).write_to(directory)


def plan(terraform: Any) -> list[ShapedChange]:
    assert terraform("init", "-input=false", "-no-color").code == 0
    result = terraform(*PLAN)
    assert result.code in (0, 2), result.text
    shown = terraform("show", "-json", "tfplan")
    digest = summarise_plan_json(io.BytesIO(shown.out.encode()), max_listed=10_000)
    return [ShapedChange(address=c.address, type=c.type, action=c.action) for c in digest.changes]


def apply(terraform: Any) -> None:
    result = terraform("apply", "-input=false", "-no-color", "tfplan")
    assert result.code == 0, result.text


def kinds(violations: list[RuleViolation]) -> list[tuple[str, str]]:
    return [(v.kind, v.address) for v in violations]


def on_v7(directory: Path, terraform: Any) -> None:
    render(directory, "7.18.2")
    plan(terraform)
    apply(terraform)


def test_the_module_step_with_the_guides_variables_has_the_guides_shape(eks_workspace: Path, terraform: Any) -> None:
    on_v7(eks_workspace, terraform)
    render(eks_workspace, "8.0.0", preserve_aws_auth_configmap=True, kubernetes_legacy_cluster_creator_admin=True)

    changes = plan(terraform)

    assert check_plan_shape(changes, data.V8_MODULE_STEP_RULES) == []
    actions = {c.address: c.action for c in changes}
    assert actions[EKS + "aws_eks_cluster.this[0]"] == "update"  # tags only
    assert actions[EKS + "aws_iam_role.this[0]"] == "update"  # moved from aws_iam_role.cluster[0]; sts:TagSession
    assert actions[AWS_AUTH_LEGACY] == "update"  # adopted through the moved block, not destroyed
    replaced = sorted(a for a, action in actions.items() if action == "replace")
    assert replaced == sorted(
        [
            EKS + 'aws_security_group_rule.cluster["ingress_nodes_443"]',
            *(EKS + f'module.eks_managed_node_group["ng-{i}"].aws_eks_node_group.this[0]' for i in (0, 1)),
            *(EKS + f'module.eks_managed_node_group["ng-{i}"].aws_launch_template.this[0]' for i in (0, 1)),
        ]
    )  # "must be replaced = 2 x (number of NGs) + 1"
    assert {a for a, action in actions.items() if action == "delete"} == {
        EKS + "aws_iam_role.workers[0]",
        EKS + "aws_security_group.workers[0]",
    }  # the v17-only orphans
    assert AWS_AUTH_V17 not in actions


def test_without_preserve_aws_auth_configmap_the_configmap_is_destroyed(eks_workspace: Path, terraform: Any) -> None:
    on_v7(eks_workspace, terraform)
    render(eks_workspace, "8.0.0", kubernetes_legacy_cluster_creator_admin=True)

    violations = check_plan_shape(plan(terraform), data.V8_MODULE_STEP_RULES)

    assert kinds(violations) == [("must-not-destroy", AWS_AUTH_V17)]
    assert "step 3 wasn't applied" in violations[0].diagnosis


def test_creator_admin_false_plans_the_access_entry_the_guide_forbids(eks_workspace: Path, terraform: Any) -> None:
    on_v7(eks_workspace, terraform)
    render(eks_workspace, "8.0.0", preserve_aws_auth_configmap=True, kubernetes_legacy_cluster_creator_admin=False)

    violations = check_plan_shape(plan(terraform), data.V8_MODULE_STEP_RULES)

    assert kinds(violations) == [
        ("must-not-create", EKS + 'aws_eks_access_entry.this["cluster_creator"]'),
        ("must-not-create", EKS + 'aws_eks_access_policy_association.this["cluster_creator_admin"]'),
    ]


def test_the_injected_name_override_mistake_replaces_the_cluster(
    eks_workspace: Path, terraform: Any, tmp_path: Path
) -> None:
    on_v7(eks_workspace, terraform)
    render(eks_workspace, "8.0.0", preserve_aws_auth_configmap=True, kubernetes_legacy_cluster_creator_admin=True)
    (tmp_path / "faults.json").write_text(json.dumps({REPLACE_CLUSTER_FAULT: {"times": 1, "params": {}}}))

    violations = check_plan_shape(plan(terraform), data.V8_MODULE_STEP_RULES)

    assert ("must-not-replace", EKS + "aws_eks_cluster.this[0]") in kinds(violations)
    assert ("must-not-replace", EKS + "aws_iam_role.this[0]") in kinds(violations)
    assert json.loads((tmp_path / "faults.json").read_text()) == {}  # fired once
    assert check_plan_shape(plan(terraform), data.V8_MODULE_STEP_RULES) == []  # and not again


def test_after_the_module_step_eks_moves_in_place_and_retiring_aws_auth_only_destroys_it(
    eks_workspace: Path, terraform: Any
) -> None:
    on_v7(eks_workspace, terraform)
    v8: dict[str, Any] = {"preserve_aws_auth_configmap": True, "kubernetes_legacy_cluster_creator_admin": True}
    render(eks_workspace, "8.0.0", **v8)
    plan(terraform)
    apply(terraform)
    assert [c for c in plan(terraform) if c.address.startswith("module.wandb_infra.module.app_eks")] == []

    render(eks_workspace, "8.0.0", eks="1.33", **v8)
    eks_bump = plan(terraform)
    assert check_plan_shape(eks_bump, data.V8_EKS_STEP_RULES) == []
    assert {c.address: c.action for c in eks_bump}[EKS + "time_sleep.this[0]"] == "replace"
    apply(terraform)

    render(eks_workspace, "8.0.0", eks="1.33", kubernetes_legacy_cluster_creator_admin=True)
    retire = plan(terraform)
    assert check_plan_shape(retire, data.V8_RETIRE_AWS_AUTH_RULES) == []
    assert [(c.address, c.action) for c in retire if c.address.startswith("module.wandb_infra.module.app_eks")] == [
        (AWS_AUTH_LEGACY, "delete")
    ]
