"""Verification of what was deployed: the S3 -> SQS wiring (configuration and a live probe) and W&B's health."""

from __future__ import annotations

from wandb_deployer.verification.health import check_health
from wandb_deployer.verification.probe import PROBE_PREFIX, probe_wiring
from wandb_deployer.verification.wiring import expects_queue, verify_wiring

__all__ = ["PROBE_PREFIX", "check_health", "expects_queue", "probe_wiring", "verify_wiring"]
