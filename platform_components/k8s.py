"""Shared Kubernetes spec builders: labels, the restricted security context, probes, resources.

Everything here is a pure function returning plain dicts in the Kubernetes wire format
(camelCase), so components, the offline synth and tests all see the same structures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from platform_components.quantities import parse_quantity
from platform_components.validation import ArgError, require_quantity

PART_OF = "mlops-platform"
ENVIRONMENT_LABEL = "mlops-platform/environment"

Manifest = dict[str, Any]


# --- labels -------------------------------------------------------------------------------

def selector_labels(name: str, instance: str) -> dict[str, str]:
    """The immutable subset used in selectors: changing these would orphan pods."""
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def labels(name: str, instance: str, component: str, environment: str) -> dict[str, str]:
    """Recommended labels (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/)."""
    return {
        **selector_labels(name, instance),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
        ENVIRONMENT_LABEL: environment,
    }


# --- quantities and resources -------------------------------------------------------------

@dataclass(frozen=True)
class Resources:
    """Requests and a memory limit. No CPU limit on purpose: CFS throttling hurts latency-bound
    servers and buys nothing when requests are set (the scheduler already reserves them)."""

    cpu_request: str
    memory_request: str
    memory_limit: str

    def __post_init__(self) -> None:
        for field in ("cpu_request", "memory_request", "memory_limit"):
            require_quantity(field, getattr(self, field))
        if parse_quantity(self.memory_request) > parse_quantity(self.memory_limit):
            raise ArgError(
                "memory_request",
                f"must not exceed the memory limit ({self.memory_limit}), got {self.memory_request}",
            )

    @property
    def memory_limit_bytes(self) -> int:
        return int(parse_quantity(self.memory_limit))

    def to_k8s(self) -> Manifest:
        return {
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
            "limits": {"memory": self.memory_limit},
        }


# --- security -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PodIdentity:
    """Which UID pods run as. `run_as_user=None` leaves the choice to the platform, as OpenShift's
    restricted SCC requires (it assigns an arbitrary UID from the namespace range, GID 0)."""

    run_as_user: int | None = 10001

    def __post_init__(self) -> None:
        if self.run_as_user is not None and self.run_as_user < 1:
            raise ArgError("run_as_user", f"must be a non-root UID (>= 1), got {self.run_as_user}")


def pod_security_context(identity: PodIdentity) -> Manifest:
    """Pod-level part of the "restricted" Pod Security Standard."""
    context: Manifest = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if identity.run_as_user is not None:
        context.update(
            runAsUser=identity.run_as_user,
            runAsGroup=identity.run_as_user,
            fsGroup=identity.run_as_user,
            fsGroupChangePolicy="OnRootMismatch",
        )
    return context


def container_security_context() -> Manifest:
    """Container-level part of the "restricted" Pod Security Standard, plus a read-only root."""
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


# --- probes -------------------------------------------------------------------------------

def exec_probe(command: list[str], *, period: int = 10, timeout: int = 5, failures: int = 3) -> Manifest:
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def http_probe(path: str, port: int | str, *, period: int = 10, timeout: int = 5, failures: int = 3) -> Manifest:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": failures,
    }


def startup_variant(probe: Manifest, *, budget_seconds: int) -> Manifest:
    """The same check as a startupProbe, allowed `budget_seconds` before liveness takes over."""
    period = 5
    return {**probe, "periodSeconds": period, "failureThreshold": max(1, budget_seconds // period)}


# --- containers and pods ------------------------------------------------------------------

def empty_dir(name: str, size_limit: str = "256Mi", medium: str | None = None) -> Manifest:
    spec: Manifest = {"sizeLimit": size_limit}
    if medium:
        spec["medium"] = medium
    return {"name": name, "emptyDir": spec}


def secret_env(name: str, secret_name: Any, key: str) -> Manifest:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


_VAR_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$")


def resolve_env(env: list[Manifest], secrets: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The environment a kubelet would give a container: literal values, `secretKeyRef` lookups
    in `secrets` (Secret name -> key -> value), and `$(VAR)` references to earlier variables.
    Lets local processes run with exactly the env a component declares."""
    resolved: dict[str, str] = {}
    for entry in env:
        if "value" in entry:
            value = _VAR_REFERENCE.sub(
                lambda m: "$" if m.group(0) == "$$" else resolved.get(m.group(1), m.group(0)), entry["value"]
            )
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            try:
                value = secrets[ref["name"]][ref["key"]]
            except KeyError:
                raise KeyError(f"env {entry['name']}: no key {ref['key']!r} in Secret {ref['name']!r}") from None
        resolved[entry["name"]] = value
    return resolved


