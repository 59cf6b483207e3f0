"""Registers the plain manifests that `k8s.py` builds as typed Pulumi Kubernetes resources.

The builders decide what the objects are; this module only maps a manifest's `apiVersion`/`kind`
to its pulumi_kubernetes class, so a component registers a whole shape (a stateful server, a
replicated server) in one call with stable logical names `<component>-<role>`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from platform_components.k8s import Manifest
from platform_components.volumes import ignored_size_paths

WORKLOAD_KINDS = ("Deployment", "StatefulSet")
RESOURCE_CLASSES: dict[tuple[str, str], type[pulumi.CustomResource]] = {
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("batch/v1", "Job"): k8s.batch.v1.Job,
    ("batch/v1", "CronJob"): k8s.batch.v1.CronJob,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
    ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
}


def register(logical_name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """One object with metadata and spec. Raises KeyError for a kind not in RESOURCE_CLASSES."""
    resource_class = RESOURCE_CLASSES[(manifest["apiVersion"], manifest["kind"])]
    return resource_class(logical_name, metadata=manifest["metadata"], spec=manifest["spec"], opts=opts)


def register_objects(name: str, objects: Mapping[str, Manifest], *, parent: pulumi.Resource,
                     protect: bool = False, workload_depends_on: Sequence[pulumi.Resource] = (),
                     renamed: Mapping[str, str] | None = None) -> dict[str, pulumi.CustomResource]:
    """Register a shape's objects as `<name>-<role>`, in order. A StatefulSet depends on the
    Services registered before it (its governing Service must exist), alone takes `protect`
    (its volumes hold the data), and ignores its claim templates' sizes (volumes.py grows the
    claims instead of replacing it); the workload (StatefulSet or Deployment) also waits for
    `workload_depends_on`. `renamed` maps a role to its earlier logical name, kept as an alias so
    that a rename does not replace the object."""
    created: dict[str, pulumi.CustomResource] = {}
    for role, manifest in objects.items():
        stateful = manifest["kind"] == "StatefulSet"
        workload = manifest["kind"] in WORKLOAD_KINDS
        services = [r for done, r in created.items() if done.endswith("service")] if stateful else []
        aliases = [pulumi.Alias(name=renamed[role])] if renamed and role in renamed else None
        opts = pulumi.ResourceOptions(
            parent=parent,
            protect=protect and stateful,
            depends_on=[*(workload_depends_on if workload else []), *services] or None,
            aliases=aliases,
            ignore_changes=ignored_size_paths(manifest) if stateful else None,
        )
        created[role] = register(f"{name}-{role}", manifest, opts)
    return created
