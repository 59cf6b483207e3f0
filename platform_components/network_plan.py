"""The network plan: which client pods may reach which server, on which port. Pure data, no Pulumi.

Components describe themselves: a server as a `Peer` (its pods' selector, or CIDRs outside the
cluster, and the port its pods listen on), a client by its pods' selector. `plan_links` turns a
table of (client, server) names into the allow rules that `network_policies.py` renders, so the
platform's whole connectivity is one table (`PLATFORM_LINKS`) that tests read without a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Labels = dict[str, str]


@dataclass(frozen=True)
class Link:
    """`client` pods may open TCP connections to `server` pods on `port`."""

    name: str
    client: Labels
    server: Labels
    port: int


@dataclass(frozen=True)
class ExternalIngress:
    """Pods of another namespace (an ingress controller, say) may reach `server` on `port`."""

    name: str
    namespace: str
    server: Labels
    port: int


@dataclass(frozen=True)
class ExternalEgress:
    """`client` pods may open TCP connections on `port` to addresses outside the cluster (a managed
    database's subnet, a private endpoint), given as CIDRs; `excluding` carves ranges out of them."""

    name: str
    client: Labels
    cidrs: tuple[str, ...]
    port: int
    excluding: tuple[str, ...] = ()


@dataclass(frozen=True)
class Peer:
    """A server as its clients' policies see it: pods of the namespace (`selector`) or addresses
    outside the cluster (`cidrs`, minus `excluding`), and the port the server's pods listen on.
    NetworkPolicies match the pod's port, not the Service's (Ref: kubernetes.io/docs/concepts/
    services-networking/network-policies/, "port" is the destination port of the traffic)."""

    name: str
    port: int
    selector: Labels | None = None
    cidrs: tuple[str, ...] = ()
    excluding: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if (self.selector is None) == (not self.cidrs):
            raise ValueError(f"peer {self.name!r} needs exactly one of a pod selector or CIDRs")


@dataclass(frozen=True)
class NetworkPolicyPlan:
    links: tuple[Link, ...] = ()
    egress: tuple[ExternalEgress, ...] = ()
    ingress: tuple[ExternalIngress, ...] = ()


# Who talks to whom, by name: (client, server). A client that is not deployed (no drift models, no
# served models) has no links; "artifact-store" is the S3 store or Azure Blob's endpoint plus Entra ID.
PLATFORM_LINKS: tuple[tuple[str, str], ...] = (
    ("bucket-setup", "object-store"),
    ("postgres-bootstrap", "postgres"),
    ("postgres-backup", "postgres"),
    ("postgres-backup", "object-store"),
    ("mlflow", "postgres"),
    ("mlflow", "artifact-store"),
    ("drift", "mlflow"),
    ("drift", "object-store"),
    ("feast-apply", "postgres"),
    ("feast-apply", "redis"),
    ("feast-apply", "object-store"),
    ("feast-materialize", "postgres"),
    ("feast-materialize", "redis"),
    ("feast-materialize", "object-store"),
    ("feature-server", "postgres"),
    ("feature-server", "redis"),
    ("feature-clients", "feature-server"),
    ("mlflow-access", "mlflow"),
    ("model-server", "mlflow"),
    ("model-server", "object-store"),
    ("model-server", "feature-server"),
    ("model-clients", "model-server"),
    ("model-training", "postgres"),
    ("model-training", "object-store"),
    ("model-training", "mlflow"),
    ("batch-scoring", "postgres"),
    ("batch-scoring", "object-store"),
    ("batch-scoring", "mlflow"),
    # With a monitoring stack: the exporters, and every batch Job reporting its outcome. Without
    # one, the exporters are absent clients and the Pushgateway a server without peers.
    ("postgres-exporter", "postgres"),
    ("redis-exporter", "redis"),
    ("drift", "pushgateway"),
    ("model-training", "pushgateway"),
    ("postgres-backup", "pushgateway"),
    ("feast-materialize", "pushgateway"),
    ("batch-scoring", "pushgateway"),
)


def connect(client: str, selector: Labels, server: Peer) -> Link | ExternalEgress:
    """The rule `<client>-to-<server>`: a Link inside the namespace, an egress rule outside it."""
    name = f"{client}-to-{server.name}"
    if server.selector is not None:
        return Link(name, selector, server.selector, server.port)
    return ExternalEgress(name, selector, server.cidrs, server.port, server.excluding)


def plan_links(clients: Mapping[str, Labels | None], servers: Mapping[str, Sequence[Peer]],
               links: Iterable[tuple[str, str]] = PLATFORM_LINKS,
               ingress: Iterable[ExternalIngress] = ()) -> NetworkPolicyPlan:
    """Rules for every (client, server) in `links` whose client is deployed.

    `clients` maps every client name of `links` to its pods' selector, or to None when it is not
    deployed; `servers` maps a server name to the peers behind it (one, or several for a role such
    as the artifact store). Raises ValueError for a client or server that `links` names but the
    mappings lack, or a client they name that `links` does not: a typo must never drop a link."""
    links = tuple(links)
    named = {client for client, _ in links}
    unknown, missing = sorted(set(clients) - named), sorted(named - set(clients))
    if unknown or missing:
        raise ValueError(f"clients not in the link table: {unknown}; clients of the table not given: {missing}")
    rules: list[Link | ExternalEgress] = []
    for client, server in links:
        selector = clients[client]
        if selector is None:
            continue
        if server not in servers:
            raise ValueError(f"{client!r} must reach {server!r}, which the platform does not define")
        rules += [connect(client, selector, peer) for peer in servers[server]]
    return NetworkPolicyPlan(
        links=tuple(rule for rule in rules if isinstance(rule, Link)),
        egress=tuple(rule for rule in rules if isinstance(rule, ExternalEgress)),
        ingress=tuple(ingress),
    )
