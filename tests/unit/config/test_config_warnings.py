"""Warnings about a valid config: reported by `wbd config validate`, recorded by runs, failing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import REPO
from wandb_deployer.config.config_warnings import config_warnings
from wandb_deployer.settings import Settings
from wbd.cli.main import app
from wbd.config_file import load_config_file

pytestmark = pytest.mark.unit

OPERATOR, LEGACY = REPO / "examples" / "operator.yaml", REPO / "examples" / "legacy.yaml"


def variant(tmp_path: Path, source: Path, **infra: Any) -> Path:
    document = yaml.safe_load(source.read_text())
    document["infra"].update(infra)
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump(document))
    return path


def warnings_for(path: Path, egress: tuple[str, ...] = ()) -> list[str]:
    return config_warnings(load_config_file(path), deployer_egress=egress)


def test_a_queue_the_operator_generation_never_reads_is_warned_about(tmp_path: Path) -> None:
    (warning, _) = warnings_for(variant(tmp_path, OPERATOR, use_internal_queue=False))
    assert warning.startswith("infra/use_internal_queue: false makes wandb/wandb/aws 8.0.0 create an S3 -> SQS queue")
    assert "use_internal_queue: true" in warning


def test_the_modules_default_queue_is_warned_about_too(tmp_path: Path) -> None:
    path = variant(tmp_path, OPERATOR)
    document = yaml.safe_load(path.read_text())
    del document["infra"]["use_internal_queue"]
    path.write_text(yaml.safe_dump(document))
    assert "false (the module's default)" in warnings_for(path)[0]


@pytest.mark.parametrize("infra", [{"use_internal_queue": True}, {"bucket_name": "my-own-bucket"}])
def test_no_queue_no_warning(tmp_path: Path, infra: dict[str, Any]) -> None:
    found = warnings_for(variant(tmp_path, OPERATOR, **{"use_internal_queue": False, **infra}))
    assert not [w for w in found if w.startswith("infra/use_internal_queue")]


def test_the_legacy_generation_reads_its_queue(tmp_path: Path) -> None:
    assert not [w for w in warnings_for(LEGACY) if "use_internal_queue" in w]


def test_restricted_inbound_without_a_known_deployer_egress_is_warned_about() -> None:
    (warning,) = [w for w in warnings_for(OPERATOR) if w.startswith("infra/allowed_inbound_cidr")]
    assert "admits only 203.0.113.0/24, 198.51.100.0/24" in warning and "HealthCheckSubnetIds" in warning


@pytest.mark.parametrize(
    ("allowed", "egress", "warned"),
    [
        (["0.0.0.0/0"], (), False),
        (["203.0.113.0/24"], ("203.0.113.7/32",), False),
        (["203.0.113.0/24"], ("192.0.2.7/32",), True),
        (["203.0.113.0/24"], ("203.0.113.7/32", "192.0.2.7/32"), True),
        (["203.0.113.0/24"], ("2001:db8::1/128",), True),
    ],
)
def test_allowed_inbound_against_the_deployers_egress(
    tmp_path: Path, allowed: list[str], egress: tuple[str, ...], warned: bool
) -> None:
    found = [
        w for w in warnings_for(variant(tmp_path, OPERATOR, allowed_inbound_cidr=allowed), egress) if "inbound" in w
    ]
    assert bool(found) is warned, found
    if warned and egress:
        assert "192.0.2.7/32" in found[0] or "2001:db8::1/128" in found[0]
        assert "203.0.113.7/32" not in found[0]


def test_the_settings_read_the_stacks_egress() -> None:
    settings = Settings.model_validate(
        {
            "artifacts_bucket": "abc",
            "state_bucket": "abc",
            "deployments_table": "t",
            "health_check_egress_cidrs": " 203.0.113.7/32, ,198.51.100.9/32",
        }
    )
    assert settings.health_check_egress_cidrs == ("203.0.113.7/32", "198.51.100.9/32")


def test_validate_prints_warnings_and_still_passes(tmp_path: Path) -> None:
    path = variant(tmp_path, OPERATOR, use_internal_queue=False)
    result = CliRunner().invoke(app, ["config", "validate", str(path), "--deployer-egress", "203.0.113.7/32"])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout
    assert "warning: infra/use_internal_queue: false" in result.stdout
    assert "allowed_inbound_cidr" not in result.stdout  # the given egress is admitted
