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
    Placement,
    Resources,
    container,
    cron_job,
    empty_dir,
    http_probe,
    pod_spec,
    pushgateway_env,
    replicated_server,
    secret_env,
    selector_labels,
    server_container,
    setup_job,
)
from platform_components.network_plan import Peer
from platform_components.registration import register, register_objects
from platform_components.stack_keys import setting, setting_group
from platform_components.validation import require_cron, require_min, require_pinned_image
from workloads.features.errors import FAIL_FAST_EXIT_CODES
from workloads.features.invocation import SERVER_PORT, FeastRun, FeatureServer, Materialization

PORT = SERVER_PORT  # the feature server's own default (workloads/features/invocation.py)
# Feast's metrics server listens on 8000, fixed (feast/metrics.py start_metrics_server).
METRICS_PORT = 8000
METRICS_PORT_NAME = "metrics"
PROJECT = "churn"
REGISTRY_DB = "feast_registry"
CONFIG_DIR = "/etc/feast"  # the ConfigMap, read-only
REPO_DIR = "/tmp/feature-repo"  # staged copy the Feast CLI runs in (see workloads/features/stage.py)
REPO_SOURCE = Path(__file__).resolve().parents[1] / "workloads" / "features" / "repo"
# Pods that may call the feature server carry this label (model servers, notebooks, the smoke test).
CLIENT_LABEL = {"mlops-platform/feature-client": "true"}


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
    redis_secret: pulumi.Input[str] | None  # key "password"; None for offline-only jobs (training)
    s3_secret: pulumi.Input[str]  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, features bucket


