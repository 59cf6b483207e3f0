"""FeastFeatureStore: Feast with its registry in Postgres, online store in Redis, offline data in S3.

Creates: a ConfigMap with `feature_store.yaml` and the repository (workloads/features/repo), a
`feast apply` Job, a CronJob that materialises new offline rows into Redis, and the feature server
(`feast serve`) Deployment and Service. `feature_store_yaml`, `feast_env` and the `*_command`
functions are the single source of truth for how Feast runs: the integration tests and the
README's local loop run the same commands with the same file and environment.

The ConfigMap is auto-named, so a changed repository or config gives it a new name; the apply Job
and the server's pod template refer to that name, so the Job reruns and the server rolls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s
import yaml

from platform_components.k8s import (
    Manifest,
    PodIdentity,
    Resources,
    container,
    empty_dir,
    http_probe,
    labels,
    pod_spec,
    scheduled_job_spec,
    secret_env,
    selector_labels,
    setup_job_spec,
    spread_across_nodes,
    startup_variant,
)
from platform_components.validation import require_cron, require_min, require_pinned_image

PORT = 6566
PROJECT = "churn"
REGISTRY_DB = "feast_registry"
CONFIG_DIR = "/etc/feast"  # the ConfigMap, read-only
REPO_DIR = "/tmp/feature-repo"  # staged copy the Feast CLI runs in (see workloads/features/stage.py)
REPO_SOURCE = Path(__file__).resolve().parents[1] / "workloads" / "features" / "repo"
# Pods that may call the feature server carry this label (model servers, notebooks, the smoke test).
CLIENT_LABEL = {"mlops-platform/feature-client": "true"}
# Exit codes of `python -m workloads.features materialize` that retrying cannot fix.
BAD_INPUT_EXIT_CODES = [3, 4]  # workloads/features/errors.py


@dataclass(frozen=True)
class FeastEndpoints:
    """Everything in feature_store.yaml and the env that depends on where Feast runs."""

    registry_host: str
    registry_port: int
    redis_host: str
    redis_port: int
    s3_endpoint_url: str
    data_uri: str  # s3://bucket/prefix holding customer_profile/ and customer_activity/
    online_key_ttl_seconds: int
    project: str = PROJECT
    registry_database: str = REGISTRY_DB
    registry_user: str = REGISTRY_DB
    registry_sslmode: str | None = None  # libpq PGSSLMODE when the registry's server requires TLS


@dataclass(frozen=True)
class FeastTuning:
    """Performance settings, chosen by `make bench` (docs/benchmarks.md, "Feature store")."""

    # Serving reads the registry from a cache refreshed this often (Feast reads 0 as "never refresh").
    registry_cache_ttl_seconds: int = 60
    # Rows per Redis pipeline during materialisation; None (Feast's default) writes a whole run in
    # one pipeline, and the job's memory grows with the run.
    online_write_batch_size: int | None = 10_000
    # Read only each entity's latest row of the window: measured slower together with batching.
    pull_latest_features: bool = False
    # Skipping Feast's read-before-write timestamp check saves a round trip per batch, but lets a
    # backfill of old rows overwrite newer values: off.
    skip_dedup: bool = False
    # `feast serve` recycles each gunicorn worker after this many requests (Feast's default: 1000);
    # with one worker, requests stall for the new worker's boot (about 1.5 s). 0 turns it off; the
    # memory limit and the liveness probe guard against leaks instead.
    server_max_requests: int = 0


def feature_store_yaml(endpoints: FeastEndpoints, tuning: FeastTuning = FeastTuning()) -> str:
    """feature_store.yaml with `${VAR}` placeholders for the credentials: Feast expands environment
    variables when it loads the file, so the file itself holds no secret."""
    config = {
        "project": endpoints.project,
        "provider": "local",
        "registry": {
            "registry_type": "sql",
            "path": (f"postgresql+psycopg://{endpoints.registry_user}:${{FEAST_REGISTRY_PASSWORD}}"
                     f"@{endpoints.registry_host}:{endpoints.registry_port}/{endpoints.registry_database}"),
            "cache_ttl_seconds": tuning.registry_cache_ttl_seconds,
            # A registry connection idle across a Postgres restart is detected instead of failing a read.
            "sqlalchemy_config_kwargs": {"pool_pre_ping": True},
        },
        "online_store": {
            "type": "redis",
            "connection_string": f"{endpoints.redis_host}:{endpoints.redis_port},password=${{REDIS_PASSWORD}}",
            # An entity not written for this long disappears from Redis instead of being served stale.
            "key_ttl_seconds": endpoints.online_key_ttl_seconds,
            "skip_dedup": tuning.skip_dedup,
        },
        "offline_store": {"type": "file"},
        "materialization": {
            "online_write_batch_size": tuning.online_write_batch_size,
            "pull_latest_features": tuning.pull_latest_features,
        },
        "entity_key_serialization_version": 3,
    }
    return yaml.safe_dump(config, sort_keys=False)


def repository_files(source: Path = REPO_SOURCE) -> dict[str, str]:
    """The repository's files by name (a flat directory: ConfigMap keys cannot hold paths)."""
    return {path.name: path.read_text() for path in sorted(source.glob("*.py"))}


