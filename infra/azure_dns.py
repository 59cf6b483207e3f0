"""A private DNS zone resolvable from the platform's VNet (Postgres server, blob private endpoint)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure


@dataclass(frozen=True)
class LinkedZone:
    zone: azure.privatedns.PrivateZone
    link: azure.privatedns.VirtualNetworkLink  # records resolve from the VNet once this exists


def linked_private_zone(name: str, zone_name: str, *, resource_group_name: pulumi.Input[str],
                        vnet_id: pulumi.Input[str], parent: pulumi.Resource) -> LinkedZone:
    """Zone `<name>-dns` and its VNet link `<name>-dns-link` (no auto-registration of VMs)."""
    child = pulumi.ResourceOptions(parent=parent)
    zone = azure.privatedns.PrivateZone(
        f"{name}-dns", resource_group_name=resource_group_name, private_zone_name=zone_name, location="global",
        opts=child,
    )
    link = azure.privatedns.VirtualNetworkLink(
        f"{name}-dns-link",
        resource_group_name=resource_group_name,
        private_zone_name=zone.name,
        virtual_network_link_name="platform-vnet",
        virtual_network={"id": vnet_id},
        registration_enabled=False,
        location="global",
        opts=child,
    )
    return LinkedZone(zone, link)
