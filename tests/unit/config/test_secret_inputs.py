"""Secret-valued inputs (security review, item 7): every variable the module contract marks `sensitive` and the named
ones (oidc_secret, other_wandb_secrets, other_wandb_env, external_redis_params) are SecureStrings, masked in `wbd config
show` and `push`, never in tfvars; a run never decrypts the license or the API key (item 5)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.conftest import REPO
from tests.unit.config.samples import API_KEY, LICENSE, PREFIX
from wandb_deployer.config.parameters import config_to_parameters, load_deployment_config, write_parameters
from wandb_deployer.config.parameters import diff_parameters as diff
from wandb_deployer.config.secret_inputs import NAMED_SECRET_INPUTS, secret_input_names
from wandb_deployer.contract import APP_MODULE, release_interface
from wandb_deployer.errors import InvalidConfigError
from wbd.cli.main import app
from wbd.config_file import load_config_file

pytestmark = pytest.mark.unit

TOKEN = "gorilla-token-7f3e-NEVER-SHOWN"
OIDC = "oidc-client-secret-91c2-NEVER-SHOWN"


def operator_with_secrets() -> Any:
    config = load_config_file(REPO / "examples" / "operator.yaml", license=LICENSE, api_key=API_KEY)
    infra = {**config.infra, "other_wandb_env": {"GORILLA_TOKEN": TOKEN}}
    return config.model_copy(update={"infra": infra})


def push(config: Any, ssm: Any) -> None:
    desired = config_to_parameters(config, prefix=PREFIX)
    write_parameters(diff(desired, {}), desired, ssm=ssm)


def test_the_contracts_sensitive_variables_and_the_named_ones_are_secret() -> None:
    names = secret_input_names("legacy", "2.8.0", "1.14.1")
    assert names["infra"] >= NAMED_SECRET_INPUTS and names["app"] >= NAMED_SECRET_INPUTS
    assert {variable.name for variable in release_interface(APP_MODULE, "1.14.1").sensitive()} <= names["app"]
    assert secret_input_names("operator", "8.0.0", "1.14.1")["app"] == frozenset()  # no app section


def test_push_stores_secret_inputs_as_securestrings(ssm: Any) -> None:
    push(operator_with_secrets(), ssm)

    stored = ssm.get_parameter(Name=f"{PREFIX}/demo/infra/other_wandb_env", WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString"
    assert json.loads(stored["Value"]) == {"GORILLA_TOKEN": TOKEN}
    assert ssm.get_parameter(Name=f"{PREFIX}/demo/infra/size")["Parameter"]["Type"] == "String"


def test_a_run_decrypts_secret_inputs_to_validate_them_but_never_the_license_or_the_api_key(ssm: Any) -> None:
    push(operator_with_secrets(), ssm)
    calls: list[tuple[str, dict[str, Any]]] = []

    class Recording:
        def __getattr__(self, name: str) -> Any:
            method = getattr(ssm, name)

            def call(**kwargs: Any) -> Any:
                calls.append((name, kwargs))
                return method(**kwargs)

            return call if name.startswith("get_parameter") else method

    config = load_deployment_config("demo", prefix=PREFIX, ssm=Recording())

    assert config.infra["other_wandb_env"] == {"GORILLA_TOKEN": TOKEN}
    assert config.license is None and config.api_key is None
    decrypted = [kwargs.get("Names", []) for name, kwargs in calls if kwargs.get("WithDecryption")]
    assert decrypted == [[f"{PREFIX}/demo/infra/other_wandb_env"]]
    assert set(config.secret_versions) == {"infra/license", "deployer/api_key"}


def test_a_secret_input_stored_as_a_plain_string_is_refused_without_showing_it(ssm: Any) -> None:
    push(
        operator_with_secrets().model_copy(
            update={"infra": load_config_file(REPO / "examples" / "operator.yaml").infra}
        ),
        ssm,
    )
    ssm.put_parameter(Name=f"{PREFIX}/demo/infra/other_wandb_env", Value=json.dumps({"T": TOKEN}), Type="String")
    ssm.put_parameter(Name=f"{PREFIX}/demo/infra/external_redis_params", Value=TOKEN, Type="SecureString")

    with pytest.raises(InvalidConfigError) as raised:
        load_deployment_config("demo", prefix=PREFIX, ssm=ssm)

    problems = raised.value.problems
    assert "infra/other_wandb_env: holds a secret: must be a SecureString parameter, not String" in problems
    assert any(line.startswith("infra/external_redis_params:") for line in problems)  # not the object it must be
    assert TOKEN not in json.dumps(problems)


def test_a_missing_license_is_a_problem_found_without_decrypting(ssm: Any) -> None:
    push(operator_with_secrets(), ssm)
    ssm.delete_parameter(Name=f"{PREFIX}/demo/infra/license")

    with pytest.raises(InvalidConfigError) as raised:
        load_deployment_config("demo", prefix=PREFIX, ssm=ssm)
    assert raised.value.problems == ["infra/license: missing: store the W&B license as a SecureString parameter"]


def test_a_new_license_version_changes_the_fingerprint(ssm: Any) -> None:
    from wandb_deployer.workspace.fingerprint import desired_fingerprint

    push(operator_with_secrets(), ssm)
    before = desired_fingerprint(load_deployment_config("demo", prefix=PREFIX, ssm=ssm))
    ssm.put_parameter(Name=f"{PREFIX}/demo/infra/license", Value=LICENSE, Type="SecureString", Overwrite=True)
    assert desired_fingerprint(load_deployment_config("demo", prefix=PREFIX, ssm=ssm)) != before


def test_config_show_and_push_mask_secret_inputs(ssm: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    source = (REPO / "examples" / "operator.yaml").read_text()
    path = tmp_path / "operator.yaml"
    path.write_text(source.replace("  size: small", f"  size: small\n  other_wandb_env: {{GORILLA_TOKEN: {TOKEN}}}"))
    license_file = tmp_path / "license.jws"
    license_file.write_text(LICENSE)
    runner = CliRunner()

    pushed = runner.invoke(app, ["config", "push", str(path), "--license-file", str(license_file), "--yes"])
    shown = runner.invoke(app, ["config", "show", "demo"])
    path.write_text(source.replace("  size: small", f"  size: small\n  other_wandb_env: {{GORILLA_TOKEN: {OIDC}}}"))
    changed = runner.invoke(app, ["config", "push", str(path), "--yes"])

    for result in (pushed, shown, changed):
        assert result.exit_code == 0, result.output
        assert TOKEN not in result.output and OIDC not in result.output
    assert "infra/other_wandb_env" in shown.stdout and "SecureString" in shown.stdout
    assert "infra/other_wandb_env" in changed.stdout  # the change is listed, masked
