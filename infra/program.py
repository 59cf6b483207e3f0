"""The Pulumi program: settings -> cluster (and its cloud resources) -> MlopsPlatform -> outputs.

A function rather than module-level code so the offline synth and the unit tests run exactly
what `pulumi up` runs, under the mock engine.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pulumi

from infra.aks import AksCluster
from infra.azure_blob import BlobArtifactStore
from infra.azure_postgres import FlexiblePostgres
from infra.cluster import kubernetes_provider
from infra.settings import Settings, load_settings
from platform_components.mlflow_server import MlflowArgs
from platform_components.platform import DATABASES, MlopsPlatform


def deploy() -> dict[str, Any]:
    """Declare the stack's resources and export its outputs; returns the outputs for callers."""
    settings = load_settings()
    outputs: dict[str, Any] = {}
    platform_args, kubeconfig, cloud = settings.platform, None, []
    if settings.azure is not None:
        platform_args, kubeconfig, cloud, outputs = _azure(settings)
    provider = kubernetes_provider(settings.cluster, kubeconfig)
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
        # For the post-deploy smoke test; stays encrypted in state and masked in CLI output.
        "mlflowAdminPassword": platform.mlflow_admin_password,
        "secretNames": platform.secret_names,
        "driftCronJobs": platform.drift_cronjobs,
        "backupCronJob": platform.backup_cronjob,
        **outputs,
    }
    for name, value in outputs.items():
        pulumi.export(name, value)
    return outputs


def has_registry(image: str) -> bool:
    """`host/path:tag` names its registry (a first component with a dot or port, or localhost)."""
    first, _, rest = image.partition("/")
    return bool(rest) and ("." in first or ":" in first or first == "localhost")


def _azure(settings: Settings) -> tuple[Any, pulumi.Output[str], list[pulumi.Resource], dict[str, Any]]:
    """AKS and the managed stores the stack chose; returns the platform's args pointing at them."""
    azure, platform_args = settings.azure, settings.platform
    assert azure is not None
    cluster = AksCluster("aks", azure, protect=platform_args.protect_data)
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
        postgres = FlexiblePostgres(
            "postgres", azure, azure.postgres, DATABASES,
            resource_group_name=cluster.resource_group_name, vnet_id=cluster.vnet_id,
            subnet_id=cluster.postgres_subnet_id, protect=platform_args.protect_data,
        )
        platform_args = replace(platform_args, external_postgres=postgres.server)
        cloud.append(postgres)
        outputs["postgresHost"] = postgres.server.host
    if azure.blob is not None:
        artifacts = BlobArtifactStore(
            "artifacts", azure, azure.blob,
            resource_group_name=cluster.resource_group_name, vnet_id=cluster.vnet_id,
            endpoint_subnet_id=cluster.endpoint_subnet_id, oidc_issuer_url=cluster.oidc_issuer_url,
            namespace=platform_args.namespace, service_account=MlflowArgs.service_name,
            protect=platform_args.protect_data,
        )
        platform_args = replace(platform_args, azure_artifacts=artifacts.store)
        cloud.append(artifacts)
        outputs["mlflowArtifactsUri"] = artifacts.store.blob.uri
        outputs["mlflowIdentityClientId"] = artifacts.identity_client_id
    return platform_args, cluster.kubeconfig, cloud, outputs
