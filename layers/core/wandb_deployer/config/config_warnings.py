"""Warnings about a valid config: what the deployer tells the operator but lets run.

A warning reads like a problem (`<section>/<key>: <what>`) and fails nothing: `wbd config validate` prints it after the
summary, and every run records it (the run's `details.warnings`). Warnings never contain secrets (they quote only
inputs that are not secret: CIDRs, flags, versions).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from wandb_deployer.config.model import DeploymentConfig
from wandb_deployer.verification.queue_use import wandb_reads_queue
from wandb_deployer.verification.wiring import expects_queue

_EVERYWHERE = 0  # prefix length of 0.0.0.0/0
AWS_MODULE = "wandb/wandb/aws"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _unread_queue(config: DeploymentConfig) -> list[str]:
    deployer = config.deployer
    if not expects_queue(config.infra):
        return []
    if wandb_reads_queue(deployer.generation, deployer.module_version, deployer.app_module_version) is not False:
        return []
    value = "false" if "use_internal_queue" in config.infra else "false (the module's default)"
    return [
        f"infra/use_internal_queue: {value} makes {AWS_MODULE} {deployer.module_version} create an S3 -> SQS queue "
        "that W&B never reads (this release passes no queue to the W&B operator's values, only the bucket, MySQL "
        "and Redis); set use_internal_queue: true, as the module's own examples do (examples/public-dns-external)"
    ]


def _networks(values: Sequence[object]) -> list[Network]:
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value), strict=False))
        except ValueError:
            continue  # validation reports malformed CIDRs; a warning has nothing to add
    return networks


def _within(inner: Network, outer: Network) -> bool:
    if isinstance(inner, ipaddress.IPv4Network) and isinstance(outer, ipaddress.IPv4Network):
        return inner.subnet_of(outer)
    if isinstance(inner, ipaddress.IPv6Network) and isinstance(outer, ipaddress.IPv6Network):
        return inner.subnet_of(outer)
    return False


def _unreachable_from_deployer(config: DeploymentConfig, deployer_egress: Sequence[str]) -> list[str]:
    allowed_values = config.infra.get("allowed_inbound_cidr")
    if not isinstance(allowed_values, list) or not allowed_values:
        return []
    allowed = _networks(allowed_values)
    if any(network.prefixlen == _EVERYWHERE for network in allowed):
        return []
    shown = ", ".join(str(value) for value in allowed_values)
    fallback = (
        "W&B's endpoints will time out from the deployer, and health is then judged by the load balancer's target "
        "health (a warning, not a failure)"
    )
    if not deployer_egress:
        return [
            f"infra/allowed_inbound_cidr: admits only {shown}, and no fixed source address of the deployer's health "
            "checks is known (HealthCheckEgressCidrs is empty; without HealthCheckSubnetIds the health function runs "
            f"outside any VPC, from changing AWS addresses): {fallback}. To check the endpoints too, deploy the "
            "deployer with HealthCheckSubnetIds (subnets with a NAT), add the NAT's address here and set "
            "HealthCheckEgressCidrs to it"
        ]
    missing = [
        egress
        for egress in deployer_egress
        if not any(_within(network, net) for network in _networks([egress]) for net in allowed)
    ]
    if not missing:
        return []
    return [
        f"infra/allowed_inbound_cidr: admits only {shown}, not the deployer's health-check egress "
        f"{', '.join(missing)} (HealthCheckEgressCidrs): {fallback}. Add the egress here to check the endpoints too"
    ]


def config_warnings(config: DeploymentConfig, *, deployer_egress: Sequence[str] = ()) -> list[str]:
    """Warnings about `config`, one line each. `deployer_egress`: the CIDRs the health checks come from (the
    template's HealthCheckEgressCidrs; empty: no fixed address, the health function runs outside a VPC)."""
    return [*_unread_queue(config), *_unreachable_from_deployer(config, deployer_egress)]