@dataclass(frozen=True)
class FeastSecrets:
    """Secret names holding Feast's credentials."""

    registry_secret: pulumi.Input[str]  # key "password": the feast_registry role
    redis_secret: pulumi.Input[str]  # key "password"
    s3_secret: pulumi.Input[str]  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, features bucket


def feast_env(endpoints: FeastEndpoints, secrets: FeastSecrets) -> list[Manifest]:
    return [
        secret_env("FEAST_REGISTRY_PASSWORD", secrets.registry_secret, "password"),
        secret_env("REDIS_PASSWORD", secrets.redis_secret, "password"),
        secret_env("AWS_ACCESS_KEY_ID", secrets.s3_secret, "AWS_ACCESS_KEY_ID"),
        secret_env("AWS_SECRET_ACCESS_KEY", secrets.s3_secret, "AWS_SECRET_ACCESS_KEY"),
        # Read by the repository (stored in the registry), pyarrow, s3fs and boto3 alike.
        {"name": "AWS_ENDPOINT_URL", "value": endpoints.s3_endpoint_url},
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        {"name": "FEATURE_DATA_URI", "value": endpoints.data_uri},
        {"name": "HOME", "value": "/tmp"},
        {"name": "FEAST_USAGE", "value": "False"},  # no telemetry calls from inside the cluster
        *([{"name": "PGSSLMODE", "value": endpoints.registry_sslmode}] if endpoints.registry_sslmode else []),
    ]


def _workload(*args: str) -> list[str]:
    return ["python", "-m", "workloads.features", *args]


