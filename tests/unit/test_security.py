"""Every pod of every stack meets the "restricted" Pod Security Standard and the platform's rules."""

from __future__ import annotations

import pytest

from tests.unit.conftest import containers, objects, pods

LONG_RUNNING = ("Deployment", "StatefulSet")


def test_namespace_enforces_restricted_with_a_pinned_version(stack_run):
    (namespace,) = objects(stack_run, "Namespace")
    labels = namespace["metadata"]["labels"]
    for mode in ("enforce", "audit", "warn"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"
        assert labels[f"pod-security.kubernetes.io/{mode}-version"] == "v1.34"


def test_pods_run_as_non_root_with_runtime_default_seccomp(stack_run):
    for where, pod in pods(stack_run):
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, where
        assert context.get("runAsUser", 1) != 0, where


def test_pods_have_no_service_account_token_host_access_or_host_paths(stack_run):
    for where, pod in pods(stack_run):
        assert pod["automountServiceAccountToken"] is False, where
        for flag in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(flag), where
        for volume in pod.get("volumes", []):
            assert "hostPath" not in volume, where


def test_containers_drop_all_capabilities_and_keep_a_read_only_root(stack_run):
    for where, pod in pods(stack_run):
        for container in containers(pod):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, (where, container["name"])
            assert context["capabilities"] == {"drop": ["ALL"]}, (where, container["name"])
            assert context["readOnlyRootFilesystem"] is True, (where, container["name"])
            assert context["runAsNonRoot"] is True, (where, container["name"])
            assert context["seccompProfile"] == {"type": "RuntimeDefault"}, (where, container["name"])


def test_writable_paths_are_empty_dirs_or_volumes(stack_run):
    """With a read-only root, anything a container writes must be a mounted volume."""
    for where, pod in pods(stack_run):
        declared = {volume["name"] for volume in pod.get("volumes", [])}
        claims = {"data", "data0", "data1", "data2", "data3"}
        for container in containers(pod):
            mounts = {mount["mountPath"]: mount["name"] for mount in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, (where, container["name"], "needs a writable /tmp")
            for name in mounts.values():
                assert name in declared or name in claims, (where, name)


def test_containers_request_cpu_and_memory_and_limit_memory(stack_run):
    for where, pod in pods(stack_run):
        for container in containers(pod):
            resources = container["resources"]
            assert set(resources["requests"]) == {"cpu", "memory"}, (where, container["name"])
            assert "memory" in resources["limits"], (where, container["name"])


def test_long_running_containers_have_readiness_liveness_and_startup_probes(stack_run):
    for manifest in objects(stack_run):
        if manifest["kind"] not in LONG_RUNNING:
            continue
        for container in manifest["spec"]["template"]["spec"]["containers"]:
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                assert probe in container, (manifest["metadata"]["name"], container["name"], probe)


@pytest.mark.parametrize("forbidden", [":latest", "@latest"])
def test_images_are_pinned(stack_run, forbidden):
    for where, pod in pods(stack_run):
        for container in containers(pod):
            image = container["image"]
            assert forbidden not in image, (where, image)
            assert ":" in image.rsplit("/", 1)[-1] or "@sha256:" in image, (where, image)
            assert container["imagePullPolicy"] == "IfNotPresent"


def test_namespace_denies_all_traffic_by_default_and_allows_dns(stack_run):
    policies = {p["metadata"]["name"]: p["spec"] for p in objects(stack_run, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    dns = policies["allow-dns"]["egress"][0]
    assert {"protocol": "UDP", "port": 53} in dns["ports"]


def test_every_server_pod_is_reachable_only_through_a_network_policy(stack_run):
    """Each server (Postgres, S3, MLflow, Redis, the feature server) has an ingress allow rule."""
    ingress_targets = [
        p["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for p in objects(stack_run, "NetworkPolicy")
        if "Ingress" in p["spec"]["policyTypes"] and p["spec"]["podSelector"]
    ]
    servers = {
        template["metadata"]["labels"]["app.kubernetes.io/name"]
        for kind in ("Deployment", "StatefulSet")
        for template in (m["spec"]["template"] for m in objects(stack_run, kind))
    }
    assert {"mlflow", "redis", "feast-server"} <= servers
    assert servers <= set(ingress_targets)
