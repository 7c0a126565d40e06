"""The alarms and the dashboard in template.yaml reference only metrics that exist: every WandbDeployer metric is one
a handler emits (read from the handlers' source), with the dimension Powertools gives it (`service` = the function's
POWERTOOLS_SERVICE_NAME); every AWS/States and AWS/Lambda metric names a resource of this template. Alarm actions go
to the notifications topic."""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import pytest

from tests.conftest import REPO
from wbd.sandbox.template import parse_template_text

pytestmark = pytest.mark.unit

NAMESPACE = "WandbDeployer"
AWS_METRICS = {
    "AWS/States": ("StateMachineArn", "AWS::Serverless::StateMachine"),
    "AWS/Lambda": ("FunctionName", "AWS::Serverless::Function"),
}


def template() -> dict[str, Any]:
    return parse_template_text((REPO / "template.yaml").read_text(encoding="utf-8"))


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def metric_names(source: str) -> set[str]:
    """Metric names a handler module emits: `add_metric(name=...)`, and `workflow_step`'s `metric=` (a name, or a
    function returning names) and `failure_metrics=` values."""
    tree = ast.parse(source)
    functions = {node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    names: set[str] = set()
    for call in (node for node in ast.walk(tree) if isinstance(node, ast.Call)):
        callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
        for keyword in call.keywords:
            if callee == "add_metric" and keyword.arg == "name":
                names |= _strings(keyword.value)
            if callee == "workflow_step" and keyword.arg == "metric":
                target = keyword.value
                if isinstance(target, ast.Name) and target.id in functions:
                    returns = [n.value for n in ast.walk(functions[target.id]) if isinstance(n, ast.Return)]
                    names |= set().union(*(_strings(r) for r in returns if r is not None))
                else:
                    names |= _strings(target)
            if callee == "workflow_step" and keyword.arg == "failure_metrics" and isinstance(keyword.value, ast.Dict):
                names |= set().union(*(_strings(v) for v in keyword.value.values))
    return names


def emitted() -> set[tuple[str, str]]:
    """(metric name, service) for every function of the template, from its handler's source."""
    pairs = set()
    for resource in template()["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = resource["Properties"]
        service = properties["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        source = (REPO / properties["CodeUri"] / "app.py").read_text(encoding="utf-8")
        pairs |= {(name, service) for name in metric_names(source)}
    return pairs


def referenced() -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of every alarm and every dashboard line; dimension values keep their ${refs}."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for resource in template()["Resources"].values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::CloudWatch::Alarm":
            dimensions = {d["Name"]: d["Value"] for d in properties.get("Dimensions", [])}
            found.append((properties["Namespace"], properties["MetricName"], dimensions))
        if resource.get("Type") == "AWS::CloudWatch::Dashboard":
            body = json.loads(properties["DashboardBody"]["Fn::Sub"])
            for widget in body["widgets"]:
                for line in widget["properties"]["metrics"]:
                    namespace, metric, *pairs = line
                    found.append((namespace, metric, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return found


def test_the_handlers_emit_what_the_source_reader_finds() -> None:
    """A control for the oracle: metric names known from the handlers' code are found, with their services."""
    pairs = emitted()
    expected = {
        ("HealthChecked", "check_health"),
        ("HealthDeadlinePassed", "check_health"),
        ("ConfigRendered", "load_config"),
        ("WiringBroken", "verify_wiring"),
        ("DriftDetected", "record_drift"),
        ("UpgradeRejected", "upgrade_request"),
        ("ParameterChangeIgnored", "trigger"),
        ("OldestApprovalWaitSeconds", "approval_age"),
    }
    assert expected <= pairs


def test_every_deployer_metric_referenced_is_emitted_with_the_same_dimensions() -> None:
    pairs = emitted()
    ours = [(metric, dims) for namespace, metric, dims in referenced() if namespace == NAMESPACE]
    assert len(ours) >= 10
    wrong = [
        (metric, dims) for metric, dims in ours if set(dims) != {"service"} or (metric, dims["service"]) not in pairs
    ]
    assert not wrong, f"referenced but never emitted so: {wrong}"


def test_every_aws_metric_names_a_resource_of_this_template() -> None:
    resources = template()["Resources"]
    lines = [(namespace, metric, dims) for namespace, metric, dims in referenced() if namespace != NAMESPACE]
    assert {namespace for namespace, _, _ in lines} == set(AWS_METRICS)
    for namespace, metric, dims in lines:
        dimension, kind = AWS_METRICS[namespace]
        assert set(dims) == {dimension}, (metric, dims)
        value = dims[dimension]
        name = value["Ref"] if isinstance(value, dict) else re.fullmatch(r"\$\{(\w+)\}", value).group(1)  # type: ignore[union-attr]
        assert resources[name]["Type"] == kind, (metric, name)


def test_alarms_cover_failed_runs_drift_health_and_the_trigger_and_notify_the_topic() -> None:
    alarms = {
        (p["Namespace"], p["MetricName"], json.dumps(p["Dimensions"], sort_keys=True)): p
        for r in template()["Resources"].values()
        if r.get("Type") == "AWS::CloudWatch::Alarm"
        for p in [r["Properties"]]
    }
    covered = {(namespace, metric) for namespace, metric, _ in alarms}
    assert {
        ("AWS/States", "ExecutionsFailed"),
        ("WandbDeployer", "DriftDetected"),
        ("WandbDeployer", "HealthDeadlinePassed"),
        ("WandbDeployer", "OldestApprovalWaitSeconds"),
        ("AWS/Lambda", "Errors"),
    } <= covered
    failed_machines = {
        p["Dimensions"][0]["Value"]["Ref"]
        for (ns, m, _), p in alarms.items()
        if (ns, m) == ("AWS/States", "ExecutionsFailed")
    }
    assert failed_machines == {"DeployStateMachine", "DriftStateMachine"}
    assert all(p["AlarmActions"] == [{"Ref": "NotificationsTopic"}] for p in alarms.values())
    (waiting,) = [p for (_, m, _), p in alarms.items() if m == "OldestApprovalWaitSeconds"]
    assert (waiting["Statistic"], waiting["Threshold"]) == ("Maximum", {"Ref": "ApprovalAlarmSeconds"})
