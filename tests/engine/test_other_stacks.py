"""ha-example under the real engine on a three-node cluster (its Ingress awaited until the test,
playing the ingress controller, publishes an address; protected data refused by destroy), and the
Kubernetes part of the Azure stacks (qa, prod, test) applied server-side as a dry run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from infra.offline import run_offline
from tests.engine.conftest import PUBLISHED_ADDRESS, EngineStack, condition, kinds
from tools.servers.prometheus import operator_crds
from tools.synth import manifests

HA_NAMESPACE = "mlops-ha"


@pytest.fixture(scope="module")
def ha(small_cluster, tmp_path_factory) -> EngineStack:
    return EngineStack("ha-example", small_cluster, Path(tmp_path_factory.mktemp("engine-ha")))


def test_ha_example_comes_up_spread_over_nodes_with_its_ingress_served(ha):
    ha.up()
    cluster = ha.cluster
    mlflow = cluster.get("deployment", "mlflow", "-n", HA_NAMESPACE)
    assert condition(mlflow, "Available") == "True" and mlflow["status"]["availableReplicas"] == 2
    nodes = {p["spec"]["nodeName"] for p in kinds(cluster, HA_NAMESPACE, "pods")
             if p["metadata"]["labels"].get("app.kubernetes.io/name") == "mlflow"}
    assert len(nodes) == 2, "the preferred anti-affinity spreads the two replicas"
    ingress = cluster.get("ingress", "mlflow", "-n", HA_NAMESPACE)
    assert ingress["status"]["loadBalancer"]["ingress"] == [{"ip": PUBLISHED_ADDRESS}]
    assert kinds(cluster, HA_NAMESPACE, "poddisruptionbudgets")


def test_ha_example_preview_after_up_changes_nothing(ha):
    preview = ha.run("preview")
    assert preview.ok and not preview.modified, preview


def test_ha_example_destroy_refuses_the_protected_namespace_and_statefulsets(ha):
    result = ha.run("destroy")
    assert not result.ok
    assert "protected" in result.error
    cluster = ha.cluster
    assert cluster.kubectl("get", "namespace", HA_NAMESPACE, check=False).returncode == 0
    assert {s["metadata"]["name"] for s in kinds(cluster, HA_NAMESPACE, "statefulsets")} == {"postgres", "redis", "s3"}


def install_monitoring_crds(cluster) -> None:
    """What kube-prometheus-stack installs first: the kinds the platform's monitors and rules are
    (the pinned Prometheus Operator release's CRDs); the API server then validates them."""
    crds, plurals = operator_crds(), ("servicemonitors", "podmonitors", "prometheusrules")
    for plural in plurals:
        cluster.kubectl("apply", "--server-side", "-f", str(crds / f"monitoring.coreos.com_{plural}.yaml"))
    deadline = time.monotonic() + 60
    for plural in plurals:  # `kubectl wait` fails while the CRD has no conditions yet: poll
        while condition(cluster.get("crd", f"{plural}.monitoring.coreos.com"), "Established") != "True":
            assert time.monotonic() < deadline, f"CRD {plural} not established"
            time.sleep(0.5)


@pytest.mark.parametrize("stack", ["qa", "prod", "test"])
def test_azure_stacks_kubernetes_objects_pass_the_api_servers_admission_and_validation(small_cluster, stack):
    """Their Azure resources need Azure; their Kubernetes objects are applied server-side with
    --dry-run=server (schema, defaulting, Pod Security admission), the namespace first for real."""
    objects = manifests(run_offline(stack))
    namespaces = [o for o in objects if o["kind"] == "Namespace"]
    rest = [o for o in objects if o["kind"] != "Namespace"]
    assert namespaces and rest
    small_cluster.kubectl("apply", "--server-side", "-f", "-", stdin=json.dumps({"apiVersion": "v1", "kind": "List",
                                                                                 "items": namespaces}))
    if any(o["apiVersion"].startswith("monitoring.coreos.com/") for o in rest):
        install_monitoring_crds(small_cluster)
    result = small_cluster.kubectl("apply", "--server-side", "--dry-run=server", "-f", "-", check=False,
                                    stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": rest}))
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("serverside-applied (server dry run)") == len(rest), result.stdout
