"""Every setting the functions read from the environment (settings.py) is given to them by template.yaml, and the
wait the v8 guide asks for before aws-auth is retired is a stack parameter with the guide's default."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import REPO
from wandb_deployer.settings import _ENV_NAMES, Settings
from wbd.sandbox.template import parse_template_text

pytestmark = pytest.mark.unit

TEMPLATE = parse_template_text((REPO / "template.yaml").read_text(encoding="utf-8"))
GLOBAL_ENVIRONMENT: dict[str, Any] = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
LAMBDA_RUNTIME = {"AWS_REGION"}  # set by Lambda itself, never by the template


def test_every_setting_but_the_runtime_region_comes_from_the_template() -> None:
    given = set(GLOBAL_ENVIRONMENT) | {
        name
        for resource in TEMPLATE["Resources"].values()
        if resource.get("Type") == "AWS::Serverless::Function"
        for name in resource["Properties"].get("Environment", {}).get("Variables", {})
    }
    assert sorted(env for env in _ENV_NAMES.values() if env not in given and env not in LAMBDA_RUNTIME) == []


def test_the_aws_auth_wait_is_a_parameter_defaulting_to_the_guides_hour() -> None:
    parameter = TEMPLATE["Parameters"]["RunbookAwsAuthWaitSeconds"]
    assert GLOBAL_ENVIRONMENT["RUNBOOK_AWS_AUTH_WAIT_SECONDS"] == {"Ref": "RunbookAwsAuthWaitSeconds"}
    assert (parameter["Type"], parameter["Default"], parameter["MinValue"]) == ("Number", 3600, 0)
    assert "kubelet credential rotation" in parameter["Description"]
    assert Settings.model_fields["runbook_aws_auth_wait_seconds"].default == parameter["Default"]
