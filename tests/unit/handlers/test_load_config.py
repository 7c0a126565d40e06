"""functions/load_config: a real SSM layout in, a rendered bundle in S3 and a pointer-only result out."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest

from tests.conftest import REPO
from tests.unit.handlers.conftest import LICENSE, FakeContext, load_handler, push
from wandb_deployer.errors import InvalidConfigError

pytestmark = pytest.mark.unit


def test_valid_config_is_rendered_to_the_artifacts_bucket(deployer: dict[str, Any]) -> None:
    # Given the operator example pushed as SSM parameters (license as SecureString),
    deployment = push(REPO / "examples" / "operator.yaml")
    handler = load_handler("load_config")

    # when the handler runs for a run of that deployment,
    result = handler.lambda_handler({"deployment": deployment, "execution_name": "run-1"}, FakeContext())

    # then it returns pointers and policy, never the license value,
    assert result["deployment"] == "demo"
    assert result["run_prefix"] == "runs/demo/run-1/"
    assert result["license_parameter"] == "/wandb-deployer/demo/infra/license"
    assert result["expects_queue"] is False  # the example uses W&B's internal queue, as the module's examples do
    assert (result["wandb_host"], result["zone_id"]) == ("wandb.example.com", "Z0123456789ABCDEFGHIJ")
    assert result["wandb_reads_queue"] is False
    # its office ranges keep the deployer out: a warning the run records (and that fails nothing)
    assert [w for w in result["warnings"] if w.startswith("infra/allowed_inbound_cidr: admits only")]
    assert LICENSE not in json.dumps(result)
    # and the bundle version it names holds the workspace and the runner (the buildspec is the project's), without
    # the license.
    pointer = result["workspace"]
    body = boto3.client("s3").get_object(Bucket="artifacts", Key=pointer["key"], VersionId=pointer["version_id"])
    names = zipfile.ZipFile(io.BytesIO(body := body["Body"].read())).namelist()
    assert {"tfrunner.py", "terraform.tfvars.json", "main.tf.json"} <= set(names)
    assert "buildspec.yml" not in names
    assert LICENSE.encode() not in body


def test_invalid_config_raises_a_named_error_with_every_problem(deployer: dict[str, Any]) -> None:
    # Given a config with a wrong input name and a bad CIDR (written straight to SSM, as a hand edit would),
    deployment = push(REPO / "examples" / "operator.yaml")
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name="/wandb-deployer/demo/infra/create_elasticache_subnet", Value="true", Type="String")
    ssm.put_parameter(
        Name="/wandb-deployer/demo/infra/allowed_inbound_cidr", Value="10.0.0.0/33", Type="StringList", Overwrite=True
    )
    handler = load_handler("load_config")

    # then the handler raises InvalidConfigError naming both parameters, and writes nothing.
    with pytest.raises(InvalidConfigError) as raised:
        handler.lambda_handler({"deployment": deployment, "execution_name": "run-2"}, FakeContext())
    text = "\n".join(raised.value.problems)
    assert "infra/create_elasticache_subnet" in text and "create_elasticache" in text
    assert "infra/allowed_inbound_cidr" in text
    assert LICENSE not in str(raised.value)
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket="artifacts")
