"""The license and the API key never appear in problems, exceptions, reprs, logs or CLI output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.unit.config.samples import API_KEY, HOSTILE_LICENSE, LICENSE, PREFIX, operator_sections
from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import config_to_parameters, diff_parameters, load_deployment_config
from wandb_deployer.config.validation import validate_config
from wandb_deployer.errors import InvalidConfigError
from wbd.cli.main import app

pytestmark = pytest.mark.unit

FRAGMENTS = [
    "HOSTILE-LICENSE",
    "/etc/passwd",
    "[red]markup",
    "%{ for",
    "LICENSEMARKER",
    "APIKEYMARKER",
    *LICENSE.split("."),
]


def our_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every record but botocore's own wire debugging (off in Lambda; it logs response bodies by design)."""
    return "\n".join(
        record.getMessage() + str(record.__dict__)
        for record in caplog.records
        if not record.name.startswith(("botocore", "urllib3", "moto"))
    )


def assert_no_secret(text: str) -> None:
    for secret in (LICENSE, HOSTILE_LICENSE, API_KEY, *FRAGMENTS):
        assert secret not in text


@pytest.mark.parametrize("license", [HOSTILE_LICENSE, LICENSE + ".extra", "a" + LICENSE.replace(".", "!")])
def test_an_invalid_license_is_reported_without_its_value(license: str) -> None:
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("demo", operator_sections(), license=license, values_are_strings=False)
    assert [line.split(":", 1)[0] for line in caught.value.problems] == ["infra/license"]
    for text in (str(caught.value), repr(caught.value), *caught.value.problems, str(caught.value.args)):
        assert license not in text
        assert_no_secret(text)


def test_an_invalid_api_key_is_reported_without_its_value() -> None:
    with pytest.raises(InvalidConfigError) as caught:
        validate_config(
            "demo", operator_sections(), license=LICENSE, api_key="APIKEYMARKER with space", values_are_strings=False
        )
    assert_no_secret(str(caught.value))


def test_a_secret_copied_into_a_user_value_is_masked_in_problems() -> None:
    # Given the license pasted by mistake into values the problems quote
    sections = operator_sections()
    sections["infra"]["domain_name"] = LICENSE
    sections["infra"]["zone_id"] = API_KEY
    with pytest.raises(InvalidConfigError) as caught:
        validate_config("demo", sections, license=LICENSE, api_key=API_KEY, values_are_strings=False)
    assert any(line.startswith("infra/domain_name: '********'") for line in caught.value.problems)
    assert LICENSE not in str(caught.value)
    assert API_KEY not in str(caught.value)


def test_the_model_never_shows_its_secrets() -> None:
    config = validate_config("demo", operator_sections(), license=LICENSE, api_key=API_KEY, values_are_strings=False)
    for text in (repr(config), str(config), config.model_dump_json(), str(config.model_dump())):
        assert_no_secret(text)
    desired = config_to_parameters(config, prefix=PREFIX)
    assert_no_secret(repr(desired))
    assert_no_secret(diff_parameters(desired, {}).model_dump_json())


def test_loading_a_hostile_license_from_ssm(ssm: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    for key, value in operator_sections()["infra"].items():
        text = ",".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else value
        ssm.put_parameter(
            Name=f"{PREFIX}/demo/infra/{key}", Value=text, Type="StringList" if isinstance(value, list) else "String"
        )
    ssm.put_parameter(Name=f"{PREFIX}/demo/infra/license", Value=HOSTILE_LICENSE, Type="SecureString")
    ssm.put_parameter(Name=f"{PREFIX}/demo/deployer/api_key", Value=API_KEY, Type="String")

    with pytest.raises(InvalidConfigError) as caught:
        load_deployment_config("demo", prefix=PREFIX, ssm=ssm)

    assert caught.value.problems[0] == "deployer/api_key: must be a SecureString parameter, not String"
    assert_no_secret(str(caught.value))
    assert_no_secret(our_logs(caplog))


def test_cli_output_and_logs_never_hold_the_license(
    ssm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()
    example = str(REPO / "examples" / "operator.yaml")
    key_file = tmp_path / "key"
    key_file.write_text(API_KEY)

    hostile = runner.invoke(app, ["config", "push", example, "--license-stdin", "-y"], input=HOSTILE_LICENSE + "\n")
    pushed = runner.invoke(
        app, ["config", "push", example, "--license-stdin", "--api-key-file", str(key_file), "-y"], input=LICENSE + "\n"
    )
    rotated = runner.invoke(
        app, ["config", "push", example, "--license-stdin", "-y"], input=LICENSE.replace("e", "f", 1) + "\n"
    )
    shown = runner.invoke(app, ["config", "show", "demo"])

    assert hostile.exit_code == 2
    assert hostile.stderr.startswith("infra/license: is not a W&B license")
    assert (pushed.exit_code, rotated.exit_code, shown.exit_code) == (0, 0, 0)
    assert "infra/license" in rotated.stdout  # the change is shown, masked
    for result in (hostile, pushed, rotated, shown):
        assert_no_secret(result.output)
    assert "parameters written" in our_logs(caplog)  # our logs are captured, and hold no secret
    assert_no_secret(our_logs(caplog))


def test_secret_str_is_what_the_model_holds() -> None:
    config = DeploymentConfig(deployment="demo", license=SecretStr(LICENSE))
    assert "**" in repr(config.license)