def feast_env(endpoints: FeastEndpoints, secrets: FeastSecrets) -> list[Manifest]:
    return [
        secret_env("FEAST_REGISTRY_PASSWORD", secrets.registry_secret, "password"),
        *([secret_env("REDIS_PASSWORD", secrets.redis_secret, "password")] if secrets.redis_secret else []),
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


def apply_command(config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    return FeastRun(config_dir=config_dir, repo_dir=repo_dir, feast_args=("apply",)).to_argv()


def materialize_command(config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    return Materialization(config_dir=config_dir, repo_dir=repo_dir).to_argv()


def rebuild_online_command(start: str, end: str, config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    """A full `feast materialize START END`: refills an empty online store (Redis lost its data),
    which materialize-incremental would not, since it starts where the last run ended."""
    return FeastRun(config_dir=config_dir, repo_dir=repo_dir, feast_args=("materialize", start, end)).to_argv()


def serve_command(config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR, *, host: str = "0.0.0.0",
                  port: int = PORT, workers: int = 1, tuning: FeastTuning = FeastTuning(),
                  metrics: bool = False) -> list[str]:
    """`feast serve` through workloads/features/serve.py, which makes the registry fork-safe;
    `metrics` adds Feast's Prometheus endpoint on METRICS_PORT."""
    return FeatureServer(config_dir=config_dir, repo_dir=repo_dir, host=host, port=port, workers=workers,
                         registry_ttl_seconds=tuning.registry_cache_ttl_seconds,
                         max_requests=tuning.server_max_requests, metrics=metrics).to_argv()


@dataclass(frozen=True)
class FeatureStoreOptions:
    """What a stack tunes (config keys `featureStore*`, `featureServer*`, `featureJob*`)."""

    server_resources: Resources = setting_group("featureServer")
    job_resources: Resources = setting_group("featureJob")
    materialize_schedule: str = setting("featureStoreMaterializeSchedule")
    online_key_ttl_seconds: int = setting("featureStoreOnlineKeyTtlSeconds")
    server_replicas: int = setting("featureServerReplicas")
    server_workers: int = setting("featureServerWorkers")

    def __post_init__(self) -> None:
        require_cron("materialize_schedule", self.materialize_schedule)
        require_min("online_key_ttl_seconds", self.online_key_ttl_seconds, 60)
        require_min("server_replicas", self.server_replicas, 1)
        require_min("server_workers", self.server_workers, 1)


@dataclass(frozen=True)
class FeatureStoreArgs:
    placement: Placement
    options: FeatureStoreOptions
    workloads_image: str
    endpoints: FeastEndpoints
    secrets: FeastSecrets
    service_name: str = "feature-server"
    metrics: bool = False  # Feast's Prometheus endpoint (on with a monitoring stack)
    pushgateway_url: str | None = None  # where the materialisation CronJob reports its outcome

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)


@dataclass(frozen=True)
class FeastContainers:
    """Every Feast workload's container: the same image, env, config mount and scratch space."""

    args: FeatureStoreArgs
    config_map: pulumi.Input[str]

    def volumes(self, tmp_size: str) -> list[Manifest]:
        return [{"name": "config", "configMap": {"name": self.config_map}}, empty_dir("tmp", tmp_size)]

    def job(self, name: str, command: list[str]) -> Manifest:
        return container(name=name, image=self.args.workloads_image, command=command, env=self._env(),
                         resources=self.args.options.job_resources, volume_mounts=self._mounts())

    def server(self) -> Manifest:
        options, metrics = self.args.options, self.args.metrics
        server = server_container(
            name="feature-server", image=self.args.workloads_image,
            command=serve_command(workers=options.server_workers, metrics=metrics),
            env=feast_env(self.args.endpoints, self.args.secrets), resources=options.server_resources,
            volume_mounts=self._mounts(), port_name="http", port=PORT, probe=http_probe("/health", "http"),
            startup_budget_seconds=120,
        )
        if metrics:
            server["ports"].append({"name": METRICS_PORT_NAME, "containerPort": METRICS_PORT})
        return server

    def _env(self) -> list[Manifest]:
        """The Jobs' environment: the server's, plus where to push their outcome."""
        return [*feast_env(self.args.endpoints, self.args.secrets), *pushgateway_env(self.args.pushgateway_url)]

    @staticmethod
    def _mounts() -> list[Manifest]:
        return [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True}, {"name": "tmp", "mountPath": "/tmp"}]


class FeastFeatureStore(pulumi.ComponentResource):
    """Feast: registry in Postgres, online store in Redis, offline parquet in S3. A `feast apply`
    Job per repository change, an hourly incremental materialisation CronJob, and the feature
    server (`feast serve`) behind a Service that pods labelled CLIENT_LABEL may call."""

    url: str
    server_selector: dict[str, str]
    server_peer: Peer
    apply_selector: dict[str, str]
    materialize_selector: dict[str, str]
    cronjob_name: str
    config_map_name: pulumi.Output[str]  # feature_store.yaml and the repository, for other Feast jobs
    endpoints: FeastEndpoints

    def __init__(self, name: str, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:FeastFeatureStore", name, None, opts)
        placement, options = args.placement, args.options
        self.url = placement.service_url(args.service_name, PORT)
        self.server_selector = selector_labels("feast-server", name)
        self.server_peer = Peer("feature-server", selector=self.server_selector, port=PORT)
        self.apply_selector = selector_labels("feast-apply", name)
        self.materialize_selector = selector_labels("feast-materialize", name)
        self.cronjob_name = "feast-materialize"

        config = k8s.core.v1.ConfigMap(
            f"{name}-repository",
            metadata=placement.metadata(placement.labels("feast", name, "feature-store")),
            data={"feature_store.yaml": feature_store_yaml(args.endpoints), **repository_files()},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.config_map_name, self.endpoints = config.metadata["name"], args.endpoints
        feast = FeastContainers(args, self.config_map_name)
        apply_job = register(f"{name}-apply", setup_job(
            placement, meta_labels=placement.labels("feast-apply", name, "feature-registry"),
            job=feast.job("apply", apply_command()), volumes=feast.volumes("256Mi"),
        ), pulumi.ResourceOptions(parent=self))

        # Incremental runs pick up where the last one ended: overlapping runs would only race.
        register(f"{name}-materialize", cron_job(
            placement, name=self.cronjob_name, schedule=options.materialize_schedule,
            meta_labels=placement.labels("feast-materialize", name, "feature-materialization"),
            job=feast.job("materialize", materialize_command()), volumes=feast.volumes("1Gi"),
            fail_on_exit_codes=list(FAIL_FAST_EXIT_CODES), starting_deadline_seconds=600, active_deadline_seconds=3000,
        ), pulumi.ResourceOptions(parent=self, depends_on=[apply_job]))

        objects = replicated_server(placement, name=args.service_name, selector=self.server_selector,
                                    meta_labels=placement.labels("feast-server", name, "feature-server"),
                                    pod=pod_spec(identity=placement.identity, containers=[feast.server()],
                                                 volumes=feast.volumes("256Mi")),
                                    replicas=options.server_replicas, port_name="http", port=PORT)
        register_objects(name, objects, parent=self, workload_depends_on=[apply_job],
                         renamed={"deployment": f"{name}-server"})
        self.register_outputs({"url": self.url, "cronjob_name": self.cronjob_name})
