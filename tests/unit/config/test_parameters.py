"""The SSM layout: names, the round trip file -> parameters -> config, diffs, deployments, AWS failures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from tests.conftest import EVENTS, REPO
from tests.unit.config.samples import API_KEY, LICENSE, PREFIX
from wandb_deployer.config.model import DeployerSettings, DeploymentConfig
from wandb_deployer.config.parameters import (
    MASK,
    DesiredParameter,
    ParameterName,
    config_to_parameters,
    diff_parameters,
    list_deployments,
    load_deployment_config,
    parse_parameter_name,
    read_parameters,
    write_parameters,
)
from wandb_deployer.errors import (
    AwsRequestFailedError,
    InvalidConfigError,
    InvalidDeploymentNameError,
    TransientAwsError,
    UnknownDeploymentError,
)
from wbd.config_file import load_config_file

pytestmark = pytest.mark.unit


def push(config: DeploymentConfig, ssm: Any) -> dict[str, DesiredParameter]:
    desired = config_to_parameters(config, prefix=PREFIX)
    write_parameters(diff_parameters(desired, {}), desired, ssm=ssm)
    return desired


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/wandb-deployer/demo/infra/size", ParameterName(deployment="demo", section="infra", key="size")),
        (
            "/wandb-deployer/prod-2/deployer/paused",
            ParameterName(deployment="prod-2", section="deployer", key="paused"),
        ),
        ("/wandb-deployer/demo/app/license", ParameterName(deployment="demo", section="app", key="license")),
    ],
)
def test_parse_parameter_name(name: str, expected: ParameterName) -> None:
    assert parse_parameter_name(name, PREFIX) == expected
    assert parse_parameter_name(name, PREFIX + "/") == expected


@pytest.mark.parametrize(
    "name",
    [
        "/other/demo/infra/size",
        "/wandb-deployer/demo/size",
        "/wandb-deployer/demo/infra/size/extra",
        "/wandb-deployer/Demo/infra/size",
        "/wandb-deployer/demo/misc/size",
        "/wandb-deployer/demo/infra/Size",
        "/wandb-deployer-stack",
    ],
)
def test_names_outside_the_layout(name: str) -> None:
    with pytest.raises(InvalidDeploymentNameError):
        parse_parameter_name(name, PREFIX)


def test_the_parameter_change_event_names_a_parameter_of_the_layout() -> None:
    event = json.loads((EVENTS / "ssm_parameter_change.json").read_text())
    assert (event["source"], event["detail-type"], event["detail"]["operation"]) == (
        "aws.ssm",
        "Parameter Store Change",
        "Update",
    )
    parsed = parse_parameter_name(event["detail"]["name"], PREFIX)
    assert (parsed.deployment, parsed.section, parsed.key) == ("demo", "infra", "size")


@pytest.mark.parametrize("example", ["operator.yaml", "legacy.yaml"])
def test_round_trip_push_then_load_gives_an_equal_model(ssm: Any, example: str) -> None:
    # Given an example file with a license and an API key, plus maps, objects and an empty list
    config = load_config_file(REPO / "examples" / example, license=LICENSE, api_key=API_KEY)
    infra = {
        **config.infra,
        "eks_policy_arns": [],
        "kubernetes_map_roles": [{"rolearn": "arn:aws:iam::1:role/r", "username": "u", "groups": ["g1", "g2"]}],
        "kms_key_deletion_window": 10,
    }
    app = dict(config.app)
    if config.deployer.generation == "operator":
        infra["eks_cluster_tags"] = {"team": "ml"}
        infra["other_wandb_env"] = {"GORILLA_X": "1", "NESTED": {"a": [1, 2]}}
    else:
        app["other_wandb_env"] = {"GORILLA_X": "1"}
        app["weave_enabled"] = True
    config = config.model_copy(update={"infra": infra, "app": app})

    # When it is pushed to SSM and loaded back
    desired = push(config, ssm)
    loaded = load_deployment_config(config.deployment, prefix=PREFIX, ssm=ssm)

    # Then the model is equal (the license and the API key were not read back: only their versions), lists are
    # StringLists, maps are JSON, secrets - secret inputs such as other_wandb_env included - are SecureStrings
    assert loaded.model_dump() == config.model_dump()
    assert loaded.license is None and loaded.api_key is None
    assert set(loaded.secret_versions) == {f"{config.license_section}/license", "deployer/api_key"}
    base = f"{PREFIX}/{config.deployment}"
    assert desired[f"{base}/infra/allowed_inbound_cidr"].type == "StringList"
    assert desired[f"{base}/infra/eks_policy_arns"] == DesiredParameter(type="String", value="[]")
    other_wandb_env = f"{base}/{'infra' if config.deployer.generation == 'operator' else 'app'}/other_wandb_env"
    assert desired[other_wandb_env].type == "SecureString"
    assert json.loads(desired[other_wandb_env].value) == {**infra, **app}["other_wandb_env"]
    assert desired[f"{base}/{config.license_section}/license"].type == "SecureString"
    assert desired[f"{base}/deployer/api_key"].type == "SecureString"
    stored = ssm.get_parameter(Name=f"{base}/{config.license_section}/license")["Parameter"]
    assert stored["Type"] == "SecureString"


def test_a_list_with_a_comma_in_an_element_is_a_json_string() -> None:
    config = DeploymentConfig(deployment="demo", infra={"extra_fqdn": ["a,b", "c"], "x": ["d", "e"], "y": [" f"]})
    desired = config_to_parameters(config, prefix=PREFIX)
    assert desired["/wandb-deployer/demo/infra/extra_fqdn"] == DesiredParameter(type="String", value='["a,b","c"]')
    assert desired["/wandb-deployer/demo/infra/x"] == DesiredParameter(type="StringList", value="d,e")
    assert desired["/wandb-deployer/demo/infra/y"].type == "String"


def test_every_deployer_setting_is_written() -> None:
    desired = config_to_parameters(DeploymentConfig(deployment="demo"), prefix=PREFIX)
    written = {name.rsplit("/", 1)[1] for name in desired if "/deployer/" in name}
    assert written == set(DeployerSettings.model_fields)
    assert desired["/wandb-deployer/demo/deployer/paused"].value == "false"
    assert desired["/wandb-deployer/demo/deployer/health_timeout_seconds"].value == "900"


def test_diff_masks_secrets_and_finds_added_changed_removed() -> None:
    current = {
        "/p/d/infra/size": DesiredParameter(type="String", value="small"),
        "/p/d/infra/gone": DesiredParameter(type="String", value="x"),
        "/p/d/infra/same": DesiredParameter(type="String", value="s"),
        "/p/d/infra/license": DesiredParameter(type="SecureString", value="old.license.value"),
    }
    desired = {
        "/p/d/infra/size": DesiredParameter(type="String", value="medium"),
        "/p/d/infra/same": DesiredParameter(type="String", value="s"),
        "/p/d/infra/new": DesiredParameter(type="StringList", value="a,b"),
        "/p/d/infra/license": DesiredParameter(type="SecureString", value=LICENSE),
    }
    diff = diff_parameters(desired, current)
    assert [c.name for c in diff.added] == ["/p/d/infra/new"]
    assert [c.name for c in diff.changed] == ["/p/d/infra/license", "/p/d/infra/size"]
    assert [c.name for c in diff.removed] == ["/p/d/infra/gone"]
    assert diff.unchanged == 1
    license_change = diff.changed[0]
    assert (license_change.before, license_change.after) == (MASK, MASK)
    assert LICENSE not in diff.model_dump_json()
    assert "old.license.value" not in diff.model_dump_json()
    assert LICENSE not in repr(desired)


def test_write_only_what_changed_and_prune_only_when_asked(ssm: Any) -> None:
    ssm.put_parameter(Name="/p/demo/infra/size", Value="small", Type="String")
    ssm.put_parameter(Name="/p/demo/infra/same", Value="s", Type="String")
    ssm.put_parameter(Name="/p/demo/infra/gone", Value="x", Type="String")
    ssm.put_parameter(Name="/p/demo/infra/list", Value="a", Type="String")
    desired = {
        "/p/demo/infra/size": DesiredParameter(type="String", value="medium"),
        "/p/demo/infra/same": DesiredParameter(type="String", value="s"),
        "/p/demo/infra/list": DesiredParameter(type="StringList", value="a,b"),
    }
    current = read_parameters("demo", prefix="/p", ssm=ssm, decrypt=True)
    diff = diff_parameters(desired, current)

    result = write_parameters(diff, desired, ssm=ssm)
    assert (result.written, result.deleted) == (2, 0)
    assert ssm.get_parameter(Name="/p/demo/infra/same")["Parameter"]["Version"] == 1
    assert ssm.get_parameter(Name="/p/demo/infra/list")["Parameter"]["Type"] == "StringList"
    assert ssm.get_parameter(Name="/p/demo/infra/gone")["Parameter"]["Value"] == "x"

    diff = diff_parameters(desired, read_parameters("demo", prefix="/p", ssm=ssm, decrypt=True))
    assert write_parameters(diff, desired, ssm=ssm, prune=True).deleted == 1
    assert set(read_parameters("demo", prefix="/p", ssm=ssm, decrypt=False)) == set(desired)


def test_unknown_deployment(ssm: Any) -> None:
    ssm.put_parameter(Name="/wandb-deployer/demo2/infra/size", Value="small", Type="String")
    with pytest.raises(UnknownDeploymentError):
        load_deployment_config("demo", prefix=PREFIX, ssm=ssm)


def test_invalid_deployment_name_is_refused_before_any_call() -> None:
    with pytest.raises(InvalidDeploymentNameError):
        load_deployment_config("../etc", prefix=PREFIX, ssm=object())


def test_secrets_must_be_secure_strings_and_stray_parameters_are_problems(ssm: Any) -> None:
    # Given a deployment whose license is a plain String and with parameters outside the layout
    config = load_config_file(REPO / "examples" / "operator.yaml")
    push(config, ssm)
    ssm.put_parameter(Name="/wandb-deployer/demo/infra/license", Value=LICENSE, Type="String")
    ssm.put_parameter(Name="/wandb-deployer/demo/misc/thing", Value="1", Type="String")
    ssm.put_parameter(Name="/wandb-deployer/demo/app/license", Value=LICENSE, Type="SecureString")

    # When it is loaded, then each is one problem line, and the license never appears
    with pytest.raises(InvalidConfigError) as caught:
        load_deployment_config("demo", prefix=PREFIX, ssm=ssm)
    problems = caught.value.problems
    assert "infra/license: must be a SecureString parameter, not String" in problems
    assert any(line.startswith("misc/thing: not a parameter of the layout") for line in problems)
    assert "app/license: the operator generation reads the license from the SecureString infra/license" in problems
    assert LICENSE not in str(caught.value)


def test_missing_license_in_ssm_is_a_problem(ssm: Any) -> None:
    push(load_config_file(REPO / "examples" / "operator.yaml"), ssm)
    with pytest.raises(InvalidConfigError) as caught:
        load_deployment_config("demo", prefix=PREFIX, ssm=ssm)
    assert caught.value.problems == ["infra/license: missing: store the W&B license as a SecureString parameter"]


def test_list_deployments(ssm: Any) -> None:
    for name in ("/wandb-deployer/prod/infra/size", "/wandb-deployer/demo/infra/size", "/wandb-deployer/demo/x/y/z"):
        ssm.put_parameter(Name=name, Value="small", Type="String")
    ssm.put_parameter(Name="/wandb-deployer/demo/infra/license", Value=LICENSE, Type="SecureString")
    ssm.put_parameter(Name="/elsewhere/other/infra/size", Value="small", Type="String")
    assert list_deployments(prefix=PREFIX, ssm=ssm) == ["demo", "prod"]


class FailingSsm:
    """An SSM client whose every call fails with `code`."""

    def __init__(self, code: str, status: int = 400) -> None:
        self.error = ClientError(
            {
                "Error": {"Code": code, "Message": f"value {LICENSE} rejected"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            },
            "GetParametersByPath",
        )

    def get_paginator(self, name: str) -> FailingSsm:
        return self

    def paginate(self, **kwargs: Any) -> Any:
        raise self.error

    def put_parameter(self, **kwargs: Any) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ThrottlingException", 400, TransientAwsError),
        ("InternalServerError", 500, TransientAwsError),
        ("AccessDeniedException", 400, AwsRequestFailedError),
    ],
)
def test_client_errors_are_wrapped(code: str, status: int, expected: type[Exception]) -> None:
    with pytest.raises(expected) as caught:
        load_deployment_config("demo", prefix=PREFIX, ssm=FailingSsm(code, status))
    assert isinstance(caught.value.__cause__, ClientError)
    assert code in str(caught.value)
    with pytest.raises(expected):
        list_deployments(prefix=PREFIX, ssm=FailingSsm(code, status))


def test_a_failed_put_never_quotes_the_value() -> None:
    desired = {"/p/d/infra/license": DesiredParameter(type="SecureString", value=LICENSE)}
    with pytest.raises(AwsRequestFailedError) as caught:
        write_parameters(diff_parameters(desired, {}), desired, ssm=FailingSsm("ValidationException"))
    assert LICENSE not in str(caught.value)


def test_config_to_parameters_includes_secrets_only_when_present() -> None:
    config = DeploymentConfig(deployment="demo", license=SecretStr(LICENSE))
    names = set(config_to_parameters(config, prefix=PREFIX))
    assert "/wandb-deployer/demo/infra/license" in names
    assert "/wandb-deployer/demo/deployer/api_key" not in names
    assert isinstance(Path(REPO), Path)


def test_a_legacy_deployment_may_hold_the_license_staged_for_the_operator_migration(ssm: Any) -> None:
    """`wbd upgrade` copies app/license to infra/license before a legacy -> operator request (the deployer never reads
    the license): at legacy the copy is accepted beside app/license, its version recorded, the legacy module not given
    it. Without app/license it is still misplaced."""
    push(load_config_file(REPO / "examples" / "legacy.yaml"), ssm)
    ssm.put_parameter(Name="/wandb-deployer/legacy-demo/app/license", Value=LICENSE, Type="SecureString")
    ssm.put_parameter(Name="/wandb-deployer/legacy-demo/infra/license", Value=LICENSE, Type="SecureString")

    config = load_deployment_config("legacy-demo", prefix=PREFIX, ssm=ssm, with_secrets=False)

    assert config.license_section == "app" and "license" not in config.infra
    assert config.secret_versions["infra/license"] == 1 and "app/license" in config.secret_versions

    ssm.delete_parameter(Name="/wandb-deployer/legacy-demo/app/license")
    with pytest.raises(InvalidConfigError) as caught:
        load_deployment_config("legacy-demo", prefix=PREFIX, ssm=ssm, with_secrets=False)
    assert any(line.startswith("infra/license:") for line in caught.value.problems)
    assert LICENSE not in str(caught.value)
