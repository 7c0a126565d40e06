"""`wbd config push` and the versions SSM holds: warn when the file is behind SSM (an upgrade happened since the file
was written), and refuse what the upgrade guards refuse (a downgrade without --force, EKS or a module major backwards,
EKS more than one minor step, a module major across a documented transition: that is `wbd upgrade`'s runbook). The
deploy workflow applies the same guards to every change; this only says it early.
"""

from __future__ import annotations

from typing import Any

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.config.parameters import load_deployment_config
from wandb_deployer.errors import InvalidConfigError, UnknownDeploymentError
from wandb_deployer.runs.config_snapshot import snapshot_values
from wandb_deployer.upgrade.guards import guard_config_change, parse_version
from wandb_deployer.upgrade.runbooks import transition_by_hand
from wbd.cli.errors import CliError, ExitCode

VERSION_KEYS = (
    "deployer/module_version",
    "deployer/app_module_version",
    "deployer/terraform_version",
    "infra/eks_cluster_version",
    "app/wandb_version",
)


def _in_ssm(deployment: str, *, prefix: str, ssm: Any, exists: bool) -> DeploymentConfig | None:
    """The config SSM holds now (without secrets), or None when there is none or it is invalid (nothing to compare)."""
    if not exists:
        return None
    try:
        return load_deployment_config(deployment, prefix=prefix, ssm=ssm, with_secrets=False)
    except (InvalidConfigError, UnknownDeploymentError):
        return None


def _older(left: str, right: str) -> bool:
    try:
        return parse_version(left) < parse_version(right)
    except ValueError:
        return False


def behind_ssm(config: DeploymentConfig, *, prefix: str, ssm: Any, exists: bool) -> list[str]:
    """One warning per version the file has older than SSM."""
    held = _in_ssm(config.deployment, prefix=prefix, ssm=ssm, exists=exists)
    if held is None:
        return []
    in_file, in_ssm = snapshot_values(config), snapshot_values(held)
    return [
        f"{key}: the file has {in_file[key]}, SSM has {in_ssm[key]}: the file is behind SSM (an upgrade or a hand "
        f"edit); `wbd config pull {config.deployment} --out FILE` writes SSM back to YAML"
        for key in VERSION_KEYS
        if key in in_file and key in in_ssm and _older(in_file[key], in_ssm[key])
    ]


def guard_push(config: DeploymentConfig, *, prefix: str, ssm: Any, exists: bool, force: bool) -> bool:
    """True when pushing `config` downgrades a version that --force allows (deployer/allow_downgrade is then written);
    CliError (nothing written) when the guards refuse it."""
    held = _in_ssm(config.deployment, prefix=prefix, ssm=ssm, exists=exists)
    if held is None:
        return False
    values = snapshot_values(held)
    by_hand = transition_by_hand(values, config)
    if by_hand:  # --force is for downgrades; a documented transition runs as its runbook
        raise CliError([f"refused: {by_hand}", "nothing written"], ExitCode.USAGE)
    reasons = guard_config_change(values, config, allow_downgrade=False)
    if not reasons:
        return False
    if not force:
        raise CliError([*(f"refused: {reason}" for reason in reasons), "nothing written"], ExitCode.USAGE)
    remaining = guard_config_change(values, config, allow_downgrade=True)
    if remaining:
        raise CliError(
            [*(f"refused even with --force: {reason}" for reason in remaining), "nothing written"], ExitCode.USAGE
        )
    return True
