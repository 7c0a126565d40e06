"""The rendered workspace: modules, providers, versions, backend and variables per generation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.unit.workspace.conftest import (
    LEGACY_INFRA,
    OPERATOR_INFRA,
    STATE_BUCKET,
    legacy_config,
    operator_config,
)
from wandb_deployer.contract import APP_MODULE, AWS_MODULE, contract_for
from wandb_deployer.errors import InvalidConfigError
from wandb_deployer.workspace import render_workspace

pytestmark = pytest.mark.unit

# aws 1.x creates no cache by default and its example passes none to W&B: say so explicitly
LEGACY_INFRA_WITHOUT_CACHE = {**LEGACY_INFRA, "create_elasticache": False}


def _doc(files: dict[str, bytes], name: str) -> Any:
    return json.loads(files[name])


def test_operator_generation_calls_one_aws_module_with_the_license_variable() -> None:
    files = render_workspace(operator_config(), state_bucket=STATE_BUCKET).files

    modules = _doc(files, "main.tf.json")["module"]
    assert list(modules) == ["wandb_infra"]
    infra = modules["wandb_infra"]
    assert infra["source"] == "wandb/wandb/aws"
    assert infra["version"] == "8.0.0"
    assert infra["license"] == "${var.license}"
    assert infra["namespace"] == "${var.namespace}"
    assert set(infra) == {"source", "version", "license", *OPERATOR_INFRA}


def test_operator_8x_pins_terraform_and_providers() -> None:
    files = render_workspace(operator_config(), state_bucket=STATE_BUCKET).files

    terraform = _doc(files, "terraform.tf.json")["terraform"]
    assert terraform["required_version"] == "= 1.11.4"
    assert terraform["required_providers"]["aws"] == {"source": "hashicorp/aws", "version": "~> 5.95"}
    assert terraform["required_providers"]["helm"]["version"].endswith("< 3.0.0")
    assert terraform["required_providers"]["kubernetes"]["source"] == "hashicorp/kubernetes"


@pytest.mark.parametrize(
    ("generation", "module_version", "aws_provider"),
    [
        # the module's own `required_providers` at each tag (wandb/terraform-aws-wandb versions.tf)
        ("legacy", "1.16.10", "~> 3.60"),
        ("legacy", "2.8.0", "~> 4.0"),
        ("legacy", "3.1.0", "~> 4.0"),
        ("operator", "4.7.2", "~> 4.0"),
        ("operator", "5.2.0", "~> 4.0"),
        ("operator", "6.0.0", "~> 4.0"),
        ("operator", "7.18.2", "~> 4.0"),
        ("operator", "8.0.0", "~> 5.95"),
    ],
)
def test_aws_provider_constraint_is_the_module_releases_own(
    generation: str, module_version: str, aws_provider: str
) -> None:
    config = (
        legacy_config(module_version=module_version, infra=LEGACY_INFRA_WITHOUT_CACHE)
        if generation == "legacy"
        else operator_config(module_version=module_version, infra={"namespace": "wandb"})
    )
    terraform = _doc(render_workspace(config, state_bucket=STATE_BUCKET).files, "terraform.tf.json")["terraform"]
    assert terraform["required_providers"]["aws"]["version"] == aws_provider


@pytest.mark.parametrize("module_version", ["4.7.2", "7.16.0", "7.18.2", "8.0.0"])
def test_every_provider_the_release_requires_is_pinned_with_its_constraints(module_version: str) -> None:
    release = contract_for(AWS_MODULE).release(module_version)
    config = operator_config(module_version=module_version, infra={"namespace": "wandb"})

    pinned = _doc(render_workspace(config, state_bucket=STATE_BUCKET).files, "terraform.tf.json")["terraform"][
        "required_providers"
    ]

    for name, source in release.providers().items():
        assert pinned[name]["source"] == source
        assert pinned[name]["version"] == ", ".join(dict.fromkeys(release.provider_constraints(name)))
    # time and null join from 7.14.1 / 7.16.0 (read from the module): pinned exactly where declared
    assert ("time" in pinned) == ("time" in release.providers())
    assert ("null" in pinned) == ("null" in release.providers())


def test_backend_is_s3_with_native_locking_and_one_key_per_deployment() -> None:
    prod = _doc(
        render_workspace(operator_config(deployment="prod"), state_bucket=STATE_BUCKET).files, "terraform.tf.json"
    )
    dev = _doc(
        render_workspace(operator_config(deployment="dev", region="eu-west-1"), state_bucket=STATE_BUCKET).files,
        "terraform.tf.json",
    )

    assert prod["terraform"]["backend"]["s3"] == {
        "bucket": STATE_BUCKET,
        "key": "deployments/prod/terraform.tfstate",
        "region": "us-east-1",
        "encrypt": True,
        "use_lockfile": True,
    }
    assert dev["terraform"]["backend"]["s3"]["key"] == "deployments/dev/terraform.tfstate"
    assert dev["terraform"]["backend"]["s3"]["region"] == "eu-west-1"


def test_state_is_encrypted_with_the_deployers_key() -> None:
    # Security review, item 2: `encrypt` alone makes Terraform write state with SSE-S3.
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    rendered = render_workspace(operator_config(), state_bucket=STATE_BUCKET, state_kms_key_arn=key)
    backend = _doc(rendered.files, "terraform.tf.json")["terraform"]["backend"]["s3"]
    assert backend["encrypt"] is True and backend["kms_key_id"] == key


@pytest.mark.parametrize("key", ['${file("/etc/passwd")}', "alias/aws/s3", "arn:aws:kms:us-east-1:1:key/x\n"])
def test_a_state_key_that_is_not_a_key_arn_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="KMS key ARN"):
        render_workspace(operator_config(), state_bucket=STATE_BUCKET, state_kms_key_arn=key)


def test_aws_provider_has_region_and_default_tags() -> None:
    providers = _doc(
        render_workspace(operator_config(deployment="prod", region="eu-central-1"), state_bucket=STATE_BUCKET).files,
        "providers.tf.json",
    )
    aws = providers["provider"]["aws"]
    assert aws["region"] == "eu-central-1"
    assert aws["default_tags"]["tags"] == {"managed-by": "wandb-deployer", "wandb-deployer:deployment": "prod"}


def test_on_8x_the_cluster_providers_read_the_modules_endpoint_outputs_not_a_data_source() -> None:
    # 8.0.0's modules/app_eks/outputs.tf: a data source on the cluster name fails on a clean first apply
    providers = _doc(render_workspace(operator_config(), state_bucket=STATE_BUCKET).files, "providers.tf.json")

    assert "data" not in providers
    kubernetes = providers["provider"]["kubernetes"]
    assert kubernetes["host"] == "${module.wandb_infra.cluster_endpoint}"
    assert kubernetes["cluster_ca_certificate"] == (
        "${base64decode(module.wandb_infra.cluster_certificate_authority_data)}"
    )
    assert kubernetes["exec"]["command"] == "aws"
    assert kubernetes["exec"]["args"][:4] == [
        "eks",
        "get-token",
        "--cluster-name",
        "${module.wandb_infra.cluster_name}",
    ]
    assert providers["provider"]["helm"] == {"kubernetes": kubernetes}


@pytest.mark.parametrize(("module_version", "cluster_output"), [("4.24.0", "cluster_id"), ("7.18.2", "cluster_name")])
def test_before_8x_the_cluster_is_read_by_the_name_output_the_release_has(
    module_version: str, cluster_output: str
) -> None:
    config = operator_config(module_version=module_version, infra={"namespace": "wandb"})
    files = render_workspace(config, state_bucket=STATE_BUCKET).files

    providers = _doc(files, "providers.tf.json")
    assert providers["data"]["aws_eks_cluster"]["wandb"]["name"] == "${module.wandb_infra." + cluster_output + "}"
    assert providers["provider"]["kubernetes"]["host"] == "${data.aws_eks_cluster.wandb.endpoint}"
    assert _doc(files, "outputs.tf.json")["output"]["cluster_name"]["value"] == (
        "${module.wandb_infra." + cluster_output + "}"
    )


def test_legacy_generation_wires_the_app_module_as_the_modules_own_example_does() -> None:
    files = render_workspace(legacy_config(), state_bucket=STATE_BUCKET).files

    modules = _doc(files, "main.tf.json")["module"]
    assert modules["wandb_infra"]["version"] == "2.8.0"
    assert "license" not in modules["wandb_infra"]  # not an input of the 2.x aws module
    app = modules["wandb_app"]
    assert app["source"] == "wandb/wandb/kubernetes"
    assert app["version"] == "1.14.1"
    assert app["license"] == "${var.license}"
    assert app["host"] == "${module.wandb_infra.url}"
    assert app["bucket"] == "s3://${module.wandb_infra.bucket_name}"
    assert app["bucket_aws_region"] == "${module.wandb_infra.bucket_region}"
    assert app["bucket_kms_key_arn"] == "${module.wandb_infra.kms_key_arn}"
    assert app["database_connection_string"] == "mysql://${module.wandb_infra.database_connection_string}"
    assert app["service_port"] == "${module.wandb_infra.internal_app_port}"
    # Redis, as examples/public-dns-external/main.tf at v2.8.0 wires it, null-safe when there is no cache
    assert app["redis_connection_string"] == (
        '${module.wandb_infra.elasticache_connection_string == null ? "" : '
        '"redis://${module.wandb_infra.elasticache_connection_string}?tls=true&ttlInSeconds=604800"}'
    )
    assert "sqs://${module.wandb_infra.bucket_queue_name}" in app["bucket_queue"]
    assert "internal://" in app["bucket_queue"]
    assert app["wandb_version"] == "${var.app_wandb_version}"
    assert app["depends_on"] == ["module.wandb_infra"]
    assert _doc(files, "terraform.tfvars.json")["app_wandb_version"] == "0.51.2"


def test_legacy_cluster_name_comes_from_cluster_id() -> None:
    files = render_workspace(legacy_config(), state_bucket=STATE_BUCKET).files

    assert _doc(files, "providers.tf.json")["data"]["aws_eks_cluster"]["wandb"]["name"] == (
        "${module.wandb_infra.cluster_id}"
    )
    assert _doc(files, "outputs.tf.json")["output"]["cluster_name"]["value"] == "${module.wandb_infra.cluster_id}"


def test_outputs_are_the_non_sensitive_ones_the_release_exports() -> None:
    outputs = _doc(render_workspace(operator_config(), state_bucket=STATE_BUCKET).files, "outputs.tf.json")

    assert set(outputs["output"]) == {
        "url",
        "bucket_name",
        "bucket_queue_name",
        "bucket_region",
        "cluster_name",
        "kms_key_arn",
    }
    release = contract_for(AWS_MODULE).release("8.0.0")
    for output in outputs["output"].values():
        name = output["value"].removeprefix("${module.wandb_infra.").removesuffix("}")
        assert release.has_output(name) and not release.outputs[name].sensitive
    assert "database" not in json.dumps(outputs)
    assert "wandb_spec" not in json.dumps(outputs)


def test_variables_take_their_types_from_the_contract_and_the_license_is_sensitive() -> None:
    files = render_workspace(operator_config(), state_bucket=STATE_BUCKET).files

    variables = _doc(files, "variables.tf.json")["variable"]
    assert set(variables) == {"license", *OPERATOR_INFRA}
    assert variables["allowed_inbound_cidr"] == {"type": "list(string)"}
    assert variables["use_internal_queue"] == {"type": "bool"}
    assert variables["other_wandb_env"] == {"type": "map(any)", "sensitive": True}  # a secret input
    assert variables["license"]["sensitive"] is True
    assert variables["license"]["type"] == "string"
    assert "default" not in variables["license"]
    assert "license" not in _doc(files, "terraform.tfvars.json")


def test_variable_types_are_the_releases_own() -> None:
    infra = {"namespace": "wandb", "kubernetes_map_roles": [], "aws_loadbalancer_controller_tags": {"a": "b"}}
    variables = _doc(
        render_workspace(operator_config(infra=infra), state_bucket=STATE_BUCKET).files, "variables.tf.json"
    )

    release = contract_for(AWS_MODULE).release("8.0.0")
    for name in infra:
        assert variables["variable"][name]["type"] == release.variables[name].type
    assert variables["variable"]["kubernetes_map_roles"]["type"].startswith("list(object(")


def test_variables_the_module_marks_sensitive_stay_sensitive_in_the_root() -> None:
    app_release = contract_for(APP_MODULE).release("1.14.1")
    assert [variable.name for variable in app_release.sensitive()] == ["oidc_secret"]  # read from the module
    config = legacy_config(app={"wandb_version": "0.51.2", "oidc_secret": "s3cr3t-value"})

    variables = _doc(render_workspace(config, state_bucket=STATE_BUCKET).files, "variables.tf.json")["variable"]

    assert variables["app_oidc_secret"] == {"type": "string", "sensitive": True}
    assert "sensitive" not in variables["app_wandb_version"]


def test_tfvars_hold_exactly_the_user_inputs() -> None:
    files = render_workspace(legacy_config(), state_bucket=STATE_BUCKET).files

    assert _doc(files, "terraform.tfvars.json") == {
        "namespace": "wandb",
        "domain_name": "example.com",
        "subdomain": "wandb",
        "zone_id": "Z0123456789",
        "allowed_inbound_cidr": ["0.0.0.0/0"],
        "allowed_inbound_ipv6_cidr": ["::/0"],
        "eks_cluster_version": "1.29",
        "use_internal_queue": False,
        "app_wandb_version": "0.51.2",
    }
    # the secret input is read by the plan build from its parameter
    assert _doc(files, "workspace.json")["secret_variables"] == {
        "app_other_wandb_env": {"parameter": "/wandb-deployer/legacy/app/other_wandb_env", "json": True}
    }


def test_secret_inputs_are_sensitive_and_never_in_tfvars() -> None:
    # Security review, item 7: every variable the contract marks sensitive, and the named ones.
    infra = {"namespace": "wandb", "other_wandb_env": {"TOKEN": "t0ken-1"}, "external_redis_params": {"a": "b"}}
    app = {"wandb_version": "0.51.2", "oidc_secret": "oidc-s3cret", "other_wandb_secrets": {"K": "v4lue"}}
    rendered = render_workspace(legacy_config(infra=infra, app=app), state_bucket=STATE_BUCKET, parameter_prefix="/p")
    variables = _doc(rendered.files, "variables.tf.json")["variable"]
    secret = {"other_wandb_env", "external_redis_params", "app_oidc_secret", "app_other_wandb_secrets"}
    for name in secret:
        assert variables[name]["sensitive"] is True
    assert not secret & set(_doc(rendered.files, "terraform.tfvars.json"))
    listed = _doc(rendered.files, "workspace.json")["secret_variables"]
    assert set(listed) == secret
    assert listed["app_oidc_secret"] == {"parameter": "/p/legacy/app/oidc_secret", "json": False}
    everything = b"".join(rendered.files.values())
    for value in (b"t0ken-1", b"oidc-s3cret", b"v4lue"):
        assert value not in everything


def test_manifest_names_versions_state_and_fingerprint() -> None:
    rendered = render_workspace(operator_config(), state_bucket=STATE_BUCKET)
    manifest = _doc(rendered.files, "workspace.json")

    assert manifest["fingerprint"] == rendered.fingerprint
    assert manifest["terraform_version"] == "1.11.4"
    assert manifest["state"] == {"bucket": STATE_BUCKET, "key": "deployments/prod/terraform.tfstate"}


def test_write_to_writes_every_file(tmp_path: Path) -> None:
    rendered = render_workspace(operator_config(), state_bucket=STATE_BUCKET)
    rendered.write_to(tmp_path / "ws")

    assert sorted(path.name for path in (tmp_path / "ws").iterdir()) == sorted(rendered.files)
    for name, content in rendered.files.items():
        assert (tmp_path / "ws" / name).read_bytes() == content
        assert content.endswith(b"\n")


@pytest.mark.parametrize(
    ("config_kwargs", "problem"),
    [
        ({"terraform_version": "1.9.8"}, "deployer/terraform_version"),  # use_lockfile needs 1.10
        ({"module_version": "2.8.0"}, "deployer/module_version"),  # operator needs a 4.x+ module
        ({"module_version": "9.0.0"}, "deployer/module_version"),  # unknown major
    ],
)
def test_incompatible_deployer_settings_are_config_errors(config_kwargs: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        render_workspace(operator_config(infra={"namespace": "wandb"}, **config_kwargs), state_bucket=STATE_BUCKET)
    assert any(line.startswith(problem) for line in caught.value.problems)


def test_legacy_with_an_operator_module_is_a_config_error() -> None:
    with pytest.raises(InvalidConfigError, match="deployer/module_version"):
        render_workspace(legacy_config(module_version="8.0.0"), state_bucket=STATE_BUCKET)


def test_app_inputs_in_the_operator_generation_are_config_errors() -> None:
    config = operator_config().model_copy(update={"app": {"wandb_version": "0.60.0"}})
    with pytest.raises(InvalidConfigError, match="app/wandb_version"):
        render_workspace(config, state_bucket=STATE_BUCKET)


@pytest.mark.parametrize("key", ["bucket", "bucket_queue", "host", "database_connection_string", "license"])
def test_app_inputs_the_deployer_wires_are_config_errors(key: str) -> None:
    with pytest.raises(InvalidConfigError, match=f"app/{key}"):
        render_workspace(legacy_config(app={key: "s3://elsewhere"}), state_bucket=STATE_BUCKET)


def test_a_license_among_the_infra_inputs_is_a_config_error() -> None:
    with pytest.raises(InvalidConfigError, match="infra/license") as caught:
        render_workspace(operator_config(infra={"namespace": "wandb", "license": "x.y.z"}), state_bucket=STATE_BUCKET)
    assert "x.y.z" not in str(caught.value)


@pytest.mark.parametrize("bucket", ["", "UPPER", "a", "bucket/with/slash", "b${x}", "ok-bucket\n"])
def test_state_bucket_must_be_a_bucket_name(bucket: str) -> None:
    with pytest.raises(ValueError, match="state bucket"):
        render_workspace(operator_config(), state_bucket=bucket)
