"""The Kubernetes provider for the stack's cluster target (the platform components never build one)."""

from __future__ import annotations

import pulumi_kubernetes as k8s

from infra.settings import ClusterSettings


def kubernetes_provider(settings: ClusterSettings) -> k8s.Provider:
    if settings.cluster_target == "minikube":
        return k8s.Provider("minikube", context=settings.kube_context)
    # kubeconfig is a Pulumi secret; the provider keeps it encrypted in state.
    return k8s.Provider("cluster", kubeconfig=settings.kubeconfig)
