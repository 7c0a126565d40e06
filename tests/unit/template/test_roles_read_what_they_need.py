"""Security item 5, on the template as SAM expands it: no function reads the saved plan (it holds the license) or the
state but AcquireLock's `.tflock`; UpgradeRequest writes no parameter but the versions an upgrade sets; no KMS grant on
`*`; the license and the API key are read only by the plan role and the health check (LoadConfig reads their versions,
a Deny stops it decrypting them)."""

from __future__ import annotations

import fnmatch

import pytest

from tests.conftest import REPO
from wandb_deployer.upgrade.runbooks import STEP_DELETES, STEP_PUTS
from wbd.sandbox.iam_report import Grant, RoleGrants, template_grants

pytestmark = pytest.mark.unit

ROLES = template_grants(REPO / "template.yaml")
PREFIX = "arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter/wandb-deployer/demo"


def _matching(grants: list[Grant], action: str, resource: str) -> bool:
    return any(
        fnmatch.fnmatchcase(action.lower(), grant.action.lower())
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in grant.resources)
        for grant in grants
    )


def granted(role: RoleGrants, action: str, resource: str) -> bool:
    """An Allow matches and no Deny of the role does (the trigger may read any parameter's version but the secrets')."""
    return _matching(role.grants, action, resource) and not _matching(role.denials, action, resource)


def test_no_function_reads_the_saved_plan() -> None:
    plan = "${ArtifactsBucket.Arn}/runs/demo/demo-parameter-change-1/plan.tfplan"
    readers = {name for name, role in ROLES.items() if granted(role, "s3:GetObject", plan)}
    assert readers == {"TerraformApplyRole"}
    assert granted(ROLES["SummarisePlanFunctionRole"], "s3:GetObject", plan.replace("plan.tfplan", "plan.json"))


def test_acquire_lock_touches_only_the_state_lock_file() -> None:
    role = ROLES["AcquireLockFunctionRole"]
    state = "${StateBucket.Arn}/deployments/demo/terraform.tfstate"
    for action in ("s3:GetObject", "s3:DeleteObject", "s3:PutObject"):
        assert not granted(role, action, state)
    assert granted(role, "s3:DeleteObject", state + ".tflock")


def test_upgrade_requests_write_only_the_versions_and_the_runbook_steps_variables() -> None:
    role = ROLES["UpgradeRequestFunctionRole"]
    for key in ("infra/license", "app/license", "deployer/approval", "deployer/api_key", "deployer/drift_action"):
        assert not granted(role, "ssm:PutParameter", f"{PREFIX}/{key}"), key
    assert granted(role, "ssm:PutParameter", f"{PREFIX}/app/wandb_version")


def test_no_role_is_granted_kms_on_every_key() -> None:
    for name, role in ROLES.items():
        assert not any(grant.action.startswith("kms:") and "*" in grant.resources for grant in role.grants), name


def test_only_the_plan_role_and_the_health_check_read_the_license_or_the_api_key() -> None:
    readers = {
        name
        for name, role in ROLES.items()
        for key in ("infra/license", "app/license", "deployer/api_key")
        for action in ("ssm:GetParameter", "ssm:GetParameters")
        if granted(role, action, f"{PREFIX}/{key}")
    }
    # LoadConfig may list them (their versions stand for them) but a Deny on their encryption context stops decrypts.
    assert readers == {"TerraformPlanRole", "CheckHealthRole", "LoadConfigFunctionRole"}


def _resources(role: RoleGrants, action: str) -> set[str]:
    return {resource for grant in role.grants if grant.action.lower() == action.lower() for resource in grant.resources}


@pytest.mark.parametrize("logical_id", ["UpgradeRequestFunctionRole", "RecordRunFunctionRole"])
def test_the_functions_that_write_runbook_steps_may_write_exactly_what_steps_write(logical_id: str) -> None:
    role = ROLES[logical_id]
    base = "arn:aws:ssm:${AWS::Region}:${AWS::AccountId}:parameter/wandb-deployer/*/"
    assert _resources(role, "ssm:PutParameter") == {base + key for key in STEP_PUTS}
    assert _resources(role, "ssm:DeleteParameter") == {base + key for key in STEP_DELETES}
    for secret in ("infra/license", "app/license", "deployer/api_key"):
        assert not granted(role, "ssm:PutParameter", f"{PREFIX}/{secret}"), secret
        assert not granted(role, "ssm:GetParameter", f"{PREFIX}/{secret}"), secret


def test_every_role_that_lists_parameters_is_denied_decrypting_the_secrets() -> None:
    """GetParametersByPath can decrypt what it lists: every role granted it but the two that read the secrets has
    the Deny on their encryption context (aws/ssm's key policy would otherwise let it decrypt)."""
    listers = {
        name
        for name, role in ROLES.items()
        if any(grant.action.lower() == "ssm:getparametersbypath" for grant in role.grants)
    }
    assert {"LoadConfigFunctionRole", "FinishRunFunctionRole", "UpgradeRequestFunctionRole"} <= listers
    for name in sorted(listers - {"TerraformPlanRole", "CheckHealthRole"}):
        role = ROLES[name]
        assert any(denial.action.lower() == "kms:decrypt" for denial in role.denials), name


def test_only_the_terraform_roles_read_the_state() -> None:
    """The state holds the license and the database password; a runbook's version of it is listed, never read."""
    state = "${StateBucket.Arn}/deployments/demo/terraform.tfstate"
    readers = {name for name, role in ROLES.items() if granted(role, "s3:GetObject", state)}
    assert readers == {"TerraformPlanRole", "TerraformApplyRole"}
    assert granted(ROLES["SummarisePlanFunctionRole"], "s3:ListBucketVersions", "${StateBucket.Arn}")
