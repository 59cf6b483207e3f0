"""Shared Kubernetes spec builders: placement, labels, the restricted security context, probes,
resources, and the object shapes every server repeats (Service + StatefulSet, Deployment + Service
+ PodDisruptionBudget, scheduled and set-up Jobs).

Everything here is a pure function returning plain dicts in the Kubernetes wire format
(camelCase), so components, the offline synth and tests all see the same structures; a rule such
as "every replicated server gets a PodDisruptionBudget" lives in exactly one builder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from platform_components.credentials import Credentials
from platform_components.quantities import parse_quantity
from platform_components.stack_keys import setting, setting_group
from platform_components.validation import ArgError, require_dns_label, require_quantity
from workloads.outcomes import GATEWAY_ENV

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

    cpu_request: str = setting("CpuRequest")
    memory_request: str = setting("MemoryRequest")
    memory_limit: str = setting("MemoryLimit")

    def __post_init__(self) -> None:
        for name in ("cpu_request", "memory_request", "memory_limit"):
            require_quantity(name, getattr(self, name))
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


@dataclass(frozen=True)
class StatefulServerOptions:
    """What a stack tunes for a single-replica server with a volume. Keys are relative to the
    subclass's KEY_PREFIX: `<prefix>CpuRequest`, `<prefix>MemoryRequest`, `<prefix>MemoryLimit`,
    `<prefix>StorageSize`."""

    KEY_PREFIX: ClassVar[str] = ""
    resources: Resources = setting_group()
    storage_size: str = setting("StorageSize")

    def __post_init__(self) -> None:
        require_quantity("storage_size", self.storage_size)


# --- security -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PodIdentity:
    """Which UID pods run as. `run_as_user=None` leaves the choice to the platform, as OpenShift's
    restricted SCC requires (it assigns an arbitrary UID from the namespace range, GID 0)."""

    run_as_user: int | None

    def __post_init__(self) -> None:
        if self.run_as_user is not None and self.run_as_user < 1:
            raise ArgError("run_as_user", f"must be a non-root UID (>= 1), got {self.run_as_user}")


@dataclass(frozen=True)
class Placement:
    """Where a component's objects go and what all of them share: one value per platform, passed
    to every component as a single field (namespace, environment label, pod identity, storage
    class, whether stateful data is protected from `pulumi destroy`, and where credentials come from)."""

    namespace: str
    environment: str
    identity: PodIdentity
    storage_class: str | None = None  # None: the cluster's default StorageClass
    protect: bool = False
    credentials: Credentials = field(default_factory=Credentials, compare=False)  # where passwords and keys come from

    def __post_init__(self) -> None:
        require_dns_label("namespace", self.namespace)
        require_dns_label("environment", self.environment)
        if self.storage_class == "":
            raise ArgError("storage_class", "must be a StorageClass name or unset, got ''")

    def labels(self, name: str, instance: str, component: str) -> dict[str, str]:
        return labels(name, instance, component, self.environment)

    def metadata(self, object_labels: dict[str, str], name: str | None = None) -> Manifest:
        """Object metadata in this namespace; `name=None` leaves it to Pulumi's auto-naming (for
        ConfigMaps and Secrets whose new content must give a new name, so that pods roll)."""
        return {**({"name": name} if name else {}), "namespace": self.namespace, "labels": object_labels}

    def service_host(self, service: str) -> str:
        """The Service's cluster DNS name."""
        return f"{service}.{self.namespace}.svc.cluster.local"

    def service_url(self, service: str, port: int) -> str:
        return f"http://{self.service_host(service)}:{port}"


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


def liveness_variant(probe: Manifest) -> Manifest:
    """The readiness check as a tolerant livenessProbe: two minutes of failures before a restart.
    Sharing the handler is safe here because every readiness check of the platform asks only its
    own process (never a dependency), so a dependency outage cannot restart a whole tier."""
    return {**probe, "periodSeconds": 20, "failureThreshold": 6}


# --- containers and pods ------------------------------------------------------------------

def empty_dir(name: str, size_limit: str = "256Mi", medium: str | None = None) -> Manifest:
    spec: Manifest = {"sizeLimit": size_limit}
    if medium:
        spec["medium"] = medium
    return {"name": name, "emptyDir": spec}


def secret_env(name: str, secret_name: Any, key: str) -> Manifest:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


_VAR_REFERENCE = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\$")


def pushgateway_env(url: str | None) -> list[Manifest]:
    """Where a batch Job pushes its outcome (workloads/outcomes.py); nothing without a gateway."""
    return [{"name": GATEWAY_ENV, "value": url}] if url else []


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


def server_container(*, name: str, image: str, resources: Resources, port_name: str, port: int, probe: Manifest,
                     startup_budget_seconds: int, liveness: Manifest | None = None, **options: Any) -> Manifest:
    """A long-running server's container listening on the named `port`. `probe`, a check of the
    process itself, is its readiness, its tolerant liveness and its startup probe (allowed
    `startup_budget_seconds`); a server with a separate liveness check passes it as `liveness`.
    `options` are `container`'s (command, args, env, volume_mounts)."""
    alive = liveness or probe
    return container(name=name, image=image, resources=resources, ports=[{"name": port_name, "containerPort": port}],
                     readiness=probe, liveness=liveness_variant(alive),
                     startup=startup_variant(alive, budget_seconds=startup_budget_seconds), **options)


