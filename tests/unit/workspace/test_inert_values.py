"""Hostile user values stay data: only terraform.tfvars.json holds them; no .tf.json file ever does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.unit.workspace.conftest import STATE_BUCKET, legacy_config, operator_config
from wandb_deployer.contract import AWS_MODULE, contract_for
from wandb_deployer.workspace import render_workspace

pytestmark = pytest.mark.unit

TEMPLATE = '${file("/etc/passwd")}'
DIRECTIVE = "%{ for x in var.y }${x}%{ endfor }"
QUOTES = 'close" } ] , "injected": {"a": "b'
BACKSLASHES = "C:\\temp\\${x}\\\\n \\u0024{y}"
NEWLINES = "line one\nline two\r\n\tEOF\n<<EOT\n${z}\nEOT"
LONG = "L" + '$%{}{}"\\x' * 10_000  # 100k characters
UNICODE = "ünïcødé ✓ 😀 \u202e\u2028\u0000 ${ü}"
HOSTILE = [TEMPLATE, DIRECTIVE, QUOTES, BACKSLASHES, NEWLINES, LONG, UNICODE]
HOSTILE_KEYS = {TEMPLATE: "k1", 'a"}: {"b': "k2", "x\ny": "k3", "${jsonencode(var)}": "k4"}


def _hostile_operator_infra() -> dict[str, Any]:
    return {
        "namespace": TEMPLATE,
        "domain_name": DIRECTIVE,
        "subdomain": QUOTES,
        "zone_id": BACKSLASHES,
        "acm_certificate_arn": NEWLINES,
        "custom_domain_filter": LONG,
        "k8s_namespace": UNICODE,
        "allowed_inbound_cidr": HOSTILE,
        "other_wandb_env": {**HOSTILE_KEYS, "values": HOSTILE},
        "kubernetes_map_roles": [{"rolearn": TEMPLATE, "username": DIRECTIVE, "groups": [QUOTES]}],
    }


def _forms(value: str) -> list[bytes]:
    """The raw value and the forms JSON would give it inside a file (escaped, ASCII-escaped)."""
    forms = {value.encode("utf-8", "surrogatepass")}
    forms.add(json.dumps(value)[1:-1].encode())
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass"))
    return sorted(forms)


def _tf_json(files: dict[str, bytes]) -> dict[str, bytes]:
    return {name: content for name, content in files.items() if name.endswith(".tf.json")}


@pytest.mark.parametrize("generation", ["operator", "legacy"])
def test_hostile_values_never_reach_a_tf_json_file(generation: str) -> None:
    if generation == "operator":
        config = operator_config(infra=_hostile_operator_infra())
    else:
        config = legacy_config(
            infra={"namespace": TEMPLATE, "domain_name": LONG, "allowed_inbound_cidr": HOSTILE},
            app={
                "wandb_version": DIRECTIVE,
                "oidc_issuer": UNICODE,
                "other_wandb_env": {**HOSTILE_KEYS, "v": NEWLINES},
            },
        )
    files = render_workspace(config, state_bucket=STATE_BUCKET).files

    for name, content in _tf_json(files).items():
        for value in [*HOSTILE, *HOSTILE_KEYS]:
            for form in _forms(value):
                assert form not in content, f"{name} holds a user value"
    # Only the deployer's own interpolations appear, each one a var/module/data/local reference or a known function.
    for content in _tf_json(files).values():
        assert b"%{" not in content
        assert b"file(" not in content


def test_tfvars_hold_hostile_values_exactly() -> None:
    infra = _hostile_operator_infra()
    files = render_workspace(operator_config(infra=infra), state_bucket=STATE_BUCKET).files

    # other_wandb_env is a secret input: the plan build reads it from its parameter into a tfvars file of its own
    assert json.loads(files["terraform.tfvars.json"]) == {k: v for k, v in infra.items() if k != "other_wandb_env"}
    assert files["terraform.tfvars.json"].isascii()
    assert set(json.loads(files["workspace.json"])["secret_variables"]) == {"other_wandb_env"}


def test_hostile_app_values_round_trip_in_tfvars() -> None:
    app = {"wandb_version": LONG, "service_account_annotations": {**HOSTILE_KEYS, "v": UNICODE}}
    files = render_workspace(legacy_config(app=app), state_bucket=STATE_BUCKET).files

    tfvars = json.loads(files["terraform.tfvars.json"])
    assert tfvars["app_wandb_version"] == LONG
    assert tfvars["app_service_account_annotations"] == app["service_account_annotations"]


@pytest.mark.parametrize(
    "key",
    [
        'namespace}${file("/etc/passwd")}',
        "namespace\n",
        "Namespace",
        "name-space",
        "1namespace",
        "",
        "na me",
        '" : "x',
        "ns\u0430me",  # Cyrillic a
    ],
)
@pytest.mark.parametrize("section", ["infra", "app"])
def test_input_names_that_are_not_identifiers_are_refused(section: str, key: str) -> None:
    config = legacy_config(infra={key: "x"}) if section == "infra" else legacy_config(app={key: "x"})
    with pytest.raises(ValueError, match="not a Terraform identifier"):
        render_workspace(config, state_bucket=STATE_BUCKET)


@pytest.mark.parametrize(
    "key", ["count", "for_each", "depends_on", "source", "version", "providers", "lifecycle", "locals"]
)
def test_names_terraform_reserves_are_refused(key: str) -> None:
    with pytest.raises(ValueError, match="cannot be a root variable"):
        render_workspace(operator_config(infra={key: "x"}), state_bucket=STATE_BUCKET)


def test_non_json_values_are_refused() -> None:
    with pytest.raises(ValueError, match="JSON data"):
        render_workspace(
            operator_config(infra={"namespace": "w", "kubernetes_node_count": float("nan")}), state_bucket=STATE_BUCKET
        )


def _terraform_available() -> bool:
    return shutil.which("terraform") is not None


@pytest.mark.skipif(not _terraform_available(), reason="needs a local terraform binary (no network used)")
def test_real_terraform_keeps_tfvars_values_inert(tmp_path: Path) -> None:
    """Given the rendered variables and tfvars, Terraform itself hands every hostile value through verbatim.

    Offline: local stub modules replace the registry modules, no providers, no backend (only the aws module's
    inputs and the wiring are exercised; provider blocks need provider schemas that are not available offline).
    """
    infra = _hostile_operator_infra()
    rendered = render_workspace(legacy_config(infra=infra, app={"wandb_version": NEWLINES}), state_bucket=STATE_BUCKET)
    workspace = tmp_path / "ws"
    rendered.write_to(workspace)
    (workspace / "providers.tf.json").unlink()
    (workspace / "terraform.tf.json").unlink()
    main = json.loads((workspace / "main.tf.json").read_text())
    for call, stub in (("wandb_infra", "stub_infra"), ("wandb_app", "stub_app")):
        inputs = [name for name in main["module"][call] if name not in {"source", "version", "depends_on"}]
        stub_dir = workspace / stub
        stub_dir.mkdir()
        echo = {name: "${var." + name + "}" for name in inputs}
        outputs: dict[str, Any] = {"echo": {"value": echo, "sensitive": True}}
        if call == "wandb_infra":
            values = {
                "url": "https://w",
                "bucket_name": "b",
                "bucket_queue_name": "q",
                "bucket_region": "r",
                "cluster_id": "c",
                "kms_key_arn": "k",
                "database_connection_string": "db",
            }
            # every output the release exports (the contract), so the wiring's references resolve as on AWS
            for name in contract_for(AWS_MODULE).release(main["module"][call]["version"]).outputs:
                outputs[name] = {"value": values.get(name)}
        stub_module = {"variable": {name: {"type": "any", "default": None} for name in inputs}, "output": outputs}
        (stub_dir / "main.tf.json").write_text(json.dumps(stub_module))
        main["module"][call]["source"] = f"./{stub}"
        del main["module"][call]["version"]
    (workspace / "main.tf.json").write_text(json.dumps(main))
    harness = {
        "output": {
            "infra": {"value": "${module.wandb_infra.echo}", "sensitive": True},
            "app": {"value": "${module.wandb_app.echo}", "sensitive": True},
        }
    }
    (workspace / "harness.tf.json").write_text(json.dumps(harness))
    (tmp_path / "cli.tfrc").write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "CHECKPOINT_DISABLE": "1",
        "TF_CLI_CONFIG_FILE": str(tmp_path / "cli.tfrc"),
        "TF_IN_AUTOMATION": "1",
        "TF_VAR_license": "not-a-real-license",
    }

    def terraform(*args: str) -> str:
        command = ["terraform", *args]
        done = subprocess.run(command, check=False, cwd=workspace, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    # the plan build writes the secret inputs (other_wandb_env here) into a tfvars JSON file of their own
    secret_inputs = json.loads(rendered.files["workspace.json"])["secret_variables"]
    (workspace / "zz-secret-inputs.auto.tfvars.json").write_text(
        json.dumps({name: infra[name] for name in secret_inputs})
    )
    terraform("init", "-input=false", "-no-color")
    terraform("apply", "-auto-approve", "-input=false", "-no-color")
    outputs = json.loads(terraform("output", "-json"))

    echoed_infra = outputs["infra"]["value"]
    assert {name: echoed_infra[name] for name in infra} == infra
    app = outputs["app"]["value"]
    assert app["wandb_version"] == NEWLINES
    assert app["bucket"] == "s3://b"
    assert app["bucket_queue"] == "sqs://q"
    assert app["database_connection_string"] == "mysql://db"
    assert app["license"] == "not-a-real-license"