def container(
    *,
    name: str,
    image: str,
    resources: Resources,
    command: list[str] | None = None,
    args: list[str] | None = None,
    env: list[Manifest] | None = None,
    ports: list[Manifest] | None = None,
    volume_mounts: list[Manifest] | None = None,
    readiness: Manifest | None = None,
    liveness: Manifest | None = None,
    startup: Manifest | None = None,
) -> Manifest:
    """A container with the restricted security context and IfNotPresent pulls of a pinned image."""
    spec: Manifest = {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "securityContext": container_security_context(),
        "resources": resources.to_k8s(),
    }
    optional = {
        "command": command,
        "args": args,
        "env": env,
        "ports": ports,
        "volumeMounts": volume_mounts,
        "readinessProbe": readiness,
        "livenessProbe": liveness,
        "startupProbe": startup,
    }
    spec.update({key: value for key, value in optional.items() if value})
    return spec


def pod_spec(
    *,
    identity: PodIdentity,
    containers: list[Manifest],
    init_containers: list[Manifest] | None = None,
    volumes: list[Manifest] | None = None,
    restart_policy: str | None = None,
    affinity: Manifest | None = None,
    service_account: str | None = None,
) -> Manifest:
    """A pod without a service-account token or service-link env vars: none of the platform's
    workloads talks to the Kubernetes API. A `service_account` is for cloud identity only (AKS
    workload identity projects its own audience-bound token, not the API token)."""
    spec: Manifest = {
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": pod_security_context(identity),
        "containers": containers,
    }
    if init_containers:
        spec["initContainers"] = init_containers
    if volumes:
        spec["volumes"] = volumes
    if restart_policy:
        spec["restartPolicy"] = restart_policy
    if affinity:
        spec["affinity"] = affinity
    if service_account:
        spec["serviceAccountName"] = service_account
    return spec


def spread_across_nodes(selector: dict[str, str]) -> Manifest:
    """Prefer replicas on different nodes, without blocking a single-node cluster."""
    return {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": selector},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }


def volume_claim(name: str, size: str, storage_class: str | None) -> Manifest:
    spec: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": size}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"metadata": {"name": name}, "spec": spec}


def single_statefulset_spec(*, service_name: str, selector: dict[str, str], pod_labels: dict[str, str],
                            pod: Manifest, claims: list[Manifest]) -> Manifest:
    """One stateful replica whose volumes outlive the StatefulSet (deleting it must not lose data)."""
    return {
        "serviceName": service_name,
        "replicas": 1,
        "selector": {"matchLabels": selector},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "template": {"metadata": {"labels": pod_labels}, "spec": pod},
        "volumeClaimTemplates": claims,
    }


def scheduled_job_spec(*, schedule: str, pod_labels: dict[str, str], pod: Manifest, container_name: str,
                       fail_on_exit_codes: list[int], starting_deadline_seconds: int,
                       active_deadline_seconds: int) -> Manifest:
    """A CronJob spec for a job that must not overlap itself, in UTC, with bounded retries; exit
    codes that mean bad input fail the Job at once, since retrying cannot fix the data."""
    return {
        "schedule": schedule,
        "timeZone": "Etc/UTC",
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": starting_deadline_seconds,
        "successfulJobsHistoryLimit": 3,
        "failedJobsHistoryLimit": 5,
        "jobTemplate": {
            "metadata": {"labels": pod_labels},
            "spec": {
                "backoffLimit": 2,
                "activeDeadlineSeconds": active_deadline_seconds,
                "podFailurePolicy": {
                    "rules": [{"action": "FailJob", "onExitCodes": {"containerName": container_name, "operator": "In",
                                                                    "values": fail_on_exit_codes}}]
                },
                "template": {"metadata": {"labels": pod_labels}, "spec": pod},
            },
        },
    }


def setup_job_spec(*, pod_labels: dict[str, str], pod: Manifest) -> Manifest:
    """A one-shot set-up Job that retries while its server comes up, bounded in time."""
    return {
        "backoffLimit": 6,
        "activeDeadlineSeconds": 600,
        "template": {"metadata": {"labels": pod_labels}, "spec": pod},
    }