def apply_command(config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    return _workload("feast", "--config-dir", config_dir, "--repo-dir", repo_dir, "--", "apply")


def materialize_command(config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    return _workload("materialize", "--config-dir", config_dir, "--repo-dir", repo_dir)


def rebuild_online_command(start: str, end: str, config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    """A full `feast materialize START END`: refills an empty online store (Redis lost its data),
    which materialize-incremental would not, since it starts where the last run ended."""
    return _workload("feast", "--config-dir", config_dir, "--repo-dir", repo_dir, "--", "materialize", start, end)


def serve_command(config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR, *, host: str = "0.0.0.0",
                  port: int = PORT, workers: int = 1, tuning: FeastTuning = FeastTuning()) -> list[str]:
    """`feast serve` through workloads/features/serve.py, which makes the registry fork-safe."""
    return _workload("serve", "--config-dir", config_dir, "--repo-dir", repo_dir, "--host", host,
                     "--port", str(port), "--workers", str(workers),
                     "--registry-ttl-seconds", str(tuning.registry_cache_ttl_seconds),
                     "--max-requests", str(tuning.server_max_requests))


@dataclass(frozen=True)
class FeatureStoreOptions:
    """What a stack tunes (config keys `featureStore*`, `featureServer*`, `featureJob*`)."""

    server_resources: Resources
    job_resources: Resources
    materialize_schedule: str = "10 * * * *"
    online_key_ttl_seconds: int = 30 * 86_400
    server_replicas: int = 1
    server_workers: int = 1

    def __post_init__(self) -> None:
        require_cron("materialize_schedule", self.materialize_schedule)
        require_min("online_key_ttl_seconds", self.online_key_ttl_seconds, 60)
        require_min("server_replicas", self.server_replicas, 1)
        require_min("server_workers", self.server_workers, 1)


@dataclass(frozen=True)
class FeatureStoreArgs:
    namespace: str
    environment: str
    options: FeatureStoreOptions
    workloads_image: str
    endpoints: FeastEndpoints
    secrets: FeastSecrets
    identity: PodIdentity = PodIdentity()
    service_name: str = "feature-server"

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)


class FeastFeatureStore(pulumi.ComponentResource):
    url: str
    server_selector: dict[str, str]
    apply_selector: dict[str, str]
    materialize_selector: dict[str, str]
    cronjob_name: str

    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:FeastFeatureStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        options = args.options
        self.url = f"http://{args.service_name}.{args.namespace}.svc.cluster.local:{PORT}"
        self.server_selector = selector_labels("feast-server", name)
        self.apply_selector = selector_labels("feast-apply", name)
        self.materialize_selector = selector_labels("feast-materialize", name)
        config_labels = labels("feast", name, "feature-store", args.environment)

        config = k8s.core.v1.ConfigMap(
            f"{name}-repository",
            metadata={"namespace": args.namespace, "labels": config_labels},
            data={"feature_store.yaml": feature_store_yaml(args.endpoints), **repository_files()},
            opts=child,
        )
        env = feast_env(args.endpoints, args.secrets)
        mounts = [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}]

        def volumes(tmp_size: str) -> list[Manifest]:
            return [{"name": "config", "configMap": {"name": config.metadata["name"]}}, empty_dir("tmp", tmp_size)]

        def job_pod(job: str, command: list[str], tmp_size: str, restart_policy: str) -> Manifest:
            return pod_spec(
                identity=args.identity,
                containers=[container(name=job, image=args.workloads_image, command=command, env=env,
                                      resources=options.job_resources, volume_mounts=mounts)],
                volumes=volumes(tmp_size),
                restart_policy=restart_policy,
            )

        apply_labels = labels("feast-apply", name, "feature-registry", args.environment)
        apply_job = k8s.batch.v1.Job(
            f"{name}-apply",
            metadata={"namespace": args.namespace, "labels": apply_labels},
            spec=setup_job_spec(pod_labels=apply_labels,
                                pod=job_pod("apply", apply_command(), "256Mi", "OnFailure")),
            opts=child,
        )
        after_apply = pulumi.ResourceOptions(parent=self, depends_on=[apply_job])

        materialize_labels = labels("feast-materialize", name, "feature-materialization", args.environment)
        self.cronjob_name = "feast-materialize"
        k8s.batch.v1.CronJob(
            f"{name}-materialize",
            metadata={"name": self.cronjob_name, "namespace": args.namespace, "labels": materialize_labels},
            spec=materialize_cronjob_spec(options, materialize_labels,
                                          job_pod("materialize", materialize_command(), "1Gi", "Never")),
            opts=after_apply,
        )

        server_labels = labels("feast-server", name, "feature-server", args.environment)
        health = http_probe("/health", "http")
        server = container(
            name="feature-server",
            image=args.workloads_image,
            command=serve_command(workers=options.server_workers),
            env=env,
            ports=[{"name": "http", "containerPort": PORT}],
            resources=options.server_resources,
            volume_mounts=mounts,
            readiness=health,
            liveness={**health, "periodSeconds": 20, "failureThreshold": 6},
            startup=startup_variant(health, budget_seconds=120),
        )
        k8s.apps.v1.Deployment(
            f"{name}-server",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": server_labels},
            spec={
                "replicas": options.server_replicas,
                "selector": {"matchLabels": self.server_selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": server_labels},
                    "spec": pod_spec(
                        identity=args.identity,
                        containers=[server],
                        volumes=volumes("256Mi"),
                        affinity=spread_across_nodes(self.server_selector) if options.server_replicas > 1 else None,
                    ),
                },
            },
            opts=after_apply,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": server_labels},
            spec={"selector": self.server_selector, "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]},
            opts=child,
        )
        if options.server_replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata={"name": args.service_name, "namespace": args.namespace, "labels": server_labels},
                spec={"maxUnavailable": 1, "selector": {"matchLabels": self.server_selector}},
                opts=child,
            )
        self.register_outputs({"url": self.url, "cronjob_name": self.cronjob_name})


def materialize_cronjob_spec(options: FeatureStoreOptions, pod_labels: dict[str, str], pod: Manifest) -> Manifest:
    # Incremental runs pick up where the last one ended: overlapping runs would only race.
    return scheduled_job_spec(
        schedule=options.materialize_schedule, pod_labels=pod_labels, pod=pod, container_name="materialize",
        fail_on_exit_codes=BAD_INPUT_EXIT_CODES, starting_deadline_seconds=600, active_deadline_seconds=3000,
    )
