"""Growing a StatefulSet's volumes in place.

A StatefulSet's `volumeClaimTemplates` are immutable (Kubernetes 1.34), so the Kubernetes provider
replaces the whole StatefulSet when a size changes, and the new one reuses the old claims at their
old size: an outage for nothing. Instead:

- the StatefulSet ignores changes to its templates' storage sizes (`ignore_changes`), so it is
  never replaced for one; its template keeps the size it was created with;
- each claim (`<template>-<statefulset>-<ordinal>`) is patched to the configured size by a
  PersistentVolumeClaimPatch (server-side apply), which the StorageClass's volume expansion
  (`allowVolumeExpansion`, https://kubernetes.io/docs/concepts/storage/persistent-volumes/#expanding-persistent-volumes-claims)
  then carries out; the patch is retained on delete, so `destroy` leaves the claims' sizes alone;
- before anything changes, `check_growth` compares the sizes with those of the last deployment
  (the stack's own `volumeSizes` output) and fails the preview, naming the setting, for a size
  that shrinks (Kubernetes cannot shrink a volume) or that grows on a StorageClass without
  volume expansion (the API server would refuse the patch, and the provider does not preview it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from platform_components.k8s import Manifest
from platform_components.quantities import parse_quantity


class VolumeGrowthError(ValueError):
    """A configured volume size cannot be applied to the claims that exist."""


@dataclass(frozen=True)
class VolumeClaim:
    """One PersistentVolumeClaim a StatefulSet owns, at the size the stack configures."""

    namespace: str
    name: str  # <template>-<statefulset>-<ordinal>, as the StatefulSet controller names it
    size: str  # a Kubernetes quantity, e.g. "8Gi"
    setting: str  # the stack key that sets `size`, for error messages


def claims_of(statefulset: Manifest, setting: str) -> list[VolumeClaim]:
    """The claims of every replica of `statefulset` (a manifest), each template's size."""
    metadata, spec = statefulset["metadata"], statefulset["spec"]
    return [
        VolumeClaim(metadata["namespace"], f"{template['metadata']['name']}-{metadata['name']}-{ordinal}",
                    template["spec"]["resources"]["requests"]["storage"], setting)
        for template in spec.get("volumeClaimTemplates", [])
        for ordinal in range(spec.get("replicas", 1))
    ]


def ignored_size_paths(statefulset: Manifest) -> list[str]:
    """The `ignore_changes` paths that keep a size change from replacing the StatefulSet."""
    return [f"spec.volumeClaimTemplates[{index}].spec.resources.requests.storage"
            for index in range(len(statefulset["spec"].get("volumeClaimTemplates", [])))]


def claim_patches(logical_name: str, claims: list[VolumeClaim], statefulset: pulumi.Resource,
                  parent: pulumi.Resource) -> list[k8s.core.v1.PersistentVolumeClaimPatch]:
    """A PersistentVolumeClaimPatch per claim, applied once the StatefulSet (and so its claims) exists."""
    return [
        k8s.core.v1.PersistentVolumeClaimPatch(
            f"{logical_name}-{claim.name}",
            metadata={"name": claim.name, "namespace": claim.namespace,
                      # The StatefulSet controller created the claim and owns its size field.
                      "annotations": {"pulumi.com/patchForce": "true"}},
            spec={"resources": {"requests": {"storage": claim.size}}},
            opts=pulumi.ResourceOptions(parent=parent, depends_on=[statefulset], retain_on_delete=True),
        )
        for claim in claims
    ]


def grow_in_place(logical_name: str, manifest: Manifest, statefulset: pulumi.Resource, setting: str,
                  parent: pulumi.Resource) -> list[VolumeClaim]:
    """Patch the claims of a registered StatefulSet (`manifest`) to its templates' sizes, which the
    stack key `setting` sets; returns the claims for `check_growth`."""
    claims = claims_of(manifest, setting)
    claim_patches(logical_name, claims, statefulset, parent)
    return claims


def size_changes(deployed: dict[str, Any], claims: list[VolumeClaim]) -> tuple[list[VolumeClaim], list[str]]:
    """The claims whose size grows since the last deployment, and a message per claim that shrinks.
    `deployed` maps claim names to the sizes last deployed (empty before the first deployment)."""
    grown, problems = [], []
    for claim in claims:
        before = deployed.get(claim.name)
        if before is None:
            continue
        if parse_quantity(claim.size) < parse_quantity(before):
            problems.append(f"{claim.setting} {claim.size} is smaller than the {before} of volume claim "
                            f"{claim.namespace}/{claim.name}: Kubernetes cannot shrink a volume; keep {before} "
                            "or larger (docs/operations.md, growing volumes)")
        elif parse_quantity(claim.size) > parse_quantity(before):
            grown.append(claim)
    return grown, problems


def check_growth(deployed: pulumi.Output[Any], claims: list[VolumeClaim],
                 parent: pulumi.Resource) -> pulumi.Output[dict[str, str]]:
    """The claims' sizes by name (to export as the next deployment's `deployed`), once checked:
    raises VolumeGrowthError, failing the preview, for a shrinking size or a growing one whose
    StorageClass cannot expand volumes (read from the cluster: the claim's class, then the class's
    `allowVolumeExpansion`). Export the result: only an exported output's errors fail the program."""
    sizes = {claim.name: claim.size for claim in claims}

    def check(deployed_sizes: Any) -> pulumi.Output[dict[str, str]]:
        grown, problems = size_changes(dict(deployed_sizes or {}), claims)
        if problems:
            raise VolumeGrowthError("\n".join(problems))
        verdicts = [_expandable(claim, parent) for claim in grown]
        return pulumi.Output.all(*verdicts).apply(lambda _: sizes)

    return deployed.apply(check)


def _expandable(claim: VolumeClaim, parent: pulumi.Resource) -> pulumi.Output[bool]:
    live = k8s.core.v1.PersistentVolumeClaim.get(f"volume-growth-{claim.name}", f"{claim.namespace}/{claim.name}",
                                                 opts=pulumi.ResourceOptions(parent=parent))

    def storage_class(name: str | None) -> pulumi.Output[bool]:
        if not name:
            raise VolumeGrowthError(f"{claim.setting}: volume claim {claim.namespace}/{claim.name} has no "
                                    "StorageClass, so it cannot be expanded")
        found = k8s.storage.v1.StorageClass.get(f"volume-growth-class-{claim.name}", name,
                                                opts=pulumi.ResourceOptions(parent=parent))
        return found.allow_volume_expansion.apply(lambda allowed: _require(allowed, name, claim))

    return live.spec.storage_class_name.apply(storage_class)


def _require(allowed: bool | None, storage_class: str, claim: VolumeClaim) -> bool:
    if not allowed:
        raise VolumeGrowthError(
            f"{claim.setting} {claim.size} would grow volume claim {claim.namespace}/{claim.name}, but its "
            f"StorageClass {storage_class!r} does not allow volume expansion (allowVolumeExpansion is not true): "
            "keep the deployed size, or move the data to a larger volume (docs/operations.md, growing volumes)")
    return True
