"""BlobArtifactStore: MLflow's artifacts in Azure Blob, reached privately with workload identity.

A storage account with no public network access (a private endpoint in the VNet instead), no
anonymous blobs, TLS 1.2, shared keys off (Entra ID only), blob versioning and soft delete; one
container for MLflow. The identity chain: a user-assigned identity, a federated credential that
trusts the cluster's OIDC issuer for MLflow's ServiceAccount, and a data role on the container.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from infra.aks import role_definition
from infra.azure_dns import linked_private_zone
from infra.azure_settings import AzureSettings, BlobStoreOptions
from platform_components.mlflow_server import AzureBlobArtifacts
from platform_components.platform import ARTIFACTS_BUCKET, AzureArtifactStore

STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
TOKEN_AUDIENCE = "api://AzureADTokenExchange"
BLOB_DNS_ZONE = "privatelink.blob.core.windows.net"


def service_account_subject(namespace: str, service_account: str) -> str:
    """The `sub` claim of the tokens the cluster issues to that ServiceAccount."""
    return f"system:serviceaccount:{namespace}:{service_account}"


@dataclass(frozen=True)
class BlobArtifactStoreArgs:
    settings: AzureSettings
    options: BlobStoreOptions
    resource_group_name: pulumi.Input[str]
    vnet_id: pulumi.Input[str]
    endpoint_subnet_id: pulumi.Input[str]
    oidc_issuer_url: pulumi.Input[str]  # the cluster's, which the federated credential trusts
    namespace: str  # where MLflow's ServiceAccount lives
    service_account: str
    protect: bool = False


class BlobArtifactStore(pulumi.ComponentResource):
    """MLflow's artifact container in a private, key-less storage account, and the workload
    identity (user-assigned identity, federated credential, data role) MLflow reaches it with."""

    store: AzureArtifactStore
    identity_client_id: pulumi.Output[str]

    def __init__(self, name: str, args: BlobArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:infra:BlobArtifactStore", name, None, opts)
        account, container = self._account(name, args)
        self._private_endpoint(name, args, account)
        self.identity_client_id = self._identity(name, args, container)
        self.store = AzureArtifactStore(
            blob=AzureBlobArtifacts(account=args.settings.compact_name, container=ARTIFACTS_BUCKET,
                                    client_id=self.identity_client_id),
            endpoint_cidr=args.settings.network.endpoint_subnet,
        )
        self.register_outputs({"account": args.settings.compact_name, "identity_client_id": self.identity_client_id})

    def _account(self, name: str, args: BlobArtifactStoreArgs) -> tuple[azure.storage.StorageAccount,
                                                                          azure.storage.BlobContainer]:
        """The storage account (private, Entra ID only, versioning, soft delete) and MLflow's container."""
        settings, options, protect = args.settings, args.options, args.protect
        account = azure.storage.StorageAccount(
            f"{name}-account",
            resource_group_name=args.resource_group_name,
            account_name=settings.compact_name,
            location=settings.location,
            kind="StorageV2",
            sku={"name": options.replication},
            access_tier="Hot",
            allow_blob_public_access=False,
            allow_shared_key_access=False,  # Entra ID (workload identity) only, no account keys
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            public_network_access="Disabled",
            network_rule_set={"default_action": "Deny", "bypass": "None"},
            # Soft delete does not survive the account: a deliberate destroy leaves it in Azure.
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        retention = {"enabled": True, "days": options.soft_delete_days}
        azure.storage.BlobServiceProperties(
            f"{name}-blob-service", resource_group_name=args.resource_group_name, account_name=account.name,
            blob_services_name="default", is_versioning_enabled=True, delete_retention_policy=retention,
            container_delete_retention_policy=retention, opts=pulumi.ResourceOptions(parent=self),
        )
        container = azure.storage.BlobContainer(
            f"{name}-container", resource_group_name=args.resource_group_name, account_name=account.name,
            container_name=ARTIFACTS_BUCKET, public_access="None",
            opts=pulumi.ResourceOptions(parent=self, protect=protect),
        )
        return account, container

    def _private_endpoint(self, name: str, args: BlobArtifactStoreArgs, account: azure.storage.StorageAccount) -> None:
        """The blob endpoint in the endpoint subnet, resolvable through the VNet's private zone."""
        child = pulumi.ResourceOptions(parent=self)
        dns = linked_private_zone(name, BLOB_DNS_ZONE, resource_group_name=args.resource_group_name,
                                  vnet_id=args.vnet_id, parent=self)
        endpoint = azure.network.PrivateEndpoint(
            f"{name}-endpoint",
            resource_group_name=args.resource_group_name,
            private_endpoint_name=f"{args.settings.dashed_name}-blob",
            location=args.settings.location,
            subnet={"id": args.endpoint_subnet_id},
            private_link_service_connections=[
                {"name": "blob", "private_link_service_id": account.id, "group_ids": ["blob"]}
            ],
            opts=child,
        )
        azure.network.PrivateDnsZoneGroup(
            f"{name}-endpoint-dns",
            resource_group_name=args.resource_group_name,
            private_endpoint_name=endpoint.name,
            private_dns_zone_group_name="blob",
            private_dns_zone_configs=[{"name": "blob", "private_dns_zone_id": dns.zone.id}],
            opts=child,
        )

    def _identity(self, name: str, args: BlobArtifactStoreArgs, container: azure.storage.BlobContainer
                  ) -> pulumi.Output[str]:
        """MLflow's identity: trusted for its ServiceAccount's tokens, a data role on the container
        only. Returns its client ID (the ServiceAccount's annotation)."""
        child = pulumi.ResourceOptions(parent=self)
        identity = azure.managedidentity.UserAssignedIdentity(
            f"{name}-mlflow-identity",
            resource_group_name=args.resource_group_name,
            resource_name_=f"{args.settings.dashed_name}-mlflow",
            location=args.settings.location,
            opts=child,
        )
        azure.managedidentity.FederatedIdentityCredential(
            f"{name}-mlflow-federation",
            resource_group_name=args.resource_group_name,
            resource_name_=identity.name,
            federated_identity_credential_resource_name="mlflow-service-account",
            issuer=args.oidc_issuer_url,
            subject=service_account_subject(args.namespace, args.service_account),
            audiences=[TOKEN_AUDIENCE],
            opts=child,
        )
        client = azure.authorization.get_client_config_output()
        azure.authorization.RoleAssignment(
            f"{name}-mlflow-blob-access",
            principal_id=identity.principal_id,
            principal_type="ServicePrincipal",
            role_definition_id=role_definition(client.subscription_id, STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE),
            scope=container.id,  # this container only, not the account
            opts=child,
        )
        return identity.client_id
