"""AksCluster: the Azure side of a qa/prod environment, up to a kubeconfig for the platform.

Creates: a resource group; a VNet with a node subnet, a subnet delegated to Postgres Flexible
Server and one for private endpoints; a Log Analytics workspace for Container Insights; the AKS
cluster (system pool + autoscaling user pool, Azure CNI overlay with Cilium network policy, OIDC
issuer and workload identity, Entra ID with Azure RBAC, automatic upgrades in a maintenance
window); and a container registry the kubelet identity may pull from. The kubeconfig comes from
listManagedClusterUserCredentials and stays a Pulumi secret.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure
import yaml

from infra.azure_settings import AksOptions, AzureSettings, NetworkPlan

# Built-in role definition IDs (the same in every tenant).
ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
MAINTENANCE_HOURS = 4
MAINTENANCE_CONFIGS = ("aksManagedAutoUpgradeSchedule", "aksManagedNodeOSUpgradeSchedule")


def role_definition(subscription_id: pulumi.Input[str], role_id: str) -> pulumi.Output[str]:
    return pulumi.Output.concat("/subscriptions/", subscription_id, "/providers/Microsoft.Authorization/roleDefinitions/",
                                role_id)


def with_kubelogin_mode(kubeconfig: str, mode: str) -> str:
    """AKS hands out an Entra ID kubeconfig whose `kubelogin` exec plugin logs in interactively
    (devicecode). A pipeline cannot: rewrite every user's `--login` to `mode` (azurecli after an
    `az login` with workload identity federation, say)."""
    config = yaml.safe_load(kubeconfig)
    for user in config.get("users") or []:
        exec_ = (user.get("user") or {}).get("exec")
        if not exec_ or "kubelogin" not in str(exec_.get("command", "")):
            continue
        args = list(exec_.get("args") or [])
        if "--login" in args:
            args[args.index("--login") + 1] = mode
        else:
            args += ["--login", mode]
        exec_["args"] = args
    return yaml.safe_dump(config, sort_keys=False)


@dataclass(frozen=True)
class AksClusterArgs:
    settings: AzureSettings
    # With protected data the resource group is protected too, and retained on destroy: deleting
    # it deletes everything in it (docs/azure.md).
    protect: bool = False


@dataclass(frozen=True)
class ClusterNetwork:
    """The VNet and its subnets: nodes, the subnet delegated to Postgres, private endpoints."""

    vnet: azure.network.VirtualNetwork
    nodes: azure.network.Subnet
    postgres: azure.network.Subnet
    endpoints: azure.network.Subnet


def agent_pools(aks: AksOptions, subnet_id: pulumi.Input[str]) -> list[dict[str, Any]]:
    """A fixed system pool tainted for cluster add-ons only, and an autoscaling user pool."""
    common = {
        "os_type": "Linux",
        "os_sku": "AzureLinux",
        "type": "VirtualMachineScaleSets",
        "vnet_subnet_id": subnet_id,
        "availability_zones": list(aks.zones) or None,
        "max_pods": 110,
        "upgrade_settings": {"max_surge": "33%"},
    }
    system = {**common, "name": "system", "mode": "System", "vm_size": aks.system_vm_size,
              "count": aks.system_node_count, "enable_auto_scaling": False,
              # Only cluster add-ons run here; the platform runs on the user pool.
              "node_taints": ["CriticalAddonsOnly=true:NoSchedule"]}
    user = {**common, "name": "user", "mode": "User", "vm_size": aks.user_vm_size, "count": aks.user_min_count,
            "enable_auto_scaling": True, "min_count": aks.user_min_count, "max_count": aks.user_max_count}
    return [system, user]


def network_profile(plan: NetworkPlan) -> dict[str, Any]:
    """Azure CNI overlay with the Cilium dataplane, which enforces the platform's NetworkPolicies."""
    return {
        "network_plugin": "azure",
        "network_plugin_mode": "overlay",
        "network_dataplane": "cilium",
        "network_policy": "cilium",
        "pod_cidr": plan.pod_cidr,
        "service_cidr": plan.service_cidr,
        "dns_service_ip": plan.dns_service_ip,
        "load_balancer_sku": "standard",
        "outbound_type": "loadBalancer",
    }


