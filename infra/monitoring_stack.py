"""kube-prometheus-stack installed by the stack itself, for clusters the stack creates (AKS).

The platform's ServiceMonitors, PodMonitors and PrometheusRule are kinds the Prometheus Operator
defines: they can only be created once its CRDs exist. On a cluster that someone else runs
(minikube, `kubeconfig`) that is the cluster's own business (docs/operations.md, Monitoring); a
stack that creates its cluster (`clusterTarget: aks`) and turns `monitoringInstallStack` on gets the
chart, pinned, as a Helm release the platform waits for. Release name `kube-prometheus-stack`: the
label `release: kube-prometheus-stack` the platform's monitors carry by default
(`monitoringResourceLabels`) is what the chart's Prometheus selects.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components.stack_keys import setting

CHART = "kube-prometheus-stack"
CHART_VERSION = "75.6.2"  # Prometheus Operator v0.83: the kinds and fields the platform uses
REPOSITORY = "https://prometheus-community.github.io/helm-charts"
RELEASE_NAME = "kube-prometheus-stack"  # = the `release` label the monitors carry by default


@dataclass(frozen=True)
class MonitoringStackOptions:
    """Whether the stack installs kube-prometheus-stack (config key `monitoringInstallStack`)."""

    install: bool = setting("monitoringInstallStack")


def chart_values() -> dict:
    """The chart's values: Grafana loads dashboards from every namespace (the platform's
    ConfigMaps live in its own); everything else is the chart's default."""
    return {"grafana": {"sidecar": {"dashboards": {"enabled": True, "searchNamespace": "ALL"}}}}


def install_monitoring_stack(namespace: str, provider: pulumi.ProviderResource) -> pulumi.Resource:
    """The pinned chart in `namespace` (created), awaited until its resources are ready."""
    return k8s.helm.v3.Release(
        RELEASE_NAME,
        name=RELEASE_NAME,
        chart=CHART,
        version=CHART_VERSION,
        repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=REPOSITORY),
        namespace=namespace,
        create_namespace=True,
        values=chart_values(),
        opts=pulumi.ResourceOptions(provider=provider),
    )
