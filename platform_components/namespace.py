"""The platform's Namespace: Pod Security "restricted" enforced, default-deny network policy."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components.network_policies import allow_dns, default_deny
from platform_components.validation import require_dns_label, require_k8s_minor_version

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
    name: str
    labels: dict[str, str]
    pod_security_version: str = "v1.34"
    protect: bool = False

    def __post_init__(self) -> None:
        require_dns_label("name", self.name)
        require_k8s_minor_version("pod_security_version", self.pod_security_version)


class PlatformNamespace(pulumi.ComponentResource):
    """Namespace plus the deny-all and DNS-egress NetworkPolicies every pod starts from."""

    name: pulumi.Output[str]

    def __init__(self, name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:Namespace", name, None, opts)
        namespace = k8s.core.v1.Namespace(
            name,
            metadata={"name": args.name, "labels": {**args.labels, **pod_security_labels(args.pod_security_version)}},
            # Deleting the namespace deletes every PVC in it.
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        for policy_name, spec in (("default-deny", default_deny()), ("allow-dns", allow_dns())):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy_name}",
                metadata={"name": policy_name, "namespace": args.name, "labels": args.labels},
                spec=spec,
                opts=in_namespace,
            )
        self.name = namespace.metadata["name"]
        self.register_outputs({"name": self.name})
