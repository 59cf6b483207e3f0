"""The network plan as a pure function of selectors and ports: no Pulumi, no cluster."""

from __future__ import annotations

import pytest

from platform_components.network_plan import (
    PLATFORM_LINKS,
    ExternalEgress,
    ExternalIngress,
    Link,
    Peer,
    plan_links,
)
from platform_components.network_policies import policy_specs


def selector(name: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name}


CLIENTS = {client: selector(client) for client, _ in PLATFORM_LINKS}
IN_CLUSTER = {
    "postgres": (Peer("postgres", 5432, selector("postgres")),),
    "object-store": (Peer("object-store", 9000, selector("s3")),),
    "redis": (Peer("redis", 6379, selector("redis")),),
    "mlflow": (Peer("mlflow", 5000, selector("mlflow")),),
    "feature-server": (Peer("feature-server", 6566, selector("feature-server")),),
    "model-server": (Peer("model-server", 8080, selector("model-server")),),
    "pushgateway": (Peer("pushgateway", 9091, selector("pushgateway")),),
}
IN_CLUSTER["artifact-store"] = IN_CLUSTER["object-store"]


def names(rules) -> set[str]:
    return {rule.name for rule in rules}


def test_in_cluster_stores_give_one_link_per_table_row():
    plan = plan_links(CLIENTS, IN_CLUSTER)
    assert plan.egress == ()
    assert len(plan.links) == len(PLATFORM_LINKS)
    mlflow_to_store = next(link for link in plan.links if link.name == "mlflow-to-object-store")
    assert mlflow_to_store == Link("mlflow-to-object-store", selector("mlflow"), selector("s3"), 9000)


def test_a_managed_database_turns_every_postgres_link_into_egress_to_its_subnet():
    servers = {**IN_CLUSTER, "postgres": (Peer("postgres", 5432, cidrs=("10.0.8.0/27",)),)}
    plan = plan_links(CLIENTS, servers)
    postgres_clients = {client for client, server in PLATFORM_LINKS if server == "postgres"}
    assert names(plan.egress) == {f"{client}-to-postgres" for client in postgres_clients}
    assert all(rule.cidrs == ("10.0.8.0/27",) and rule.port == 5432 for rule in plan.egress)
    assert not any(link.name.endswith("-to-postgres") for link in plan.links)


def test_blob_artifacts_replace_the_object_store_for_mlflow_only():
    blob = (Peer("blob-endpoint", 443, cidrs=("10.0.8.32/27",)),
            Peer("entra-id", 443, cidrs=("0.0.0.0/0",), excluding=("10.0.0.0/8",)))
    plan = plan_links(CLIENTS, {**IN_CLUSTER, "artifact-store": blob})
    assert names(plan.egress) == {"mlflow-to-blob-endpoint", "mlflow-to-entra-id"}
    entra = next(rule for rule in plan.egress if rule.name == "mlflow-to-entra-id")
    assert entra == ExternalEgress("mlflow-to-entra-id", selector("mlflow"), ("0.0.0.0/0",), 443, ("10.0.0.0/8",))
    assert "mlflow-to-object-store" not in names(plan.links)
    assert "feast-apply-to-object-store" in names(plan.links)


def test_a_client_that_is_not_deployed_has_no_links():
    plan = plan_links({**CLIENTS, "drift": None}, IN_CLUSTER)
    assert not any(link.name.startswith("drift-") for link in plan.links)
    assert len(plan.links) == len(PLATFORM_LINKS) - sum(client == "drift" for client, _ in PLATFORM_LINKS)


def test_a_server_without_peers_gets_no_links():
    """Without a monitoring stack the Pushgateway is not deployed: the Jobs get no rule to it."""
    plan = plan_links(CLIENTS, {**IN_CLUSTER, "pushgateway": ()})
    assert not any(link.name.endswith("-to-pushgateway") for link in plan.links)
    assert len(plan.links) == len(PLATFORM_LINKS) - sum(server == "pushgateway" for _, server in PLATFORM_LINKS)


@pytest.mark.parametrize("clients", [
    {name: labels for name, labels in CLIENTS.items() if name != "drift"},  # forgotten
    {**CLIENTS, "drfit": selector("drift")},  # misspelt
])
def test_a_client_missing_from_or_unknown_to_the_table_is_an_error(clients):
    with pytest.raises(ValueError, match="link table"):
        plan_links(clients, IN_CLUSTER)


def test_a_link_to_an_undefined_server_is_an_error_not_a_silent_gap():
    servers = {name: peers for name, peers in IN_CLUSTER.items() if name != "redis"}
    with pytest.raises(ValueError, match="'feast-apply' must reach 'redis'"):
        plan_links(CLIENTS, servers)


@pytest.mark.parametrize("kwargs", [{}, {"selector": selector("x"), "cidrs": ("10.0.0.0/8",)}])
def test_a_peer_is_either_pods_or_addresses(kwargs):
    with pytest.raises(ValueError, match="exactly one"):
        Peer("x", 80, **kwargs)


def test_every_rule_renders_one_policy_per_direction():
    ingress = ExternalIngress("ingress-controller-to-mlflow", "ingress-nginx", selector("mlflow"), 5000)
    plan = plan_links(CLIENTS, IN_CLUSTER, ingress=(ingress,))
    specs = policy_specs(plan)
    assert len(specs) == 2 * len(plan.links) + len(plan.ingress) + len(plan.egress)
    egress = specs["drift-to-mlflow-egress"]
    assert egress["podSelector"] == {"matchLabels": selector("drift")}
    assert egress["egress"] == [{"to": [{"podSelector": {"matchLabels": selector("mlflow")}}],
                                 "ports": [{"protocol": "TCP", "port": 5000}]}]
    controller = specs["ingress-controller-to-mlflow-ingress"]["ingress"][0]["from"][0]
    assert controller == {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}}
