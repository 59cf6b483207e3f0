"""The Pulumi program: settings -> cluster (and its cloud resources) -> MlopsPlatform -> outputs.

A function rather than module-level code so the offline synth and the unit tests run exactly
what `pulumi up` runs, under the mock engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pulumi

from infra.aks import AksCluster, AksClusterArgs
from infra.azure_blob import BlobArtifactStore, BlobArtifactStoreArgs
from infra.azure_postgres import FlexiblePostgres, FlexiblePostgresArgs
from infra.azure_settings import AzureSettings
from infra.cluster import kubernetes_provider
from infra.monitoring_stack import install_monitoring_stack
from infra.settings import load_settings
from platform_components.mlflow_server import MlflowArgs
from platform_components.platform import DATABASES, MlopsPlatform, PlatformArgs
from platform_components.volumes import check_growth


@dataclass(frozen=True)
class AzureEnvironment:
    """What the Azure side hands the platform: its args pointing at the managed stores, the
    cluster's kubeconfig (a secret), the cloud resources the platform must wait for, and outputs."""

    platform_args: PlatformArgs
    kubeconfig: pulumi.Output[str]
    resources: list[pulumi.Resource]
    outputs: dict[str, Any] = field(default_factory=dict)


def deploy() -> dict[str, Any]:
    """Declare the stack's resources and export its outputs; returns the outputs for callers."""
    settings = load_settings()
    platform_args, kubeconfig, cloud, outputs = settings.platform, None, [], {}
    if settings.azure is not None:
        environment = azure_environment(settings.azure, settings.platform)
        platform_args, kubeconfig = environment.platform_args, environment.kubeconfig
        cloud, outputs = environment.resources, environment.outputs
    provider = kubernetes_provider(settings.cluster, kubeconfig)
    monitoring = platform_args.monitoring
    if settings.monitoring_stack.install and monitoring.enabled:  # the CRDs before the monitors
        cloud = [*cloud, install_monitoring_stack(monitoring.prometheus_namespace, provider)]
    platform = MlopsPlatform(
        "mlops",
        platform_args,
        # The managed stores (identities, databases) must exist before the pods that use them.
        opts=pulumi.ResourceOptions(providers={"kubernetes": provider}, depends_on=cloud),
    )
    outputs = {
        "namespace": platform.namespace,
        "mlflowUrl": platform.mlflow_url,
        "mlflowExternalUrl": platform.mlflow_external_url or "",
        "s3Endpoint": platform.s3_endpoint,
        "buckets": list(platform.buckets),
        "redisHost": platform.redis_host,
        "featureServerUrl": platform.feature_server_url,
        "modelServerUrls": platform.model_server_urls,
        # For the post-deploy smoke test; stays encrypted in state and masked in CLI output.
        "mlflowAdminPassword": platform.mlflow_admin_password,
        "secretNames": platform.secret_names,
        "driftCronJobs": platform.drift_cronjobs,
        "trainingCronJobs": platform.training_cronjobs,
        "scoringCronJobs": platform.scoring_cronjobs,
        "backupCronJob": platform.backup_cronjob,
        # What the next deployment compares its volume sizes with (platform_components/volumes.py).
        "volumeSizes": check_growth(deployed_output("volumeSizes"), platform.volume_claims, parent=platform),
        **outputs,
    }
    for name, value in outputs.items():
        pulumi.export(name, value)
    return outputs


def deployed_output(name: str) -> pulumi.Output[Any]:
    """An output of this stack's last deployment (None before the first), read through a
    StackReference to the stack itself."""
    own = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    return pulumi.StackReference(f"deployed-{pulumi.get_stack()}", stack_name=own).get_output(name)


def has_registry(image: str) -> bool:
    """`host/path:tag` names its registry (a first component with a dot or port, or localhost)."""
    first, _, rest = image.partition("/")
    return bool(rest) and ("." in first or ":" in first or first == "localhost")


def azure_environment(azure: AzureSettings, platform_args: PlatformArgs) -> AzureEnvironment:
    """AKS and the managed stores the stack chose, and the platform's args pointing at them."""
    protect = platform_args.placement.protect
    cluster = AksCluster("aks", AksClusterArgs(azure, protect=protect))
    if not has_registry(platform_args.workloads_image):  # no registry host: the stack's own registry
        platform_args = replace(platform_args, workloads_image=f"{azure.registry_host}/{platform_args.workloads_image}")
    cloud: list[pulumi.Resource] = [cluster]
    outputs: dict[str, Any] = {
        "azureResourceGroup": cluster.resource_group_name,
        "aksClusterName": cluster.cluster_name,
        "aksOidcIssuerUrl": cluster.oidc_issuer_url,
        "registryLoginServer": cluster.registry_login_server,
    }
    if azure.postgres is not None:
        postgres = FlexiblePostgres("postgres", FlexiblePostgresArgs(
            azure, azure.postgres, DATABASES, resource_group_name=cluster.resource_group_name,
            vnet_id=cluster.vnet_id, subnet_id=cluster.postgres_subnet_id, protect=protect,
            credentials=platform_args.placement.credentials))
        platform_args = replace(platform_args, external_postgres=postgres.server)
        cloud.append(postgres)
        outputs["postgresHost"] = postgres.server.host
    if azure.blob is not None:
        artifacts = BlobArtifactStore("artifacts", BlobArtifactStoreArgs(
            azure, azure.blob, resource_group_name=cluster.resource_group_name, vnet_id=cluster.vnet_id,
            endpoint_subnet_id=cluster.endpoint_subnet_id, oidc_issuer_url=cluster.oidc_issuer_url,
            namespace=platform_args.placement.namespace, service_account=MlflowArgs.service_name, protect=protect))
        platform_args = replace(platform_args, azure_artifacts=artifacts.store)
        cloud.append(artifacts)
        outputs["mlflowArtifactsUri"] = artifacts.store.blob.uri
        outputs["mlflowIdentityClientId"] = artifacts.identity_client_id
    return AzureEnvironment(platform_args, cluster.kubeconfig, cloud, outputs)
