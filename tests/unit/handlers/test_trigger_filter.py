"""functions/trigger and its EventBridge rule, held against AWS's documented `Parameter Store Change` samples: only a
change that happened, in the deployer's own account and region, starts a run; every other event is counted by reason.

The samples are AWS's, verbatim (tests/events/aws/README.md); a test rebinds only the field it is about, so the
deployment's parameter name lives under the prefix and the only difference between two cases is the tested field.
"""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any, cast

import boto3
import pytest
from moto.events.models import EventPattern

from tests.conftest import EVENTS, REPO
from tests.unit.handlers.conftest import FakeContext, load_handler, push
from wbd.sandbox.template import Intrinsics, load_template

pytestmark = pytest.mark.unit

SAMPLES = EVENTS / "aws"
ACCOUNT = "123456789012"  # where AWS's Create/Update/Delete samples happened (and moto's account)
REGION = "us-east-1"  # the deployer's region in these tests (the samples say us-east-2; `sample` moves them here)
PARAMETER = "/wandb-deployer/demo/infra/size"
HOME = FakeContext(invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:trigger")


def sample(name: str, **envelope: str) -> dict[str, Any]:
    """AWS's sample event `name`, about the deployment's parameter in the deployer's region (and with `envelope`
    fields replaced)."""
    event: dict[str, Any] = json.loads((SAMPLES / f"ssm_parameter_store_change_{name}.json").read_text())
    event = copy.deepcopy(event)
    event["detail"]["name"] = PARAMETER
    event["region"] = REGION
    event["resources"] = [f"arn:aws:ssm:{event['region']}:{event['account']}:parameter{PARAMETER}"]
    event.update(envelope)
    return event


def _executions(deployer: dict[str, Any]) -> list[dict[str, Any]]:
    return boto3.client("stepfunctions").list_executions(stateMachineArn=deployer["state_machine_arn"])["executions"]


def _metrics(output: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric documents the handler printed."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]


@pytest.fixture
def deployment(deployer: dict[str, Any]) -> dict[str, Any]:
    push(REPO / "examples" / "operator.yaml")
    return deployer


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_a_documented_change_of_a_deployment_parameter_starts_a_run(
    deployment: dict[str, Any], operation: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = load_handler("trigger").lambda_handler(sample(operation), HOME)

    assert result["ignored"] is None and result["execution_arn"]
    assert [e["executionArn"] for e in _executions(deployment)] == [result["execution_arn"]]
    assert [m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for m in _metrics(capsys.readouterr().out)] == [
        "RunStarted"
    ]


@pytest.mark.parametrize(
    ("event", "context", "reason"),
    [
        pytest.param(sample("label_parameter_version"), HOME, "operation", id="LabelParameterVersion"),
        # the failed Create happened in account 111122223333: a deployer there sees a failed operation,
        pytest.param(
            sample("create_failed"),
            replace(HOME, invoked_function_arn=f"arn:aws:lambda:{REGION}:111122223333:function:trigger"),
            "failed-operation",
            id="failed-operation",
        ),
        # and one in another account sees someone else's event.
        pytest.param(sample("create_failed"), HOME, "other-account", id="failed-elsewhere"),
        pytest.param(sample("update", account="210987654321"), HOME, "other-account", id="other-account"),
        pytest.param(sample("update", region="eu-west-1"), HOME, "other-region", id="other-region"),
    ],
)
def test_an_event_that_changed_nothing_here_starts_no_run_and_is_counted_by_reason(
    deployment: dict[str, Any],
    event: dict[str, Any],
    context: FakeContext,
    reason: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    result = load_handler("trigger").lambda_handler(event, context)

    assert result == {"execution_arn": None, "ignored": reason}
    assert _executions(deployment) == []
    (metric,) = _metrics(capsys.readouterr().out)
    assert metric["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == "ParameterChangeIgnored"
    assert metric["reason"] == reason and metric["ParameterChangeIgnored"] == [1.0]
    # an ignored event records no desired-state change either
    table = boto3.client("dynamodb").scan(TableName="deployments")["Items"]
    assert not [item for item in table if item["sk"]["S"] == "DESIRED"]


def test_a_name_outside_the_layout_is_ignored_with_its_own_reason(deployment: dict[str, Any]) -> None:
    event = sample("update")
    event["detail"]["name"] = "/wandb-deployer/NOT A DEPLOYMENT/infra/size"
    assert load_handler("trigger").lambda_handler(event, HOME) == {"execution_arn": None, "ignored": "outside-layout"}


# -- the rule's pattern (template.yaml), evaluated by moto's EventBridge pattern matcher (the one the sandbox delivers
#    with; moto does not implement TestEventPattern) -------------------------------------------------------------------
def _rule_pattern() -> dict[str, Any]:
    template = load_template(REPO / "template.yaml")  # SAM-expanded: the function's event is a rule of its own
    pattern = template.resources["TriggerFunctionParameterChanged"]["Properties"]["EventPattern"]
    pseudo = {"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws", "AWS::StackName": "wbd"}
    resolved: dict[str, Any] = Intrinsics(template, pseudo, lambda *_: None).resolve(pattern)
    return resolved


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        pytest.param(sample("create"), True, id="Create"),
        pytest.param(sample("update"), True, id="Update"),
        pytest.param(sample("delete"), True, id="Delete"),
        pytest.param(sample("label_parameter_version"), False, id="LabelParameterVersion"),
        pytest.param(sample("create_failed", account=ACCOUNT), False, id="failed-operation"),
        pytest.param(sample("update", account="210987654321"), False, id="other-account"),
        pytest.param(sample("update", region="eu-west-1"), False, id="other-region"),
        pytest.param(json.loads((SAMPLES / "ssm_parameter_store_change_update.json").read_text()), False, id="outside"),
    ],
)
def test_the_rule_pattern_admits_only_changes_of_the_deployers_parameters(event: dict[str, Any], matches: bool) -> None:
    assert EventPattern.load(json.dumps(_rule_pattern())).matches_event(cast(Any, event)) is matches
