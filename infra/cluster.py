"""The Kubernetes provider for the stack's cluster target (the platform components never build one)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from infra.settings import ClusterSettings


def kubernetes_provider(settings: ClusterSettings, cluster_kubeconfig: pulumi.Output[str] | None = None) -> k8s.Provider:
    """`cluster_kubeconfig` is the one a cluster created by this stack hands out (AKS)."""
    if settings.cluster_target == "minikube":
        return k8s.Provider("minikube", context=settings.kube_context)
    if settings.cluster_target == "aks":
        if cluster_kubeconfig is None:
            raise ValueError("clusterTarget aks needs the kubeconfig of the AKS cluster this stack creates")
        # Server-side apply is the default; delete_unreachable lets `pulumi destroy` finish once
        # the cluster itself is gone (docs/azure.md, tear down).
        return k8s.Provider("aks", kubeconfig=cluster_kubeconfig, delete_unreachable=True)
    # kubeconfig is a Pulumi secret; the provider keeps it encrypted in state.
    return k8s.Provider("cluster", kubeconfig=settings.kubeconfig)
