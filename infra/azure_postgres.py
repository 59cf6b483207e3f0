"""FlexiblePostgres: Azure Database for PostgreSQL Flexible Server for the platform's databases.

Private access only: the server lives in a subnet delegated to it, resolves through a private DNS
zone linked to the VNet, and has public network access disabled. TLS is required. The databases
are Azure resources (protected with the data); their roles and ownership are converged by the
platform's bootstrap Job, the same one the in-cluster Postgres uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi
import pulumi_azure_native as azure

from infra.azure_dns import linked_private_zone
from infra.azure_settings import AzureSettings, FlexibleServerOptions
from platform_components.credentials import Credentials
from platform_components.images import POSTGRES_MAJOR
from platform_components.postgres import AppDatabase, ExternalServer

ADMIN_LOGIN = "mlopsadmin"  # Azure refuses admin, root, azure_superuser and pg_* names


def server_name(settings: AzureSettings) -> str:
    return f"{settings.dashed_name}-pg"


def server_host(settings: AzureSettings) -> str:
    """Known before the server exists: clients' config needs no value from Azure."""
    return f"{server_name(settings)}.postgres.database.azure.com"


@dataclass(frozen=True)
class FlexiblePostgresArgs:
    settings: AzureSettings
    options: FlexibleServerOptions
    databases: tuple[AppDatabase, ...]
    resource_group_name: pulumi.Input[str]
    vnet_id: pulumi.Input[str]
    subnet_id: pulumi.Input[str]  # delegated to Microsoft.DBforPostgreSQL/flexibleServers
    protect: bool = False
    credentials: Credentials = field(default_factory=Credentials)


def high_availability(options: FlexibleServerOptions, zones: tuple[str, ...]) -> dict[str, str]:
    """Zone-redundant HA with the standby in the second of the cluster's zones, or none."""
    if not options.high_availability:
        return {"mode": "Disabled"}
    return {"mode": "ZoneRedundant", **({"standby_availability_zone": zones[1]} if len(zones) > 1 else {})}


class FlexiblePostgres(pulumi.ComponentResource):
    """Azure Database for PostgreSQL Flexible Server, private and TLS-only, with the platform's
    databases; `server` is what the platform's clients and bootstrap Job connect to."""

    server: ExternalServer

    def __init__(self, name: str, args: FlexiblePostgresArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:infra:FlexiblePostgres", name, None, opts)
        settings, options, protect = args.settings, args.options, args.protect
        resource_group_name = args.resource_group_name
        child = pulumi.ResourceOptions(parent=self)
        data = pulumi.ResourceOptions(parent=self, protect=protect)
        zones = settings.aks.zones

        dns = linked_private_zone(name, f"{settings.dashed_name}.private.postgres.database.azure.com",
                                  resource_group_name=resource_group_name, vnet_id=args.vnet_id, parent=self)
        admin_password = args.credentials.password(f"{name}-admin-password", 32, parent=self)
        server = azure.dbforpostgresql.Server(
            f"{name}-server",
            resource_group_name=resource_group_name,
            server_name=server_name(settings),
            location=settings.location,
            version=str(POSTGRES_MAJOR),  # the major the in-cluster image and the tests run
            sku={"name": options.sku, "tier": options.tier},
            storage={"storage_size_gb": options.storage_gb, "auto_grow": "Enabled"},
            backup={
                "backup_retention_days": options.backup_retention_days,
                "geo_redundant_backup": "Enabled" if options.geo_redundant_backup else "Disabled",
            },
            high_availability=high_availability(options, zones),
            availability_zone=zones[0] if zones else None,
            network={
                "delegated_subnet_resource_id": args.subnet_id,
                "private_dns_zone_arm_resource_id": dns.zone.id,
                "public_network_access": "Disabled",
            },
            auth_config={"password_auth": "Enabled", "active_directory_auth": "Disabled"},
            administrator_login=ADMIN_LOGIN,
            administrator_login_password=admin_password,
            # Its automatic backups go with it: a deliberate destroy leaves the server in Azure.
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect, depends_on=[dns.link]),
        )
        settings_applied = []
        for parameter, value in (("require_secure_transport", "on"), ("ssl_min_protocol_version", "TLSv1.2")):
            settings_applied.append(
                azure.dbforpostgresql.Configuration(
                    f"{name}-{parameter.replace('_', '-')}",
                    resource_group_name=resource_group_name,
                    server_name=server.name,
                    configuration_name=parameter,
                    value=value,
                    source="user-override",
                    opts=child,
                )
            )
        for database in args.databases:
            azure.dbforpostgresql.Database(
                f"{name}-{database.name.replace('_', '-')}",
                resource_group_name=resource_group_name,
                server_name=server.name,
                database_name=database.name,
                charset="UTF8",
                collation="en_US.utf8",
                opts=pulumi.ResourceOptions.merge(data, pulumi.ResourceOptions(depends_on=settings_applied)),
            )
        self.server = ExternalServer(
            host=server_host(settings),
            admin_user=ADMIN_LOGIN,
            admin_password=admin_password,
            cidr=settings.network.postgres_subnet,
        )
        self.register_outputs({"host": self.server.host})
