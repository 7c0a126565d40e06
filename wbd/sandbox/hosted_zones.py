"""Route53 hosted zones the sandbox provides with fixed ids, as the operator's account already has them.

The W&B module never creates the zone: it takes `zone_id` of an existing one and puts W&B's records there. The
examples name `Z0123456789ABCDEFGHIJ` for `example.com`, so the sandbox provides that zone at start (and tests can
provide others). moto makes zone ids up, so the id is registered with moto's id manager (`moto_id`) for the moment
the zone is created; that works because the emulator runs in this process.
"""

from __future__ import annotations

from typing import Any

from moto.route53.models import HostedZoneIdentifier
from moto.utilities.id_generator import moto_id_manager

from wbd.sandbox.emulator import ACCOUNT_ID, emulator_client

# The zone of examples/operator.yaml and examples/legacy.yaml (`infra/zone_id`, `infra/domain_name`).
EXAMPLE_ZONES = {"Z0123456789ABCDEFGHIJ": "example.com"}


def provide_hosted_zone(zone_id: str, domain: str, *, route53: Any = None, account_id: str = ACCOUNT_ID) -> None:
    """Create the public hosted zone `domain` with the id `zone_id` (nothing when it exists already); `route53`
    defaults to the running sandbox's emulator."""
    route53 = route53 or emulator_client("route53")
    existing = route53.list_hosted_zones()["HostedZones"]
    if any(zone["Id"].rsplit("/", 1)[-1] == zone_id for zone in existing):
        return
    identifier = HostedZoneIdentifier(account_id, f"{domain.rstrip('.')}.", None)
    moto_id_manager.set_custom_id(identifier, zone_id)
    try:
        route53.create_hosted_zone(Name=domain, CallerReference=f"wbd-sandbox-{zone_id}")
    finally:
        moto_id_manager.unset_custom_id(identifier)
