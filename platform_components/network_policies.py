"""NetworkPolicies: default deny for the namespace, then one allow rule per client -> server link.

A link yields two policies, an egress rule on the client and an ingress rule on the server, so
that each side's policy reads as "who may talk to me" / "whom may I talk to".
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components.k8s import Manifest


@dataclass(frozen=True)
class Link:
    """`client` pods may open TCP connections to `server` pods on `port`."""

    name: str
    client: dict[str, str]
    server: dict[str, str]
    port: int


@dataclass(frozen=True)
class ExternalIngress:
    """Pods of another namespace (an ingress controller, say) may reach `server` on `port`."""

    name: str
    namespace: str
    server: dict[str, str]
    port: int


@dataclass(frozen=True)
class ExternalEgress:
    """`client` pods may open TCP connections on `port` to addresses outside the cluster (a managed
    database's subnet, a private endpoint), given as CIDRs; `excluding` carves ranges out of them."""

    name: str
    client: dict[str, str]
    cidrs: tuple[str, ...]
    port: int
    excluding: tuple[str, ...] = ()


def default_deny() -> Manifest:
    """Deny all ingress and egress for every pod of the namespace."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def allow_dns() -> Manifest:
    """Every pod may resolve names through the cluster DNS (kube-dns / CoreDNS)."""
    return {
        "podSelector": {},
        "policyTypes": ["Egress"],
        "egress": [
            {
                "to": [
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    }
                ],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }
        ],
    }


def link_policies(link: Link) -> tuple[Manifest, Manifest]:
    """(egress policy on the client, ingress policy on the server)."""
    port = [{"protocol": "TCP", "port": link.port}]
    egress = {
        "podSelector": {"matchLabels": link.client},
        "policyTypes": ["Egress"],
        "egress": [{"to": [{"podSelector": {"matchLabels": link.server}}], "ports": port}],
    }
    ingress = {
        "podSelector": {"matchLabels": link.server},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": link.client}}], "ports": port}],
    }
    return egress, ingress


def external_ingress_policy(rule: ExternalIngress) -> Manifest:
    return {
        "podSelector": {"matchLabels": rule.server},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": rule.namespace}}}
                ],
                "ports": [{"protocol": "TCP", "port": rule.port}],
            }
        ],
    }


def external_egress_policy(rule: ExternalEgress) -> Manifest:
    blocks = [{"ipBlock": {"cidr": cidr, **({"except": list(rule.excluding)} if rule.excluding else {})}}
              for cidr in rule.cidrs]
    return {
        "podSelector": {"matchLabels": rule.client},
        "policyTypes": ["Egress"],
        "egress": [{"to": blocks, "ports": [{"protocol": "TCP", "port": rule.port}]}],
    }


@dataclass(frozen=True)
class NetworkPolicyArgs:
    namespace: str
    labels: dict[str, str]
    links: tuple[Link, ...]
    external: tuple[ExternalIngress, ...] = ()
    egress: tuple[ExternalEgress, ...] = ()


class PlatformNetworkPolicies(pulumi.ComponentResource):
    """The allow rules between the platform's components (the deny-all lives with the Namespace)."""

    policy_names: list[str]

    def __init__(self, name: str, args: NetworkPolicyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:NetworkPolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.policy_names = []
        for link in args.links:
            for direction, spec in zip(("egress", "ingress"), link_policies(link), strict=True):
                self._policy(name, f"{link.name}-{direction}", spec, args, child)
        for rule in args.external:
            self._policy(name, f"{rule.name}-ingress", external_ingress_policy(rule), args, child)
        for out in args.egress:
            self._policy(name, f"{out.name}-egress", external_egress_policy(out), args, child)
        self.register_outputs({"policy_names": self.policy_names})

    def _policy(self, name: str, policy_name: str, spec: Manifest, args: NetworkPolicyArgs,
                opts: pulumi.ResourceOptions) -> None:
        k8s.networking.v1.NetworkPolicy(
            f"{name}-{policy_name}",
            metadata={"name": policy_name, "namespace": args.namespace, "labels": args.labels},
            spec=spec,
            opts=opts,
        )
        self.policy_names.append(policy_name)
