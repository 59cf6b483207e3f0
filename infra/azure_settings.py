"""Typed, validated settings of the Azure environments (stack keys `azure*`, `aks*`, `postgres*`).

Plain dataclasses like the platform's options: each checks itself and raises an ArgError naming
its field, which infra/settings.py maps back to the stack key. The address plan is derived from
one VNet range so that a stack sets one CIDR, not four that must agree.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from platform_components.stack_keys import setting, setting_group
from platform_components.validation import ArgError, require_min, require_one_of

UPGRADE_CHANNELS = ("none", "patch", "stable", "rapid", "node-image")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SKU_TIERS = ("Free", "Standard", "Premium")
KUBELOGIN_MODES = ("azurecli", "workloadidentity", "spn", "msi", "devicecode", "interactive")
REGISTRY_SKUS = ("Basic", "Standard", "Premium")
POSTGRES_TIERS = ("Burstable", "GeneralPurpose", "MemoryOptimized")
# Azure Database for PostgreSQL Flexible Server accepts these premium SSD sizes.
POSTGRES_STORAGE_GB = (32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32767)
REPLICATIONS = ("Standard_LRS", "Standard_ZRS", "Standard_GRS", "Standard_GZRS", "Standard_RAGZRS")
NAME_SUFFIX = re.compile(r"[a-z0-9]{3,8}")
STORAGE_ACCOUNT_MAX = 24
REGISTRY_ID = re.compile(r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.ContainerRegistry/registries/[A-Za-z0-9]+")


@dataclass(frozen=True)
class NetworkPlan:
    """One VNet: the upper half for nodes, then small subnets for the database and private endpoints.
    Pods (Azure CNI overlay) and Services get ranges outside the VNet."""

    vnet_cidr: str = setting("azureVnetCidr")
    pod_cidr: str = setting("aksPodCidr")
    service_cidr: str = setting("aksServiceCidr")

    def __post_init__(self) -> None:
        vnet = _network("vnet_cidr", self.vnet_cidr)
        if vnet.prefixlen > 22:
            raise ArgError("vnet_cidr", f"must be a /22 or larger range, got {self.vnet_cidr}")
        pods, services = _network("pod_cidr", self.pod_cidr), _network("service_cidr", self.service_cidr)
        for field, network in (("pod_cidr", pods), ("service_cidr", services)):
            if network.overlaps(vnet):
                raise ArgError(field, f"{network} overlaps the VNet {vnet}")
        if pods.overlaps(services):
            raise ArgError("service_cidr", f"{services} overlaps the pod range {pods}")

    @property
    def _halves(self) -> list[ipaddress.IPv4Network]:
        return list(ipaddress.IPv4Network(self.vnet_cidr).subnets(prefixlen_diff=1))

    @property
    def node_subnet(self) -> str:
        return str(self._halves[0])

    def _small(self, index: int) -> str:
        return str(list(self._halves[1].subnets(new_prefix=27))[index])

    @property
    def postgres_subnet(self) -> str:
        """Delegated to Microsoft.DBforPostgreSQL/flexibleServers (a /27 leaves room for HA)."""
        return self._small(0)

    @property
    def endpoint_subnet(self) -> str:
        """Private endpoints (the storage account's blob endpoint)."""
        return self._small(1)

    @property
    def dns_service_ip(self) -> str:
        return str(ipaddress.IPv4Network(self.service_cidr).network_address + 10)


def _network(field: str, cidr: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(cidr)
    except ValueError as error:
        raise ArgError(field, f"must be an IPv4 CIDR range, got {cidr!r} ({error})") from None


@dataclass(frozen=True)
class AksOptions:
    kubernetes_version: str = setting("aksKubernetesVersion")
    system_vm_size: str = setting("aksSystemVmSize")
    system_node_count: int = setting("aksSystemNodeCount")
    user_vm_size: str = setting("aksUserVmSize")
    user_min_count: int = setting("aksUserMinCount")
    user_max_count: int = setting("aksUserMaxCount")
    zones: tuple[str, ...] = setting("aksZones")
    admin_group_object_ids: tuple[str, ...] = setting("aksAdminGroupObjectIds")
    disable_local_accounts: bool = setting("aksDisableLocalAccounts")
    upgrade_channel: str = setting("aksUpgradeChannel")
    maintenance_day: str = setting("aksMaintenanceDay")
    maintenance_start_hour: int = setting("aksMaintenanceStartHour")
    sku_tier: str = setting("aksSkuTier")
    kubelogin_mode: str = setting("aksKubeloginMode")
    # Further registries (a shared build registry) the kubelet may pull from.
    pull_registry_ids: tuple[str, ...] = setting("aksPullRegistryIds")

    def __post_init__(self) -> None:
        if not re.fullmatch(r"1\.\d+(\.\d+)?", self.kubernetes_version):
            raise ArgError("kubernetes_version", f"must be like 1.33 or 1.33.2, got {self.kubernetes_version!r}")
        require_min("system_node_count", self.system_node_count, 1)
        require_min("user_min_count", self.user_min_count, 0)
        if self.user_max_count < max(self.user_min_count, 1):
            raise ArgError("user_max_count", f"must be >= 1 and >= the minimum {self.user_min_count}, got {self.user_max_count}")
        for zone in self.zones:
            require_one_of("zones", zone, ("1", "2", "3"))
        if not self.admin_group_object_ids:
            raise ArgError(
                "admin_group_object_ids",
                "must list at least one Microsoft Entra group object ID: with Azure RBAC and local "
                "accounts off, that group is how anyone administers the cluster",
            )
        for group in self.admin_group_object_ids:
            if not re.fullmatch(r"[0-9a-fA-F-]{36}", group):
                raise ArgError("admin_group_object_ids", f"must be object IDs (GUIDs), got {group!r}")
        require_one_of("upgrade_channel", self.upgrade_channel, UPGRADE_CHANNELS)
        require_one_of("maintenance_day", self.maintenance_day, WEEKDAYS)
        if not 0 <= self.maintenance_start_hour <= 23:
            raise ArgError("maintenance_start_hour", f"must be an hour 0-23 (UTC), got {self.maintenance_start_hour}")
        require_one_of("sku_tier", self.sku_tier, SKU_TIERS)
        require_one_of("kubelogin_mode", self.kubelogin_mode, KUBELOGIN_MODES)
        for registry in self.pull_registry_ids:
            if not REGISTRY_ID.fullmatch(registry):
                raise ArgError("pull_registry_ids", "must be registry resource IDs like /subscriptions/<id>/resourceGroups/"
                                                    f"<group>/providers/Microsoft.ContainerRegistry/registries/<name>, got {registry!r}")


# "Maximum user connections" per compute SKU: the default max_connections minus the 15 that Azure
# reserves (learn.microsoft.com/azure/postgresql/flexible-server/concepts-limits). SKUs not listed
# are not checked.
USER_CONNECTIONS = {
    "Standard_B1ms": 35, "Standard_B2s": 414, "Standard_B2ms": 844, "Standard_B4ms": 1703,
    **{f"Standard_D2{v}": 844 for v in ("s_v3", "ds_v4", "ds_v5", "ads_v5")},
    **{f"Standard_D4{v}": 1703 for v in ("s_v3", "ds_v4", "ds_v5", "ads_v5")},
    **{f"Standard_E2{v}": 1703 for v in ("s_v3", "ds_v4", "ds_v5", "ads_v5")},
}
# Connections left for the platform's other clients (feature server, jobs, backups, an admin).
OTHER_CLIENTS_CONNECTIONS = 10


@dataclass(frozen=True)
class FlexibleServerOptions:
    """Azure Database for PostgreSQL Flexible Server (config keys `postgresFlexible*`, `postgresBackup*`)."""

    sku: str = setting("postgresFlexibleSku")
    tier: str = setting("postgresFlexibleTier")
    storage_gb: int = setting("postgresFlexibleStorageGb")
    high_availability: bool = setting("postgresFlexibleHighAvailability")
    backup_retention_days: int = setting("postgresBackupRetentionDays")
    geo_redundant_backup: bool = setting("postgresGeoRedundantBackup")

    def __post_init__(self) -> None:
        require_one_of("tier", self.tier, POSTGRES_TIERS)
        if not self.sku.startswith("Standard_"):
            raise ArgError("sku", f"must be a compute SKU like Standard_B1ms or Standard_D2ds_v5, got {self.sku!r}")
        if self.storage_gb not in POSTGRES_STORAGE_GB:
            raise ArgError("storage_gb", f"must be one of {', '.join(map(str, POSTGRES_STORAGE_GB))}, got {self.storage_gb}")
        if self.high_availability and self.tier == "Burstable":
            raise ArgError("high_availability", "needs the GeneralPurpose or MemoryOptimized tier (Burstable has no HA)")
        if not 7 <= self.backup_retention_days <= 35:
            raise ArgError("backup_retention_days", f"must be 7-35 days, got {self.backup_retention_days}")


@dataclass(frozen=True)
class BlobStoreOptions:
    replication: str = setting("azureStorageReplication")
    soft_delete_days: int = setting("azureBlobSoftDeleteDays")

    def __post_init__(self) -> None:
        require_one_of("replication", self.replication, REPLICATIONS)
        if not 1 <= self.soft_delete_days <= 365:
            raise ArgError("soft_delete_days", f"must be 1-365 days, got {self.soft_delete_days}")


@dataclass(frozen=True)
class AzureSettings:
    location: str = setting("azureLocation")
    name_suffix: str = setting("azureNameSuffix")
    log_retention_days: int = setting("azureLogRetentionDays")
    registry_sku: str = setting("azureRegistrySku")
    aks: AksOptions = setting_group()
    network: NetworkPlan = setting_group()
    stack: str  # the stack's name, given by the program
    postgres: FlexibleServerOptions | None = None  # None: Postgres runs in the cluster
    blob: BlobStoreOptions | None = None  # None: MLflow's artifacts stay on the S3 store

    def __post_init__(self) -> None:
        if not self.location:
            raise ArgError("location", "must name an Azure region, e.g. westeurope: pulumi config set azureLocation westeurope")
        if not NAME_SUFFIX.fullmatch(self.name_suffix):
            raise ArgError(
                "name_suffix",
                "must be 3-8 lowercase letters or digits that make this stack's globally unique Azure "
                f"names (storage account, registry, Postgres server) yours, got {self.name_suffix!r}",
            )
        if len(self.compact_name) > STORAGE_ACCOUNT_MAX:
            raise ArgError("name_suffix", f"makes the storage account name {self.compact_name!r} longer than 24 characters")
        if not 30 <= self.log_retention_days <= 730:
            raise ArgError("log_retention_days", f"must be 30-730 days, got {self.log_retention_days}")
        require_one_of("registry_sku", self.registry_sku, REGISTRY_SKUS)

    @property
    def compact_name(self) -> str:
        """For names that allow only lowercase letters and digits (storage account, registry)."""
        return re.sub(r"[^a-z0-9]", "", f"mlops{self.stack}{self.name_suffix}".lower())

    @property
    def registry_host(self) -> str:
        """The stack's container registry (Azure names it after the registry)."""
        return f"{self.compact_name}.azurecr.io"

    @property
    def dashed_name(self) -> str:
        """For names that allow dashes (resource group, cluster, Postgres server)."""
        return f"mlops-{self.stack}-{self.name_suffix}"
