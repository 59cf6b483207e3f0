"""MlflowTrackingServer: MLflow on Postgres with S3 artifacts served through the server, basic auth.

Creates: a generated admin password and auth config (Secrets), a ServiceAccount, a Deployment
whose init container runs `mlflow db upgrade`, a Service, an optional Ingress, and a
PodDisruptionBudget when HA. Artifacts go to the platform's S3 store with a key from a Secret, or
to Azure Blob (`wasbs://`) with AKS workload identity: no credential at all in the cluster.
`server_command`, `server_env` and `auth_config_ini` are the single source of truth for how the
server runs: the integration tests start a local `mlflow server` from the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s

from platform_components import images
from platform_components.k8s import (
    Manifest,
    Placement,
    Resources,
    container,
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
from platform_components.postgres import DatabaseConnection
from platform_components.quantities import parse_quantity
from platform_components.registration import register_objects
from platform_components.stack_keys import setting, setting_group
from platform_components.validation import (
    ArgError,
    require_dns_label,
    require_dns_subdomain,
    require_min,
    require_pinned_image,
    require_quantity,
)

PORT = 5000
ADMIN_USERNAME = "admin"
# AKS workload identity: the pod label that makes the webhook project a federated token, and the
# ServiceAccount annotation naming the Entra identity the token is exchanged for.
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"
WORKLOAD_IDENTITY_CLIENT_ID = "azure.workload.identity/client-id"
AUTH_CONFIG_DIR = "/etc/mlflow-auth"
AUTH_CONFIG_FILE = "basic_auth.ini"
# The proxied-artifacts plugin (mlflow_plugin/proxied_artifacts.py) and its package metadata, on
# the server's PYTHONPATH: MLflow finds the entry points in the dist-info directory.
PLUGIN_DIR = "/opt/mlflow-plugins"
PLUGIN_SOURCE = Path(__file__).parent / "mlflow_plugin" / "proxied_artifacts.py"
METRICS_EXPORTER_SOURCE = Path(__file__).parent / "mlflow_plugin" / "metrics_exporter.py"
METRICS_PORT = 9102  # the metrics sidecar's (mlflow_plugin/metrics_exporter.py)
METRICS_PORT_NAME = "metrics"
METRICS_RESOURCES = Resources("10m", "48Mi", "128Mi")
PLUGIN_DIST = "mlops_proxied_artifacts-1.0.dist-info"
# SQLAlchemy engines in each server worker process, each with its own connection pool: the tracking
# store, the model-registry store (mlflow/store/model_registry/sqlalchemy_store.py keeps its own
# engine map) and the basic-auth store (mlflow/server/auth/sqlalchemy_store.py). Each pool holds up
# to SQLAlchemy's 5 + 10 overflow connections. Smaller pools starve: a request holds an auth-store
# connection while it waits for a tracking one, and 32 clients then time out after 30 s
# (docs/benchmarks.md), so the pools keep MLflow's defaults and the budget is checked instead.
DB_ENGINES_PER_WORKER = 3
DB_CONNECTIONS_PER_ENGINE = 5 + 10


@dataclass(frozen=True)
class ServerEndpoints:
    """Everything in the server's command line and environment that depends on where it runs."""

    backend_store_uri: str  # without password: libpq takes it from PGPASSWORD
    artifacts_destination: str
    s3_endpoint_url: str | None  # None when artifacts are not on S3
    allowed_hosts: tuple[str, ...]
    auth_config_path: str
    host: str = "0.0.0.0"
    port: int = PORT
    workers: int = 2
    pg_sslmode: str | None = None  # libpq PGSSLMODE, set when the database requires TLS
    plugin_dir: str = PLUGIN_DIR  # where `plugin_files()` are
    scratch_dir: str = "/tmp"  # HOME and TMPDIR: MLflow spools each proxied download here

    metrics: bool = False  # Prometheus metrics (with a monitoring stack): --expose-prometheus + the sidecar
    metrics_port: int = METRICS_PORT

    @property
    def metrics_dir(self) -> str:
        """prometheus_client's multiprocess files, one set per worker; the sidecar sums them."""
        return f"{self.scratch_dir}/prometheus-metrics"


