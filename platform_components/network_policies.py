"""NetworkPolicies: default deny for the namespace, then one allow rule per client -> server link.

A link yields two policies, an egress rule on the client and an ingress rule on the server, so
that each side's policy reads as "who may talk to me" / "whom may I talk to".
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from platform_components.k8s import Manifest, Placement, manifest
from platform_components.network_plan import ExternalEgress, ExternalIngress, Link, NetworkPolicyPlan
from platform_components.registration import register


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


def policy_specs(plan: NetworkPolicyPlan) -> dict[str, Manifest]:
    """Every allow rule of the plan as a NetworkPolicy spec, by policy name (`<rule>-<direction>`)."""
    specs: dict[str, Manifest] = {}
    for link in plan.links:
        egress, ingress = link_policies(link)
        specs[f"{link.name}-egress"], specs[f"{link.name}-ingress"] = egress, ingress
    specs.update({f"{rule.name}-ingress": external_ingress_policy(rule) for rule in plan.ingress})
    specs.update({f"{rule.name}-egress": external_egress_policy(rule) for rule in plan.egress})
    return specs


@dataclass(frozen=True)
class NetworkPolicyArgs:
    placement: Placement
    labels: dict[str, str]
    plan: NetworkPolicyPlan


class NetworkPolicies(pulumi.ComponentResource):
    """The allow rules between the platform's components (the deny-all lives with the Namespace):
    one NetworkPolicy per direction of every link of the plan."""

    policy_names: list[str]

    def __init__(self, name: str, args: NetworkPolicyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:NetworkPolicies", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.policy_names = []
        for policy_name, spec in policy_specs(args.plan).items():
            metadata = args.placement.metadata(args.labels, policy_name)
            register(f"{name}-{policy_name}", manifest("networking.k8s.io/v1", "NetworkPolicy", metadata, spec), child)
            self.policy_names.append(policy_name)
        self.register_outputs({"policy_names": self.policy_names})
