"""An upgrade request end to end: event file -> guards -> SSM writes -> notification."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.errors import InvalidConfigError, UnknownDeploymentError, UpgradeRejectedError
from wandb_deployer.upgrade.guards import ParameterWrite, UpgradePlan
from wandb_deployer.upgrade.request import apply_upgrade, process_upgrade_request

pytestmark = pytest.mark.unit

EVENTS = Path(__file__).parents[2] / "events"
PREFIX = "/wandb-deployer"
REGION = "us-east-1"


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def current_prod(deployment: str) -> DeploymentConfig:
    assert deployment == "prod"
    return DeploymentConfig(
        deployment="prod",
        deployer=DeployerSettings(generation="operator", module_version="7.4.0"),
        infra={"eks_cluster_version": "1.30"},
    )


@pytest.fixture
def clients():
    with mock_aws():
        ssm, sns, events = (boto3.client(name, region_name=REGION) for name in ("ssm", "sns", "events"))
        topic = sns.create_topic(Name="wbd-notifications")["TopicArn"]
        published: list[dict[str, Any]] = []
        put: list[dict[str, Any]] = []
        sns.meta.events.register("before-parameter-build.sns.Publish", lambda params, **_: published.append(params))
        events.meta.events.register("before-parameter-build.events.PutEvents", lambda params, **_: put.append(params))
        yield {"ssm": ssm, "sns": sns, "events": events, "topic": topic, "published": published, "put": put}


def process(clients, detail, load_config=current_prod) -> UpgradePlan:
    return process_upgrade_request(
        detail,
        load_config=load_config,
        prefix=PREFIX,
        ssm=clients["ssm"],
        sns=clients["sns"],
        events=clients["events"],
        topic_arn=clients["topic"],
        bus_name="default",
    )


def test_accepted_upgrade_writes_ssm_and_notifies(clients):
    request = event("upgrade_requested.json")
    assert request["source"] == "wandb-deployer" and request["detail-type"] == "Upgrade Requested"

    plan = process(clients, request["detail"])

    values = {
        p["Name"]: p["Value"]
        for p in clients["ssm"].get_parameters_by_path(Path="/wandb-deployer/prod", Recursive=True)["Parameters"]
    }
    assert values == {
        "/wandb-deployer/prod/infra/eks_cluster_version": "1.31",
        "/wandb-deployer/prod/infra/kubernetes_legacy_cluster_creator_admin": "true",
        "/wandb-deployer/prod/deployer/module_version": "8.0.0",
    }
    assert len(plan.writes) == 3
    [published] = clients["published"]
    assert json.loads(published["Message"])["event"] == "Upgrade Accepted"
    [put] = clients["put"]
    assert put["Entries"][0]["DetailType"] == "Upgrade Accepted"


def test_rejected_upgrade_writes_nothing_and_notifies(clients):
    detail = event("upgrade_requested_rejected.json")["detail"]

    with pytest.raises(UpgradeRejectedError) as raised:
        process(clients, detail)

    assert len(raised.value.reasons) == 2  # wandb_version on the operator generation, EKS 1.30 -> 1.33
    assert clients["ssm"].get_parameters_by_path(Path="/wandb-deployer/prod", Recursive=True)["Parameters"] == []
    [published] = clients["published"]
    message = json.loads(published["Message"])
    assert message["event"] == "Upgrade Rejected"
    assert message["detail"]["reasons"] == raised.value.reasons
    assert clients["put"][0]["Entries"][0]["DetailType"] == "Upgrade Rejected"


def test_malformed_request_is_rejected_and_notified_without_echoing_secrets(clients):
    with pytest.raises(UpgradeRejectedError):
        process(clients, {"deployment": "prod", "module_version": "latest", "license": "SECRET-LICENSE"})

    [published] = clients["published"]
    assert "SECRET-LICENSE" not in published["Message"]


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (UnknownDeploymentError("no parameters"), "does not exist"),
        (InvalidConfigError("prod", ["infra/size: not one of small, medium"]), "infra/size"),
    ],
)
def test_unknown_or_invalid_current_config_rejects_the_upgrade(clients, failure, expected):
    def load_config(deployment: str) -> DeploymentConfig:
        raise failure

    with pytest.raises(UpgradeRejectedError, match=expected):
        process(clients, {"deployment": "prod", "module_version": "8.0.0"}, load_config)


def test_apply_upgrade_overwrites_existing_parameters(clients):
    ssm = clients["ssm"]
    ssm.put_parameter(Name="/wandb-deployer/prod/deployer/module_version", Value="7.4.0", Type="String")
    plan = UpgradePlan(
        deployment="prod", requested_by="alice", writes=[ParameterWrite(name="deployer/module_version", value="8.0.0")]
    )

    names = apply_upgrade(plan, prefix=PREFIX, ssm=ssm)

    assert names == ["/wandb-deployer/prod/deployer/module_version"]
    assert ssm.get_parameter(Name=names[0])["Parameter"]["Value"] == "8.0.0"