def postgres_uri(user: str, host: str, port: int, database: str, password: str | None = None) -> str:
    secret = f":{quote(password, safe='')}" if password else ""
    return f"postgresql://{quote(user, safe='')}{secret}@{host}:{port}/{database}"


def server_command(endpoints: ServerEndpoints) -> list[str]:
    return [
        "mlflow", "server",
        "--host", endpoints.host,
        "--port", str(endpoints.port),
        "--workers", str(endpoints.workers),
        "--backend-store-uri", endpoints.backend_store_uri,
        "--serve-artifacts",
        "--artifacts-destination", endpoints.artifacts_destination,
        "--app-name", "basic-auth",
        "--allowed-hosts", ",".join(endpoints.allowed_hosts),
        *(["--expose-prometheus", endpoints.metrics_dir] if endpoints.metrics else []),
    ]


def metrics_command(endpoints: ServerEndpoints) -> list[str]:
    """The metrics sidecar: the workers' metrics on their own port, outside the basic-auth app."""
    return ["python", f"{endpoints.plugin_dir}/metrics_exporter.py", "--dir", endpoints.metrics_dir,
            "--port", str(endpoints.metrics_port), "--host", endpoints.host]


def db_upgrade_command(endpoints: ServerEndpoints) -> list[str]:
    return ["mlflow", "db", "upgrade", endpoints.backend_store_uri]


@dataclass(frozen=True)
class ServerSecrets:
    """Where the server's credentials live: Secret name and key for each value."""

    db_secret: pulumi.Input[str]  # key "password": the tracking database role's password
    s3_secret: pulumi.Input[str] | None  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; None off S3
    admin_secret: pulumi.Input[str]  # key "password": the basic-auth admin password
    session_secret: pulumi.Input[str]  # key "secret-key": Flask's CSRF/session key, shared by replicas