def maintenance_window(aks: AksOptions) -> dict[str, Any]:
    """One weekly window, used for both Kubernetes and node OS upgrades."""
    return {
        "schedule": {"weekly": {"day_of_week": aks.maintenance_day, "interval_weeks": 1}},
        "duration_hours": MAINTENANCE_HOURS,
        "start_time": f"{aks.maintenance_start_hour:02d}:00",
        "utc_offset": "+00:00",
    }


def pull_scopes(registry_id: pulumi.Input[str], aks: AksOptions) -> list[tuple[str, pulumi.Input[str]]]:
    """(logical name suffix, registry ID) of every registry the kubelet may pull from: the stack's
    own and any shared one the pipeline pushes to (docs/pipelines.md)."""
    return [("kubelet-acr-pull", registry_id)] + [
        (f"kubelet-acr-pull-{registry.rsplit('/', 1)[-1].lower()}", registry) for registry in aks.pull_registry_ids
    ]


class AksCluster(pulumi.ComponentResource):
    """An AKS environment up to the kubeconfig the platform deploys with: resource group, VNet and
    subnets, Log Analytics, the cluster (Entra ID with Azure RBAC, OIDC issuer and workload
    identity, Cilium network policy, upgrades in a maintenance window) and a registry its kubelet
    may pull from."""

    resource_group_name: pulumi.Output[str]
    vnet_id: pulumi.Output[str]
    postgres_subnet_id: pulumi.Output[str]
    endpoint_subnet_id: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # a Pulumi secret
    registry_login_server: pulumi.Output[str]
    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, args: AksClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:infra:AksCluster", name, None, opts)
        settings = args.settings
        self._tags = {"project": "mlops-platform", "environment": settings.stack}
        group = azure.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=f"rg-{settings.dashed_name}", location=settings.location, tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        network = self._network(name, settings, group)
        cluster = self._cluster(name, settings, group, network.nodes)
        registry = self._registry(name, settings, group)
        self._pull_roles(name, settings.aks, cluster, registry)
        credentials = azure.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=group.name, resource_name=cluster.name, format="exec"
        )
        mode = settings.aks.kubelogin_mode
        self.kubeconfig = pulumi.Output.secret(credentials.kubeconfigs.apply(
            lambda configs: with_kubelogin_mode(base64.b64decode(configs[0].value).decode(), mode)))
        self.resource_group_name = group.name
        self.vnet_id = network.vnet.id
        self.postgres_subnet_id = network.postgres.id
        self.endpoint_subnet_id = network.endpoints.id
        self.oidc_issuer_url = cluster.oidc_issuer_profile.apply(lambda profile: profile.issuer_url)
        self.registry_login_server = registry.login_server
        self.cluster_name = cluster.name
        self.register_outputs(
            {
                "resource_group_name": self.resource_group_name,
                "cluster_name": self.cluster_name,
                "oidc_issuer_url": self.oidc_issuer_url,
                "registry_login_server": self.registry_login_server,
            }
        )

    def _network(self, name: str, settings: AzureSettings, group: azure.resources.ResourceGroup) -> ClusterNetwork:
        plan, child = settings.network, pulumi.ResourceOptions(parent=self)
        vnet = azure.network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=group.name,
            virtual_network_name=f"{settings.dashed_name}-vnet",
            location=settings.location,
            address_space={"address_prefixes": [plan.vnet_cidr]},
            tags=self._tags,
            # Subnets are their own resources below; Azure would otherwise see them as drift.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )

        def subnet(logical: str, subnet_name: str, prefix: str, after: list[pulumi.Resource], **extra: Any):
            # One subnet operation per VNet at a time (Azure answers AnotherOperationInProgress).
            return azure.network.Subnet(f"{name}-{logical}", resource_group_name=group.name, virtual_network_name=vnet.name,
                                        subnet_name=subnet_name, address_prefix=prefix,
                                        opts=pulumi.ResourceOptions(parent=self, depends_on=after) if after else child,
                                        **extra)

        nodes = subnet("nodes", "nodes", plan.node_subnet, [])
        postgres = subnet("postgres-subnet", "postgres", plan.postgres_subnet, [nodes],
                          delegations=[{"name": "postgres", "service_name": "Microsoft.DBforPostgreSQL/flexibleServers"}])
        endpoints = subnet("endpoint-subnet", "private-endpoints", plan.endpoint_subnet, [postgres],
                           private_endpoint_network_policies="Enabled")
        return ClusterNetwork(vnet, nodes, postgres, endpoints)

    def _cluster(self, name: str, settings: AzureSettings, group: azure.resources.ResourceGroup,
                 nodes: azure.network.Subnet) -> azure.containerservice.ManagedCluster:
        aks, child = settings.aks, pulumi.ResourceOptions(parent=self)
        logs = azure.operationalinsights.Workspace(
            f"{name}-logs", resource_group_name=group.name, workspace_name=f"{settings.dashed_name}-logs",
            location=settings.location, sku={"name": "PerGB2018"}, retention_in_days=settings.log_retention_days,
            tags=self._tags, opts=child,
        )
        cluster = azure.containerservice.ManagedCluster(
            f"{name}-cluster",
            resource_group_name=group.name,
            resource_name_=f"{settings.dashed_name}-aks",
            location=settings.location,
            dns_prefix=settings.dashed_name,
            kubernetes_version=aks.kubernetes_version,
            sku={"name": "Base", "tier": aks.sku_tier},
            identity={"type": "SystemAssigned"},
            agent_pool_profiles=agent_pools(aks, nodes.id),
            network_profile=network_profile(settings.network),
            oidc_issuer_profile={"enabled": True},
            security_profile={"workload_identity": {"enabled": True}},
            aad_profile={"managed": True, "enable_azure_rbac": True,
                         "admin_group_object_ids": list(aks.admin_group_object_ids)},
            enable_rbac=True,
            disable_local_accounts=aks.disable_local_accounts,
            auto_upgrade_profile={"upgrade_channel": aks.upgrade_channel, "node_os_upgrade_channel": "NodeImage"},
            addon_profiles={
                "omsagent": {"enabled": True,
                             "config": {"logAnalyticsWorkspaceResourceID": logs.id, "useAADAuth": "true"}},
                "azurepolicy": {"enabled": True},
            },
            tags=self._tags,
            # The autoscaler owns the user pool's node count once the cluster exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["agentPoolProfiles[1].count"]),
        )
        for config_name in MAINTENANCE_CONFIGS:
            azure.containerservice.MaintenanceConfiguration(
                f"{name}-{config_name}", resource_group_name=group.name, resource_name_=cluster.name,
                config_name=config_name, maintenance_window=maintenance_window(aks), opts=child,
            )
        return cluster

    def _registry(self, name: str, settings: AzureSettings,
                  group: azure.resources.ResourceGroup) -> azure.containerregistry.Registry:
        """No admin user, no anonymous pull: the kubelet identity pulls with AcrPull."""
        zone_redundant = settings.registry_sku == "Premium" and settings.aks.zones
        return azure.containerregistry.Registry(
            f"{name}-registry",
            resource_group_name=group.name,
            registry_name=settings.compact_name,
            location=settings.location,
            sku={"name": settings.registry_sku},
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            zone_redundancy="Enabled" if zone_redundant else "Disabled",
            tags=self._tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _pull_roles(self, name: str, aks: AksOptions, cluster: azure.containerservice.ManagedCluster,
                    registry: azure.containerregistry.Registry) -> None:
        client = azure.authorization.get_client_config_output()
        kubelet = cluster.identity_profile.apply(lambda profile: profile["kubeletidentity"].object_id)
        for suffix, scope in pull_scopes(registry.id, aks):
            azure.authorization.RoleAssignment(
                f"{name}-{suffix}",
                principal_id=kubelet,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition(client.subscription_id, ACR_PULL_ROLE),
                scope=scope,
                opts=pulumi.ResourceOptions(parent=self),
            )