def pod_spec(
    *,
    identity: PodIdentity,
    containers: list[Manifest],
    init_containers: list[Manifest] | None = None,
    volumes: list[Manifest] | None = None,
    restart_policy: str | None = None,
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


# --- object shapes ------------------------------------------------------------------------

def manifest(api_version: str, kind: str, metadata: Manifest, spec: Manifest) -> Manifest:
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, "spec": spec}


def service(metadata: Manifest, selector: dict[str, str], port_name: str, port: int, *,
            headless: bool = False) -> Manifest:
    """A Service whose one TCP port forwards to the pods' port of the same name."""
    spec: Manifest = {"selector": selector, "ports": [{"name": port_name, "port": port, "targetPort": port_name}]}
    if headless:
        spec = {"clusterIP": "None", **spec}
    return manifest("v1", "Service", metadata, spec)


def stateful_server(placement: Placement, *, name: str, meta_labels: dict[str, str], selector: dict[str, str],
                    pod: Manifest, claims: list[Manifest], port_name: str, port: int) -> dict[str, Manifest]:
    """One stateful replica (StatefulSet `name`) whose volumes outlive it, and the headless Service
    `name` that governs it (stable pod DNS, as the StatefulSet API requires) and that clients use.
    Headless means no port mapping: the pods must listen on `port` itself.

    Returns the objects by role: "service", then "statefulset"."""
    spec = {
        "serviceName": name,
        "replicas": 1,
        "selector": {"matchLabels": selector},
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        "template": {"metadata": {"labels": meta_labels}, "spec": pod},
        "volumeClaimTemplates": claims,
    }
    metadata = placement.metadata(meta_labels, name)
    return {
        "service": service(metadata, selector, port_name, port, headless=True),
        "statefulset": manifest("apps/v1", "StatefulSet", metadata, spec),
    }


def replicated_server(placement: Placement, *, name: str, meta_labels: dict[str, str], selector: dict[str, str],
                      pod: Manifest, replicas: int, port_name: str, port: int,
                      pod_labels: dict[str, str] | None = None) -> dict[str, Manifest]:
    """A stateless server: Deployment `name` rolled out without losing capacity, its Service, and
    above one replica a preferred spread over nodes plus a PodDisruptionBudget (a drain may take
    one replica at a time). Returns the objects by role ("deployment", "service", "pdb"?)."""
    metadata = placement.metadata(meta_labels, name)
    template_pod = {**pod, "affinity": spread_across_nodes(selector)} if replicas > 1 else pod
    deployment = manifest("apps/v1", "Deployment", metadata, {
        "replicas": replicas,
        "selector": {"matchLabels": selector},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "template": {"metadata": {"labels": pod_labels or meta_labels}, "spec": template_pod},
    })
    objects = {"deployment": deployment, "service": service(metadata, selector, port_name, port)}
    if replicas > 1:
        objects["pdb"] = manifest("policy/v1", "PodDisruptionBudget", metadata,
                                  {"maxUnavailable": 1, "selector": {"matchLabels": selector}})
    return objects


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


def cron_job(placement: Placement, *, name: str, meta_labels: dict[str, str], schedule: str, job: Manifest,
             volumes: list[Manifest], fail_on_exit_codes: list[int], starting_deadline_seconds: int,
             active_deadline_seconds: int, suspend: bool = False) -> Manifest:
    """CronJob `name` running the container `job` once per `schedule` (see `scheduled_job_spec`).
    A suspended one never runs on its own: it is the template of Jobs started on demand
    (`kubectl create job --from=cronjob/<name>`)."""
    pod = pod_spec(identity=placement.identity, containers=[job], volumes=volumes, restart_policy="Never")
    spec = scheduled_job_spec(schedule=schedule, pod_labels=meta_labels, pod=pod, container_name=job["name"],
                              fail_on_exit_codes=fail_on_exit_codes, starting_deadline_seconds=starting_deadline_seconds,
                              active_deadline_seconds=active_deadline_seconds)
    if suspend:
        spec["suspend"] = True
    return manifest("batch/v1", "CronJob", placement.metadata(meta_labels, name), spec)


def setup_job(placement: Placement, *, meta_labels: dict[str, str], job: Manifest, volumes: list[Manifest]) -> Manifest:
    """An auto-named one-shot Job running the container `job` (see `setup_job_spec`). A Job's pod
    template is immutable, so a change of what it sets up replaces the Job: it runs again."""
    pod = pod_spec(identity=placement.identity, containers=[job], volumes=volumes, restart_policy="OnFailure")
    return manifest("batch/v1", "Job", placement.metadata(meta_labels), setup_job_spec(pod_labels=meta_labels, pod=pod))


def setup_job_spec(*, pod_labels: dict[str, str], pod: Manifest) -> Manifest:
    """A one-shot set-up Job that retries while its server comes up, bounded in time."""
    return {
        "backoffLimit": 6,
        "activeDeadlineSeconds": 600,
        "template": {"metadata": {"labels": pod_labels}, "spec": pod},
    }