def server_env(endpoints: ServerEndpoints, secrets: ServerSecrets) -> list[Manifest]:
    """Container env in Kubernetes form; `secretKeyRef`s keep every credential out of the spec.
    On Azure Blob there is no storage credential: MLflow's DefaultAzureCredential reads the
    workload-identity variables the AKS webhook injects."""
    s3 = []
    if endpoints.s3_endpoint_url:
        if secrets.s3_secret is None:
            raise ArgError("s3_secret", "is required when artifacts are on S3")
        s3 = [
            {"name": "MLFLOW_S3_ENDPOINT_URL", "value": endpoints.s3_endpoint_url},
            secret_env("AWS_ACCESS_KEY_ID", secrets.s3_secret, "AWS_ACCESS_KEY_ID"),
            secret_env("AWS_SECRET_ACCESS_KEY", secrets.s3_secret, "AWS_SECRET_ACCESS_KEY"),
            {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        ]
    tls = [{"name": "PGSSLMODE", "value": endpoints.pg_sslmode}] if endpoints.pg_sslmode else []
    return [
        secret_env("PGPASSWORD", secrets.db_secret, "password"),
        *tls,
        *s3,
        {"name": "MLFLOW_AUTH_CONFIG_PATH", "value": endpoints.auth_config_path},
        {"name": "MLFLOW_AUTH_ADMIN_USERNAME", "value": ADMIN_USERNAME},
        secret_env("MLFLOW_AUTH_ADMIN_PASSWORD", secrets.admin_secret, "password"),
        secret_env("MLFLOW_FLASK_SERVER_SECRET_KEY", secrets.session_secret, "secret-key"),
        {"name": "PYTHONPATH", "value": endpoints.plugin_dir},
        {"name": "HOME", "value": endpoints.scratch_dir},
        {"name": "TMPDIR", "value": endpoints.scratch_dir},
        # MLflow 3's job runner (GenAI scorers, trace rollups) forks a Huey runner and about seven
        # consumers per replica with queues in local SQLite files, which replicas do not share;
        # the platform uses tracking and the registry only, so it stays off (docs/decisions.md).
        {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
    ]


def plugin_files() -> dict[str, str]:
    """Relative path -> content of the proxied-artifacts plugin, as it lies under `plugin_dir`:
    the module, and the dist-info whose entry points register it for `s3` and `wasbs`."""
    return {
        "proxied_artifacts.py": PLUGIN_SOURCE.read_text(),
        "metrics_exporter.py": METRICS_EXPORTER_SOURCE.read_text(),
        f"{PLUGIN_DIST}/METADATA": "Metadata-Version: 2.1\nName: mlops-proxied-artifacts\nVersion: 1.0\n",
        f"{PLUGIN_DIST}/entry_points.txt": (
            "[mlflow.artifact_repository]\n"
            "s3 = proxied_artifacts:ProxiedS3ArtifactRepository\n"
            "wasbs = proxied_artifacts:ProxiedAzureBlobArtifactRepository\n"
        ),
    }


def auth_config_ini(database_uri: str, cache_seconds: int) -> str:
    """basic-auth config. New users get no permission until granted (not MLflow's default READ).
    The admin user comes from MLFLOW_AUTH_ADMIN_* env vars, never a default password.
    `cache_seconds`: MLflow's per-process credential cache (`auth_cache_ttl_seconds`, off in MLflow
    by default); without it every request pays a PBKDF2 check of about 0.3 s on one core."""
    return (
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {database_uri}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
        f"auth_cache_ttl_seconds = {cache_seconds}\n"
    )


# Loopback on any port, as `kubectl port-forward svc/mlflow <any>:5000` sends it, in MLflow's own
# fnmatch forms (mlflow/server/security_utils.py: `[[]` escapes IPv6's bracket); a port is digits.
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]", "localhost:[0-9]*", "127.0.0.1:[0-9]*", "[[]::1]:[0-9]*")


def cluster_allowed_hosts(service: str, namespace: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """Host headers the server accepts: its Service DNS names (with and without the port), loopback
    on any port (port-forwards), and each ingress or extra host with and without a port. Any other
    Host is refused: the list exists against DNS rebinding."""
    names = [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]
    hosts = [variant for name in names for variant in (name, f"{name}:{PORT}")]
    hosts += [variant for host in extra for variant in (host, f"{host}:[0-9]*")]
    return tuple(dict.fromkeys(hosts + list(LOOPBACK_HOSTS)))


@dataclass(frozen=True)
class S3Artifacts:
    """Artifacts in a bucket of the platform's S3 store, with the credentials in `secret`."""

    endpoint_url: str
    secret: pulumi.Input[str]  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
    bucket: str = "mlflow-artifacts"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}"


@dataclass(frozen=True)
class AzureBlobArtifacts:
    """Artifacts in an Azure Blob container, reached with the workload identity `client_id`."""

    account: str
    container: str
    client_id: pulumi.Input[str]

    @property
    def uri(self) -> str:
        return f"wasbs://{self.container}@{self.account}.blob.core.windows.net/"


@dataclass(frozen=True)
class MlflowOptions:
    """What a stack tunes (config keys `mlflow*`)."""

    resources: Resources = setting_group("mlflow")
    replicas: int = setting("mlflowReplicas")
    workers: int = setting("mlflowWorkers")
    ingress_host: str | None = setting("mlflowIngressHost")
    ingress_class: str = setting("mlflowIngressClass")
    extra_allowed_hosts: tuple[str, ...] = setting("mlflowExtraAllowedHosts")
    auth_cache_seconds: int = setting("mlflowAuthCacheSeconds")
    max_artifact_size: str = setting("mlflowMaxArtifactSize")
    scratch_size: str = setting("mlflowScratchSize")
    ingress_tls_secret: str | None = setting("mlflowIngressTlsSecret")
    ingress_cluster_issuer: str | None = setting("mlflowIngressClusterIssuer")
    ingress_await_seconds: int = setting("mlflowIngressAwaitSeconds")

    def __post_init__(self) -> None:
        require_min("ingress_await_seconds", self.ingress_await_seconds, 0)
        require_quantity("max_artifact_size", self.max_artifact_size)
        require_quantity("scratch_size", self.scratch_size)
        if parse_quantity(self.scratch_size) < parse_quantity(self.max_artifact_size):
            raise ArgError("scratch_size", f"must hold the largest artifact ({self.max_artifact_size}): MLflow spools "
                                           f"every proxied download there, got {self.scratch_size}")
        for name in ("ingress_tls_secret", "ingress_cluster_issuer"):
            value = getattr(self, name)
            if value is not None:
                require_dns_subdomain(name, value)
                if not self.ingress_host:
                    raise ArgError(name, "needs an Ingress: set mlflowIngressHost too")
        require_min("auth_cache_seconds", self.auth_cache_seconds, 0)
        if self.auth_cache_seconds > 3600:
            raise ArgError("auth_cache_seconds", f"must be at most 3600 (a changed password stays valid that long), "
                                                 f"got {self.auth_cache_seconds}")
        require_min("replicas", self.replicas, 1)
        require_min("workers", self.workers, 1)
        if self.ingress_host is not None and (not self.ingress_host or "/" in self.ingress_host or ":" in self.ingress_host):
            raise ArgError("ingress_host", f"must be a bare host name, got {self.ingress_host!r}")


def max_db_connections(options: MlflowOptions) -> int:
    """Database connections all MLflow pods may hold at once, init containers aside, during a
    rolling update too (one pod more: `maxSurge: 1`)."""
    return (options.replicas + 1) * options.workers * DB_ENGINES_PER_WORKER * DB_CONNECTIONS_PER_ENGINE


@dataclass(frozen=True)
class MlflowArgs:
    placement: Placement
    options: MlflowOptions
    tracking_db: DatabaseConnection  # the backend store
    auth_db: DatabaseConnection  # the basic-auth app's users and permissions
    artifacts: S3Artifacts | AzureBlobArtifacts
    image: str = images.MLFLOW
    service_name: str = "mlflow"
    metrics: bool = False  # the metrics sidecar, for a monitoring stack

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("image", self.image)

    def endpoints(self) -> ServerEndpoints:
        options, db = self.options, self.tracking_db
        hosts = options.extra_allowed_hosts + ((options.ingress_host,) if options.ingress_host else ())
        return ServerEndpoints(
            backend_store_uri=postgres_uri(db.username, db.host, db.port, db.database),
            artifacts_destination=self.artifacts.uri,
            s3_endpoint_url=self.artifacts.endpoint_url if isinstance(self.artifacts, S3Artifacts) else None,
            allowed_hosts=cluster_allowed_hosts(self.service_name, self.placement.namespace, hosts),
            auth_config_path=f"{AUTH_CONFIG_DIR}/{AUTH_CONFIG_FILE}",
            workers=options.workers,
            pg_sslmode=db.sslmode,
            metrics=self.metrics,
        )


def server_pod(args: MlflowArgs, secrets: ServerSecrets, auth_config_secret: pulumi.Input[str],
               plugin_config_map: pulumi.Input[str]) -> Manifest:
    """`mlflow db upgrade` as an init container, then the server, both with the same env. /tmp is
    sized by `mlflowScratchSize`: MLflow spools each proxied download there whole (uploads to S3
    stream through the plugin)."""
    endpoints = args.endpoints()
    env = server_env(endpoints, secrets)
    mounts = [
        {"name": "tmp", "mountPath": endpoints.scratch_dir},
        {"name": "auth-config", "mountPath": AUTH_CONFIG_DIR, "readOnly": True},
        {"name": "plugins", "mountPath": endpoints.plugin_dir, "readOnly": True},
    ]
    migrate = container(name="db-upgrade", image=args.image, command=db_upgrade_command(endpoints), env=env,
                        resources=args.options.resources, volume_mounts=mounts)
    server = server_container(
        name="mlflow",
        image=args.image,
        command=server_command(endpoints),
        env=env,
        port_name="http", port=PORT,
        resources=args.options.resources,
        volume_mounts=mounts,
        probe=http_probe("/health", "http"), startup_budget_seconds=180,
    )
    sidecars = [server_container(
        name="metrics", image=args.image, command=metrics_command(endpoints), resources=METRICS_RESOURCES,
        volume_mounts=mounts, port_name=METRICS_PORT_NAME, port=endpoints.metrics_port,
        probe=http_probe("/metrics", METRICS_PORT_NAME), startup_budget_seconds=60,
    )] if endpoints.metrics else []
    return pod_spec(
        identity=args.placement.identity,
        init_containers=[migrate],
        containers=[server, *sidecars],
        volumes=[
            empty_dir("tmp", args.options.scratch_size),
            {"name": "auth-config", "secret": {"secretName": auth_config_secret, "defaultMode": 0o440}},
            {"name": "plugins", "configMap": {"name": plugin_config_map, "defaultMode": 0o444,
                                              "items": [{"key": plugin_key(path), "path": path} for path in plugin_files()]}},
        ],
        service_account=args.service_name,
    )


def plugin_key(path: str) -> str:
    """ConfigMap key of a plugin file (keys cannot hold '/'; the volume's items restore the path)."""
    return path.replace("/", "__")


# Artifacts pass through the Ingress as whole request and response bodies: no buffering to the
# controller's disk, and time for a large file at a few MB/s. ingress-nginx's annotations.
INGRESS_TIMEOUT_SECONDS = 900


def tls_secret_name(options: MlflowOptions, service_name: str) -> str | None:
    """The TLS Secret: the stack's, or the one cert-manager fills for the issuer; None without TLS."""
    if options.ingress_tls_secret:
        return options.ingress_tls_secret
    return f"{service_name}-tls" if options.ingress_cluster_issuer else None


def ingress(args: MlflowArgs, metadata: Manifest) -> Manifest:
    """Routes the stack's `mlflowIngressHost` to the Service through `mlflowIngressClass`. With TLS
    (an existing Secret, or one cert-manager issues through `mlflowIngressClusterIssuer`), plain
    HTTP is redirected before any request, and its basic-auth header, reaches MLflow."""
    options = args.options
    backend = {"service": {"name": args.service_name, "port": {"number": PORT}}}
    body_bytes = int(parse_quantity(options.max_artifact_size))
    annotations = {
        "nginx.ingress.kubernetes.io/proxy-body-size": str(body_bytes),
        "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
        "nginx.ingress.kubernetes.io/proxy-buffering": "off",
        "nginx.ingress.kubernetes.io/proxy-read-timeout": str(INGRESS_TIMEOUT_SECONDS),
        "nginx.ingress.kubernetes.io/proxy-send-timeout": str(INGRESS_TIMEOUT_SECONDS),
        # `pulumi up` waits for the ingress controller to publish the Ingress's address, this long;
        # 0 skips the wait, for controllers that publish no status (docs/operations.md).
        **({"pulumi.com/timeoutSeconds": str(options.ingress_await_seconds)} if options.ingress_await_seconds
           else {"pulumi.com/skipAwait": "true"}),
    }
    spec: Manifest = {
        "ingressClassName": options.ingress_class,
        "rules": [{"host": options.ingress_host,
                   "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]}}],
    }
    secret = tls_secret_name(options, args.service_name)
    if secret:
        spec["tls"] = [{"hosts": [options.ingress_host], "secretName": secret}]
        annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] = "true"
        if options.ingress_cluster_issuer:
            annotations["cert-manager.io/cluster-issuer"] = options.ingress_cluster_issuer
    return manifest("networking.k8s.io/v1", "Ingress", {**metadata, "annotations": annotations}, spec)


class MlflowTrackingServer(pulumi.ComponentResource):
    """MLflow's tracking server and model registry: Postgres backend, artifacts proxied to S3 or
    Azure Blob, basic auth with new users getting no permission, schema migrated before start."""

    url: str
    external_url: str | None
    admin_secret_name: pulumi.Output[str]
    admin_password: pulumi.Output[str]  # a Pulumi secret
    service_account: str
    selector: dict[str, str]
    peer: Peer

    def __init__(self, name: str, args: MlflowArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:MlflowTrackingServer", name, None, opts)
        placement = args.placement
        meta_labels = placement.labels("mlflow", name, "tracking-server")
        self.selector = selector = selector_labels("mlflow", name)
        self.peer = Peer("mlflow", selector=selector, port=PORT)
        self.url = placement.service_url(args.service_name, PORT)
        scheme = "https" if tls_secret_name(args.options, args.service_name) else "http"
        self.external_url = f"{scheme}://{args.options.ingress_host}" if args.options.ingress_host else None
        self.service_account = args.service_name

        self.admin_password = placement.credentials.password(f"{name}-admin-password", 32, parent=self)
        self.admin_secret_name = self._secret(f"{name}-admin", meta_labels, placement,
                                              {"username": ADMIN_USERNAME, "password": self.admin_password},
                                              secret_type="kubernetes.io/basic-auth")
        session = self._secret(f"{name}-session", meta_labels, placement,
                               {"secret-key": placement.credentials.password(f"{name}-session-key", 48, parent=self)})
        auth = args.auth_db
        auth_uri = pulumi.Output.secret(auth.password).apply(
            lambda pw: postgres_uri(auth.username, auth.host, auth.port, auth.database, pw))
        auth_config = self._secret(f"{name}-auth-config", meta_labels, placement,
                                   {AUTH_CONFIG_FILE: auth_uri.apply(lambda uri: auth_config_ini(uri, args.options.auth_cache_seconds))})

        blob = args.artifacts if isinstance(args.artifacts, AzureBlobArtifacts) else None
        k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={**placement.metadata(meta_labels, args.service_name),
                      **({"annotations": {WORKLOAD_IDENTITY_CLIENT_ID: blob.client_id}} if blob else {})},
            automount_service_account_token=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        s3_secret = args.artifacts.secret if isinstance(args.artifacts, S3Artifacts) else None
        secrets = ServerSecrets(args.tracking_db.secret_name, s3_secret, self.admin_secret_name, session)
        plugins = k8s.core.v1.ConfigMap(
            f"{name}-plugins", metadata=placement.metadata(meta_labels),
            data={plugin_key(path): text for path, text in plugin_files().items()},
            opts=pulumi.ResourceOptions(parent=self))
        objects = replicated_server(
            placement, name=args.service_name, meta_labels=meta_labels, selector=selector,
            pod=server_pod(args, secrets, auth_config, plugins.metadata["name"]), replicas=args.options.replicas, port_name="http", port=PORT,
            pod_labels={**meta_labels, **({WORKLOAD_IDENTITY_LABEL: "true"} if blob else {})},
        )
        if args.options.ingress_host:
            objects["ingress"] = ingress(args, placement.metadata(meta_labels, args.service_name))
        register_objects(name, objects, parent=self)
        self.register_outputs(
            {"url": self.url, "external_url": self.external_url, "admin_secret_name": self.admin_secret_name}
        )

    def _secret(self, logical_name: str, meta_labels: dict[str, str], placement: Placement,
                data: dict[str, pulumi.Input[str]], secret_type: str | None = None) -> pulumi.Output[str]:
        secret = k8s.core.v1.Secret(logical_name, metadata=placement.metadata(meta_labels), type=secret_type,
                                    string_data=data, opts=pulumi.ResourceOptions(parent=self))
        return secret.metadata["name"]
