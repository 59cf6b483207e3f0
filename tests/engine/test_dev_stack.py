"""The dev stack under the real engine on a minikube-sized node: up with the provider's await
logic, no drift, in-place updates, volumes grown without replacing StatefulSets, the preview
refusing what cannot be done, and destroy. The tests run in order on one deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.conftest import EngineStack, condition, kinds
from tools.cluster.control_plane import NODE_NAME

NAMESPACE = "mlops"
GROWN = {"postgresStorageSize": "10Gi", "redisStorageSize": "3Gi", "objectStoreStorageSize": "24Gi"}


@pytest.fixture(scope="module")
def dev(minikube_sized, tmp_path_factory) -> EngineStack:
    return EngineStack("dev", minikube_sized, Path(tmp_path_factory.mktemp("engine-dev")))


@pytest.fixture(scope="module")
def deployed(dev) -> dict:
    """The first `up`: its result's outputs."""
    return dev.up().outputs


def uids(dev: EngineStack, kind: str) -> dict[str, str]:
    return {item["metadata"]["name"]: item["metadata"]["uid"] for item in kinds(dev.cluster, NAMESPACE, kind)}


def test_up_awaits_every_workload_and_the_scheduler_places_every_pod_on_the_node(dev, deployed):
    cluster = dev.cluster
    deployments = kinds(cluster, NAMESPACE, "deployments")
    assert {d["metadata"]["name"] for d in deployments} >= {"mlflow", "feature-server", "model-churn"}
    for deployment in deployments:
        assert condition(deployment, "Available") == "True", deployment["metadata"]["name"]
    statefulsets = kinds(cluster, NAMESPACE, "statefulsets")
    assert {s["metadata"]["name"] for s in statefulsets} == {"postgres", "redis", "s3"}
    for statefulset in statefulsets:
        assert statefulset["status"].get("readyReplicas") == statefulset["spec"]["replicas"]
    jobs = kinds(cluster, NAMESPACE, "jobs")
    assert jobs, "the bootstrap, bucket, access and feast apply Jobs"
    for job in jobs:
        assert condition(job, "Complete") == "True", job["metadata"]["name"]
    cronjobs = {c["metadata"]["name"] for c in kinds(cluster, NAMESPACE, "cronjobs")}
    assert cronjobs >= {*deployed["driftCronJobs"], *deployed["trainingCronJobs"], deployed["backupCronJob"]}
    pods = kinds(cluster, NAMESPACE, "pods")
    assert pods and all(p["spec"].get("nodeName") == NODE_NAME for p in pods), \
        [(p["metadata"]["name"], p["status"].get("phase")) for p in pods if not p["spec"].get("nodeName")]
    for claim in kinds(cluster, NAMESPACE, "pvc"):
        assert claim["status"]["phase"] == "Bound", claim["metadata"]["name"]


def test_namespace_enforces_the_restricted_pod_security_standard(dev, deployed):
    labels = dev.cluster.get("namespace", NAMESPACE)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    root_pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "root", "namespace": NAMESPACE},
                "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}
    refused = dev.cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(root_pod), check=False)
    assert refused.returncode != 0 and "violates PodSecurity" in refused.stderr


def test_preview_and_a_second_up_change_nothing(dev, deployed):
    preview = dev.run("preview")
    assert preview.ok and not preview.modified, preview
    again = dev.up()
    assert not again.modified, again


def test_an_update_replaces_the_feast_apply_job_and_scales_mlflow_in_place(dev, deployed):
    before, jobs_before = uids(dev, "deployments"), uids(dev, "jobs")
    result = dev.up(featureStoreOnlineKeyTtlSeconds=7200, mlflowReplicas=2)
    assert result.changes.get("replace", 0) >= 1 and result.changes.get("update", 0) >= 1, result
    applies = {name for name in uids(dev, "jobs") if name.startswith("mlops-features-apply-")}
    assert len(applies) == 1 and not applies & set(jobs_before), "a new apply Job, not the old one patched"
    mlflow = dev.cluster.get("deployment", "mlflow", "-n", NAMESPACE)
    assert mlflow["metadata"]["uid"] == before["mlflow"]
    assert mlflow["status"]["availableReplicas"] == 2
    for job in kinds(dev.cluster, NAMESPACE, "jobs"):
        assert condition(job, "Complete") == "True", job["metadata"]["name"]


def test_raising_storage_sizes_grows_the_volumes_without_replacing_the_statefulsets(dev, deployed):
    before = uids(dev, "statefulsets")
    result = dev.up(**GROWN)
    assert "replace" not in result.changes and "delete" not in result.changes, result
    assert uids(dev, "statefulsets") == before
    sizes = {c["metadata"]["name"]: c for c in kinds(dev.cluster, NAMESPACE, "pvc")}
    expected = {"data-postgres-0": "10Gi", "data-redis-0": "3Gi", **{f"data{i}-s3-0": "6Gi" for i in range(4)}}
    for name, size in expected.items():
        assert sizes[name]["spec"]["resources"]["requests"]["storage"] == size, name
        assert sizes[name]["status"]["capacity"]["storage"] == size, name  # kwok's stand-in for the CSI resizer
    assert result.outputs["volumeSizes"] == expected


def test_preview_refuses_a_shrinking_volume_naming_the_setting(dev, deployed):
    result = dev.run("preview", postgresStorageSize="8Gi")
    assert not result.ok
    assert "postgresStorageSize 8Gi is smaller than the 10Gi of volume claim mlops/data-postgres-0" in result.error


def test_preview_refuses_growth_where_the_storage_class_cannot_expand(dev, deployed):
    patch = json.dumps({"allowVolumeExpansion": False})
    dev.cluster.kubectl("patch", "storageclass", "standard", "--type=merge", "-p", patch)
    try:
        result = dev.run("preview", **{**GROWN, "redisStorageSize": "5Gi"})
    finally:
        dev.cluster.kubectl("patch", "storageclass", "standard", "--type=merge",
                            "-p", json.dumps({"allowVolumeExpansion": True}))
    assert not result.ok
    assert ("redisStorageSize 5Gi would grow volume claim mlops/data-redis-0, but its StorageClass 'standard' "
            "does not allow volume expansion") in result.error


def test_destroy_removes_everything_when_data_is_not_protected(dev, deployed):
    result = dev.run("destroy")
    assert result.ok, result
    assert dev.cluster.kubectl("get", "namespace", NAMESPACE, check=False).returncode != 0
