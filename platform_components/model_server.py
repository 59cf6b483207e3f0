"""ModelServer: one Deployment and Service per served model, `python -m workloads.serving serve`.

Each served model runs the workloads image's model server: MLflow's scoring protocol for
`models:/<name>@<alias>`, feature lookup through the feature server for entity-keyed requests, and
every scored row logged to `s3://monitoring/<name>/dt=YYYY-MM-DD/` for the drift monitor. Above one
replica it gets a node spread and a PodDisruptionBudget, and with `maxReplicas` above `replicas`
a CPU HorizontalPodAutoscaler. Least privilege: its own MLflow user (READ on its model) and its own
S3 identity (write under its own prefix of the monitoring bucket). `serve_command` and
`serving_env` are the single source of truth: the integration tests start the server from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from platform_components.k8s import (
    Manifest,
    Placement,
    Resources,
    empty_dir,
    http_probe,
    manifest,
    pod_spec,
    replicated_server,
    secret_env,
    selector_labels,
    server_container,
)
from platform_components.network_plan import Peer
from platform_components.registration import register_objects
from platform_components.stack_keys import setting, setting_group
from platform_components.validation import ArgError, require_dns_label, require_min, require_pinned_image

PORT = 8080
# Pods that may call the model servers carry this label (applications, the smoke test).
CLIENT_LABEL = {"mlops-platform/model-client": "true"}
# The model download and the metrics files live here (the root filesystem is read-only).
SCRATCH = "2Gi"
# SIGTERM: up to `shutdown` seconds for in-flight requests, then as long again to flush the log.
SHUTDOWN_SECONDS = 20


@dataclass(frozen=True)
class ServedModel:
    """One entry of `servedModels`: a name, or an object whose unset keys take the `modelServer*`
    defaults (`{name: churn, replicas: 2}` reads `modelServerAlias` for its alias)."""

    DEFAULTS_PREFIX = "modelServer"
    name: str = setting("name")
    alias: str = setting("alias")
    replicas: int = setting("replicas")
    max_replicas: int = setting("maxReplicas")
    workers: int = setting("workers")
    resources: Resources = setting_group()

    def __post_init__(self) -> None:
        require_dns_label("name", self.name)
        require_dns_label("alias", self.alias)
        require_min("replicas", self.replicas, 1)
        require_min("workers", self.workers, 1)
        if self.max_replicas and self.max_replicas < self.replicas:
            raise ArgError("max_replicas", f"must be 0 (no autoscaling) or >= replicas ({self.replicas}), "
                                           f"got {self.max_replicas}")

    @property
    def autoscaled(self) -> bool:
        return self.max_replicas > self.replicas

    @property
    def service_name(self) -> str:
        return f"model-{self.name}"


@dataclass(frozen=True)
class ModelServingOptions:
    """What a stack tunes (config keys `servedModels`, `modelServer*`)."""

    models: tuple[ServedModel, ...] = setting("servedModels")
    target_cpu_utilization: int = setting("modelServerTargetCpuUtilization")
    poll_seconds: int = setting("modelServerPollSeconds")
    log_flush_seconds: int = setting("modelServerLogFlushSeconds")
    log_max_rows: int = setting("modelServerLogMaxRows")

    def __post_init__(self) -> None:
        names = [model.name for model in self.models]
        if len(set(names)) != len(names):
            raise ArgError("models", f"must not serve a model twice, got {names}")
        if not 1 <= self.target_cpu_utilization <= 100:
            raise ArgError("target_cpu_utilization", f"must be a percentage 1-100, got {self.target_cpu_utilization}")
        require_min("poll_seconds", self.poll_seconds, 1)
        require_min("log_flush_seconds", self.log_flush_seconds, 1)
        require_min("log_max_rows", self.log_max_rows, 1000)


@dataclass(frozen=True)
class ServingEndpoints:
    mlflow_url: str
    s3_endpoint_url: str
    feature_server_url: str
    log_bucket: str = "monitoring"


@dataclass(frozen=True)
class ServingSecrets:
    """Secret names, per model: its MLflow user (keys username/password) and S3 identity."""

    mlflow: pulumi.Input[str]
    s3: pulumi.Input[str]  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY


def serve_command(model: ServedModel, options: ModelServingOptions, endpoints: ServingEndpoints, *,
                  host: str = "0.0.0.0", port: int = PORT, download_dir: str = "/tmp") -> list[str]:
    return ["python", "-m", "workloads.serving", "serve", "--model", model.name, "--alias", model.alias,
            "--host", host, "--port", str(port), "--workers", str(model.workers),
            "--poll-seconds", str(options.poll_seconds), "--feature-server-url", endpoints.feature_server_url,
            "--log-bucket", endpoints.log_bucket, "--log-flush-seconds", str(options.log_flush_seconds),
            "--log-max-rows", str(options.log_max_rows), "--shutdown-seconds", str(SHUTDOWN_SECONDS),
            "--download-dir", download_dir]


def serving_env(endpoints: ServingEndpoints, secrets: ServingSecrets) -> list[Manifest]:
    return [
        {"name": "MLFLOW_TRACKING_URI", "value": endpoints.mlflow_url},
        secret_env("MLFLOW_TRACKING_USERNAME", secrets.mlflow, "username"),
        secret_env("MLFLOW_TRACKING_PASSWORD", secrets.mlflow, "password"),
        {"name": "AWS_ENDPOINT_URL", "value": endpoints.s3_endpoint_url},
        secret_env("AWS_ACCESS_KEY_ID", secrets.s3, "AWS_ACCESS_KEY_ID"),
        secret_env("AWS_SECRET_ACCESS_KEY", secrets.s3, "AWS_SECRET_ACCESS_KEY"),
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        {"name": "HOME", "value": "/tmp"},
        {"name": "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "value": "true"},
        # The alias poll fails fast and tries again at its next interval, rather than retrying for
        # minutes inside one poll (MLflow's client default: 7 retries with exponential backoff).
        {"name": "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "value": "2"},
        {"name": "MLFLOW_HTTP_REQUEST_TIMEOUT", "value": "30"},
    ]


def server_pod(placement: Placement, image: str, model: ServedModel, options: ModelServingOptions,
               endpoints: ServingEndpoints, secrets: ServingSecrets) -> Manifest:
    """Readiness on `/ping` (a version is loaded); liveness and startup on `/version` (the process
    answers), so an MLflow outage at start keeps the pod unready instead of restarting it."""
    server = server_container(
        name="model-server", image=image, command=serve_command(model, options, endpoints),
        env=serving_env(endpoints, secrets), resources=model.resources,
        volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}], port_name="http", port=PORT,
        probe=http_probe("/ping", "http"), liveness=http_probe("/version", "http"), startup_budget_seconds=120,
    )
    # Endpoints are removed asynchronously on termination: keep answering a few seconds first.
    server["lifecycle"] = {"preStop": {"sleep": {"seconds": 5}}}
    return {**pod_spec(identity=placement.identity, containers=[server], volumes=[empty_dir("tmp", SCRATCH)]),
            "terminationGracePeriodSeconds": 2 * SHUTDOWN_SECONDS + 15}


def autoscaler(metadata: Manifest, model: ServedModel, target_cpu_utilization: int) -> Manifest:
    return manifest("autoscaling/v2", "HorizontalPodAutoscaler", metadata, {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": model.service_name},
        "minReplicas": model.replicas,
        "maxReplicas": model.max_replicas,
        "metrics": [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": target_cpu_utilization}}}],
    })


@dataclass(frozen=True)
class ModelServerArgs:
    placement: Placement
    options: ModelServingOptions
    workloads_image: str
    endpoints: ServingEndpoints
    secrets: dict[str, ServingSecrets]  # per served model's name

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)
        missing = {model.name for model in self.options.models} - set(self.secrets)
        if missing:
            raise ArgError("secrets", f"no credentials for served models {sorted(missing)}")


class ModelServer(pulumi.ComponentResource):
    """The served models: per model a Deployment and Service `model-<name>` (port 8080), a PDB and
    node spread above one replica, an optional HPA. `urls` maps each model to its in-cluster URL;
    `selector` matches every model server pod (for the network plan)."""

    urls: dict[str, str]
    selector: dict[str, str]
    peer: Peer

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:ModelServer", name, None, opts)
        placement = args.placement
        self.selector = selector_labels("model-server", name)
        self.peer = Peer("model-server", PORT, selector=self.selector)
        self.urls = {}
        for model in args.options.models:
            meta_labels = {**placement.labels("model-server", name, "model-serving"), "mlops-platform/model": model.name}
            selector = {**self.selector, "mlops-platform/model": model.name}
            pod = server_pod(placement, args.workloads_image, model, args.options, args.endpoints,
                             args.secrets[model.name])
            objects = replicated_server(placement, name=model.service_name, meta_labels=meta_labels, selector=selector,
                                        pod=pod, replicas=model.replicas, port_name="http", port=PORT)
            if model.autoscaled:
                # The autoscaler owns the replica count: a fixed one would fight it on every update.
                del objects["deployment"]["spec"]["replicas"]
                objects["hpa"] = autoscaler(placement.metadata(meta_labels, model.service_name), model,
                                            args.options.target_cpu_utilization)
            register_objects(f"{name}-{model.name}", objects, parent=self)
            self.urls[model.name] = placement.service_url(model.service_name, PORT)
        self.register_outputs({"urls": self.urls})
