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

import pulumi
import pulumi_azure_native as azure
import yaml

from infra.azure_settings import AzureSettings

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


class AksCluster(pulumi.ComponentResource):
    resource_group_name: pulumi.Output[str]
    vnet_id: pulumi.Output[str]
    postgres_subnet_id: pulumi.Output[str]
    endpoint_subnet_id: pulumi.Output[str]
    oidc_issuer_url: pulumi.Output[str]
    kubeconfig: pulumi.Output[str]  # a Pulumi secret
    registry_login_server: pulumi.Output[str]
    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, settings: AzureSettings, protect: bool = False,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:infra:AksCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        aks, plan, location = settings.aks, settings.network, settings.location
        tags = {"project": "mlops-platform", "environment": settings.stack}

        # Deleting the group deletes everything in it, the data too: with protected data it is
        # protected as well, and kept in Azure even by a deliberate `pulumi destroy` (docs/azure.md).
        group = azure.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=f"rg-{settings.dashed_name}", location=location, tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        logs = azure.operationalinsights.Workspace(
            f"{name}-logs",
            resource_group_name=group.name,
            workspace_name=f"{settings.dashed_name}-logs",
            location=location,
            sku={"name": "PerGB2018"},
            retention_in_days=settings.log_retention_days,
            tags=tags,
            opts=child,
        )
        vnet = azure.network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=group.name,
            virtual_network_name=f"{settings.dashed_name}-vnet",
            location=location,
            address_space={"address_prefixes": [plan.vnet_cidr]},
            tags=tags,
            # Subnets are their own resources below; Azure would otherwise see them as drift.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        nodes = azure.network.Subnet(
            f"{name}-nodes",
            resource_group_name=group.name,
            virtual_network_name=vnet.name,
            subnet_name="nodes",
            address_prefix=plan.node_subnet,
            opts=child,
        )
        # One subnet operation per VNet at a time (Azure answers AnotherOperationInProgress).
        postgres_subnet = azure.network.Subnet(
            f"{name}-postgres-subnet",
            resource_group_name=group.name,
            virtual_network_name=vnet.name,
            subnet_name="postgres",
            address_prefix=plan.postgres_subnet,
            delegations=[{"name": "postgres", "service_name": "Microsoft.DBforPostgreSQL/flexibleServers"}],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[nodes]),
        )
        endpoint_subnet = azure.network.Subnet(
            f"{name}-endpoint-subnet",
            resource_group_name=group.name,
            virtual_network_name=vnet.name,
            subnet_name="private-endpoints",
            address_prefix=plan.endpoint_subnet,
            private_endpoint_network_policies="Enabled",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[postgres_subnet]),
        )

        zones = list(aks.zones) or None
        pool = {
            "os_type": "Linux",
            "os_sku": "AzureLinux",
            "type": "VirtualMachineScaleSets",
            "vnet_subnet_id": nodes.id,
            "availability_zones": zones,
            "max_pods": 110,
            "upgrade_settings": {"max_surge": "33%"},
        }
        cluster = azure.containerservice.ManagedCluster(
            f"{name}-cluster",
            resource_group_name=group.name,
            resource_name_=f"{settings.dashed_name}-aks",
            location=location,
            dns_prefix=settings.dashed_name,
            kubernetes_version=aks.kubernetes_version,
            sku={"name": "Base", "tier": aks.sku_tier},
            identity={"type": "SystemAssigned"},
            agent_pool_profiles=[
                {
                    **pool,
                    "name": "system",
                    "mode": "System",
                    "vm_size": aks.system_vm_size,
                    "count": aks.system_node_count,
                    "enable_auto_scaling": False,
                    # Only cluster add-ons run here; the platform runs on the user pool.
                    "node_taints": ["CriticalAddonsOnly=true:NoSchedule"],
                },
                {
                    **pool,
                    "name": "user",
                    "mode": "User",
                    "vm_size": aks.user_vm_size,
                    "count": aks.user_min_count,
                    "enable_auto_scaling": True,
                    "min_count": aks.user_min_count,
                    "max_count": aks.user_max_count,
                },
            ],
            network_profile={
                "network_plugin": "azure",
                "network_plugin_mode": "overlay",
                "network_dataplane": "cilium",
                "network_policy": "cilium",  # enforces the platform's NetworkPolicies
                "pod_cidr": plan.pod_cidr,
                "service_cidr": plan.service_cidr,
                "dns_service_ip": plan.dns_service_ip,
                "load_balancer_sku": "standard",
                "outbound_type": "loadBalancer",
            },
            oidc_issuer_profile={"enabled": True},
            security_profile={"workload_identity": {"enabled": True}},
            aad_profile={
                "managed": True,
                "enable_azure_rbac": True,
                "admin_group_object_ids": list(aks.admin_group_object_ids),
            },
            enable_rbac=True,
            disable_local_accounts=aks.disable_local_accounts,
            auto_upgrade_profile={"upgrade_channel": aks.upgrade_channel, "node_os_upgrade_channel": "NodeImage"},
            addon_profiles={
                "omsagent": {
                    "enabled": True,
                    "config": {"logAnalyticsWorkspaceResourceID": logs.id, "useAADAuth": "true"},
                },
                "azurepolicy": {"enabled": True},
            },
            tags=tags,
            # The autoscaler owns the user pool's node count once the cluster exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["agentPoolProfiles[1].count"]),
        )
        for config_name in MAINTENANCE_CONFIGS:
            azure.containerservice.MaintenanceConfiguration(
                f"{name}-{config_name}",
                resource_group_name=group.name,
                resource_name_=cluster.name,
                config_name=config_name,
                maintenance_window={
                    "schedule": {"weekly": {"day_of_week": aks.maintenance_day, "interval_weeks": 1}},
                    "duration_hours": MAINTENANCE_HOURS,
                    "start_time": f"{aks.maintenance_start_hour:02d}:00",
                    "utc_offset": "+00:00",
                },
                opts=child,
            )

        registry = azure.containerregistry.Registry(
            f"{name}-registry",
            resource_group_name=group.name,
            registry_name=settings.compact_name,
            location=location,
            sku={"name": settings.registry_sku},
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            zone_redundancy="Enabled" if settings.registry_sku == "Premium" and zones else "Disabled",
            tags=tags,
            opts=child,
        )
        client = azure.authorization.get_client_config_output()
        kubelet = cluster.identity_profile.apply(lambda profile: profile["kubeletidentity"].object_id)
        # The stack's registry, and any shared one the pipeline pushes to (docs/pipelines.md).
        pull_scopes: list[tuple[str, pulumi.Input[str]]] = [("kubelet-acr-pull", registry.id)]
        pull_scopes += [(f"kubelet-acr-pull-{registry_id.rsplit('/', 1)[-1].lower()}", registry_id)
                        for registry_id in aks.pull_registry_ids]
        for suffix, scope in pull_scopes:
            azure.authorization.RoleAssignment(
                f"{name}-{suffix}",
                principal_id=kubelet,
                principal_type="ServicePrincipal",
                role_definition_id=role_definition(client.subscription_id, ACR_PULL_ROLE),
                scope=scope,
                opts=child,
            )

        credentials = azure.containerservice.list_managed_cluster_user_credentials_output(
            resource_group_name=group.name, resource_name=cluster.name, format="exec"
        )
        self.kubeconfig = pulumi.Output.secret(
            credentials.kubeconfigs.apply(
                lambda configs: with_kubelogin_mode(base64.b64decode(configs[0].value).decode(), aks.kubelogin_mode)
            )
        )
        self.resource_group_name = group.name
        self.vnet_id = vnet.id
        self.postgres_subnet_id = postgres_subnet.id
        self.endpoint_subnet_id = endpoint_subnet.id
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
