"""The platform's Namespace: Pod Security "restricted" enforced, default-deny network policy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components.k8s import Placement, manifest
from platform_components.network_policies import allow_dns, default_deny
from platform_components.registration import register
from platform_components.validation import require_k8s_minor_version

PSS_MODES = ("enforce", "audit", "warn")


def pod_security_labels(version: str) -> dict[str, str]:
    """Ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/ - pinning the
    version keeps a cluster upgrade from silently changing what "restricted" means."""
    result: dict[str, str] = {}
    for mode in PSS_MODES:
        result[f"pod-security.kubernetes.io/{mode}"] = "restricted"
        result[f"pod-security.kubernetes.io/{mode}-version"] = version
    return result


@dataclass(frozen=True)
class NamespaceArgs:
    placement: Placement  # the namespace's name, and whether it is protected
    labels: dict[str, str]
    pod_security_version: str

    def __post_init__(self) -> None:
        require_k8s_minor_version("pod_security_version", self.pod_security_version)


class Namespace(pulumi.ComponentResource):
    """The platform's Namespace with Pod Security "restricted" enforced at a pinned version, plus
    the deny-all and DNS-egress NetworkPolicies every pod starts from. Protected with the data:
    deleting a namespace deletes every PVC in it."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:Namespace", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            name,
            metadata={"name": args.placement.namespace,
                      "labels": {**args.labels, **pod_security_labels(args.pod_security_version)}},
            opts=pulumi.ResourceOptions(parent=self, protect=args.placement.protect),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        for policy_name, spec in (("default-deny", default_deny()), ("allow-dns", allow_dns())):
            metadata = args.placement.metadata(args.labels, policy_name)
            register(f"{name}-{policy_name}", manifest("networking.k8s.io/v1", "NetworkPolicy", metadata, spec),
                     in_namespace)
        self.name = namespace.metadata["name"]
        self.register_outputs({"name": self.name})
