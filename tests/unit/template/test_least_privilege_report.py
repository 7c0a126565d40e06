"""The least-privilege report (security/iam-report.json, `make iam-report`) is the template's: every grant of every
role it lists is what template.yaml grants now, none is unused without a reason, and no request was denied."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from wbd.sandbox.iam_report import build_report, findings, justifications, template_grants

pytestmark = pytest.mark.unit

REPORT = REPO / "security" / "iam-report.json"
TEMPLATE = REPO / "template.yaml"


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(REPORT.read_text(encoding="utf-8"))
    return loaded


def test_the_report_lists_exactly_what_the_template_grants(report: dict[str, Any]) -> None:
    grants = template_grants(TEMPLATE)
    assert set(report["roles"]) == set(grants), "run `make iam-report`: the template's roles changed"
    for logical_id, role in grants.items():
        listed = [(grant["action"], grant["resources"]) for grant in report["roles"][logical_id]["grants"]]
        assert listed == [(grant.action, grant.resources) for grant in role.grants], (
            f"{logical_id}: run `make iam-report`, its policies changed"
        )
        assert [managed["arn"] for managed in report["roles"][logical_id]["managed_policies"]] == role.managed_policies


def test_no_grant_is_unused_without_the_templates_reason_and_nothing_was_denied(report: dict[str, Any]) -> None:
    assert report["runs"] >= 10  # the e2e suite and the demo
    assert findings(report) == []
    reasons = justifications(TEMPLATE)
    for logical_id, role in report["roles"].items():
        for grant in role["grants"]:
            if not grant["used"]:
                current = {**reasons.get("AllRoles", {}), **reasons.get(logical_id, {})}.get(grant["action"])
                assert grant["reason"] == current, f"{logical_id} {grant['action']}: run `make iam-report`"


def test_the_report_marks_use_by_action_and_resource_and_records_denials(tmp_path: Path) -> None:
    # Given one sandbox run in which SummarisePlan read a plan JSON, and was denied the saved plan
    grants = template_grants(TEMPLATE)
    summarise = grants["SummarisePlanFunctionRole"]
    policy = summarise.grants[0].policy
    statement = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": ["arn:aws:s3:::artifacts/runs/*/plan.json", "arn:aws:s3:::artifacts/runs/*/plan-result.json"],
    }
    index = next(grant.statement for grant in summarise.grants if grant.action == "s3:GetObject")
    document = {"Statement": [{"Effect": "Allow", "Action": "x:Y", "Resource": "*"}] * index + [statement]}
    session = "arn:aws:sts::123456789012:assumed-role/stack-SummarisePlanFunctionRole-ABC/f"
    run = {
        "template": str(TEMPLATE.resolve()),
        "roles": {
            "SummarisePlanFunctionRole": {"name": "stack-SummarisePlanFunctionRole-ABC", "policies": {policy: document}}
        },
        "decisions": [
            [session, "s3:GetObject", "arn:aws:s3:::artifacts/runs/d/e/plan.json", True],
            [session, "s3:GetObject", "arn:aws:s3:::artifacts/runs/d/e/plan.tfplan", False],
        ],
    }
    (tmp_path / "iam-run-1.json").write_text(json.dumps(run))

    built = build_report([tmp_path / "iam-run-1.json"], TEMPLATE)

    role = built["roles"]["SummarisePlanFunctionRole"]
    assert next(grant for grant in role["grants"] if grant["action"] == "s3:GetObject")["used"] is True
    assert not next(grant for grant in role["grants"] if grant["action"] == "s3:PutObject")["used"]
    assert role["denied"] == [["s3:GetObject", "arn:aws:s3:::artifacts/runs/d/e/plan.tfplan"]]
    assert "SummarisePlanFunctionRole: denied s3:GetObject on arn:aws:s3:::artifacts/runs/d/e/plan.tfplan" in findings(
        built
    )
