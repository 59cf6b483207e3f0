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
from urllib.parse import quote

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from platform_components import images
from platform_components.k8s import (
    Manifest,
    PodIdentity,
    Resources,
    container,
    empty_dir,
    http_probe,
    labels,
    pod_spec,
    secret_env,
    selector_labels,
    spread_across_nodes,
    startup_variant,
)
from platform_components.validation import ArgError, require_dns_label, require_min, require_pinned_image

PORT = 5000
ADMIN_USERNAME = "admin"
# AKS workload identity: the pod label that makes the webhook project a federated token, and the
# ServiceAccount annotation naming the Entra identity the token is exchanged for.
WORKLOAD_IDENTITY_LABEL = "azure.workload.identity/use"
WORKLOAD_IDENTITY_CLIENT_ID = "azure.workload.identity/client-id"
AUTH_CONFIG_DIR = "/etc/mlflow-auth"
AUTH_CONFIG_FILE = "basic_auth.ini"


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
    ]


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
        {"name": "HOME", "value": "/tmp"},
        {"name": "MLFLOW_TMP_DIR", "value": "/tmp"},
        # MLflow 3's job runner (GenAI scorers, trace rollups) forks a Huey runner and about seven
        # consumers per replica with queues in local SQLite files, which replicas do not share;
        # the platform uses tracking and the registry only, so it stays off (docs/decisions.md).
        {"name": "MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "value": "false"},
    ]


def auth_config_ini(database_uri: str) -> str:
    """basic-auth config. New users get no permission until granted (not MLflow's default READ).
    The admin user comes from MLFLOW_AUTH_ADMIN_* env vars, never a default password."""
    return (
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {database_uri}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
    )


def cluster_allowed_hosts(service: str, namespace: str, extra: tuple[str, ...]) -> tuple[str, ...]:
    """Host headers the server accepts: its Service DNS names (with and without the port), the
    loopback names `kubectl port-forward` sends, and any ingress or extra host."""
    names = [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]
    hosts = [variant for name in names for variant in (name, f"{name}:{PORT}")]
    hosts += [f"localhost:{PORT}", f"127.0.0.1:{PORT}"]
    return tuple(dict.fromkeys(hosts + list(extra)))


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

    resources: Resources
    replicas: int = 1
    workers: int = 2
    ingress_host: str | None = None
    ingress_class: str = "nginx"
    extra_allowed_hosts: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_min("replicas", self.replicas, 1)
        require_min("workers", self.workers, 1)
        if self.ingress_host is not None and (not self.ingress_host or "/" in self.ingress_host or ":" in self.ingress_host):
            raise ArgError("ingress_host", f"must be a bare host name, got {self.ingress_host!r}")


@dataclass(frozen=True)
class MlflowArgs:
    namespace: str
    environment: str
    options: MlflowOptions
    postgres_host: str
    postgres_port: int
    tracking_db_user: str
    tracking_db_secret: pulumi.Input[str]
    auth_db_user: str
    auth_db_secret: pulumi.Input[str]
    auth_db_password: pulumi.Input[str]
    s3_endpoint_url: str | None = None
    s3_secret: pulumi.Input[str] | None = None
    artifacts_bucket: str = "mlflow-artifacts"
    azure_blob: AzureBlobArtifacts | None = None  # instead of the S3 store
    postgres_sslmode: str | None = None
    identity: PodIdentity = PodIdentity()
    image: str = images.MLFLOW
    service_name: str = "mlflow"

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("image", self.image)
        on_s3 = self.s3_endpoint_url is not None and self.s3_secret is not None
        if on_s3 == (self.azure_blob is not None):
            raise ArgError("azure_blob", "artifacts need exactly one store: S3 endpoint and Secret, or Azure Blob")

    def endpoints(self) -> ServerEndpoints:
        options = self.options
        hosts = options.extra_allowed_hosts + ((options.ingress_host,) if options.ingress_host else ())
        return ServerEndpoints(
            backend_store_uri=postgres_uri(self.tracking_db_user, self.postgres_host, self.postgres_port, self.tracking_db_user),
            artifacts_destination=self.azure_blob.uri if self.azure_blob else f"s3://{self.artifacts_bucket}",
            s3_endpoint_url=None if self.azure_blob else self.s3_endpoint_url,
            allowed_hosts=cluster_allowed_hosts(self.service_name, self.namespace, hosts),
            auth_config_path=f"{AUTH_CONFIG_DIR}/{AUTH_CONFIG_FILE}",
            workers=options.workers,
            pg_sslmode=self.postgres_sslmode,
        )


class MlflowTrackingServer(pulumi.ComponentResource):
    url: str
    external_url: str | None
    admin_secret_name: pulumi.Output[str]
    admin_password: pulumi.Output[str]  # a Pulumi secret
    service_account: str

    def __init__(self, name: str, args: MlflowArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:MlflowTrackingServer", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta_labels = labels("mlflow", name, "tracking-server", args.environment)
        self.selector = selector_labels("mlflow", name)
        endpoints = args.endpoints()
        self.url = f"http://{args.service_name}.{args.namespace}.svc.cluster.local:{PORT}"
        self.external_url = f"http://{args.options.ingress_host}" if args.options.ingress_host else None

        generated = random.RandomPassword(f"{name}-admin-password", length=32, special=False, opts=child)
        self.admin_password = pulumi.Output.secret(generated.result)
        admin = k8s.core.v1.Secret(
            f"{name}-admin",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            type="kubernetes.io/basic-auth",
            string_data={"username": ADMIN_USERNAME, "password": self.admin_password},
            opts=child,
        )
        self.admin_secret_name = admin.metadata["name"]
        session_key = random.RandomPassword(f"{name}-session-key", length=48, special=False, opts=child)
        session = k8s.core.v1.Secret(
            f"{name}-session",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            string_data={"secret-key": pulumi.Output.secret(session_key.result)},
            opts=child,
        )

        auth_uri = pulumi.Output.secret(args.auth_db_password).apply(
            lambda pw: postgres_uri(args.auth_db_user, args.postgres_host, args.postgres_port, args.auth_db_user, pw)
        )
        auth_config = k8s.core.v1.Secret(
            f"{name}-auth-config",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            string_data={AUTH_CONFIG_FILE: auth_uri.apply(auth_config_ini)},
            opts=child,
        )

        workload_identity = args.azure_blob is not None
        self.service_account = args.service_name
        k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.service_name,
                "namespace": args.namespace,
                "labels": meta_labels,
                **({"annotations": {WORKLOAD_IDENTITY_CLIENT_ID: args.azure_blob.client_id}} if args.azure_blob else {}),
            },
            automount_service_account_token=False,
            opts=child,
        )
        pod_labels = {**meta_labels, **({WORKLOAD_IDENTITY_LABEL: "true"} if workload_identity else {})}

        env = server_env(
            endpoints,
            ServerSecrets(args.tracking_db_secret, args.s3_secret, admin.metadata["name"], session.metadata["name"]),
        )
        mounts = [
            {"name": "tmp", "mountPath": "/tmp"},
            {"name": "auth-config", "mountPath": AUTH_CONFIG_DIR, "readOnly": True},
        ]
        health = http_probe("/health", "http")
        migrate = container(
            name="db-upgrade",
            image=args.image,
            command=db_upgrade_command(endpoints),
            env=env,
            resources=args.options.resources,
            volume_mounts=mounts,
        )
        server = container(
            name="mlflow",
            image=args.image,
            command=server_command(endpoints),
            env=env,
            ports=[{"name": "http", "containerPort": PORT}],
            resources=args.options.resources,
            volume_mounts=mounts,
            readiness=health,
            liveness={**health, "periodSeconds": 20, "failureThreshold": 6},
            startup=startup_variant(health, budget_seconds=180),
        )
        volumes = [
            empty_dir("tmp", "1Gi"),
            {"name": "auth-config", "secret": {"secretName": auth_config.metadata["name"], "defaultMode": 0o440}},
        ]
        k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec={
                "replicas": args.options.replicas,
                "selector": {"matchLabels": self.selector},
                "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
                "template": {
                    "metadata": {"labels": pod_labels},
                    "spec": pod_spec(
                        identity=args.identity,
                        init_containers=[migrate],
                        containers=[server],
                        volumes=volumes,
                        affinity=spread_across_nodes(self.selector) if args.options.replicas > 1 else None,
                        service_account=args.service_name,
                    ),
                },
            },
            opts=child,
        )
        k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec={"selector": self.selector, "ports": [{"name": "http", "port": PORT, "targetPort": "http"}]},
            opts=child,
        )
        if args.options.replicas > 1:
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-pdb",
                metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
                spec={"maxUnavailable": 1, "selector": {"matchLabels": self.selector}},
                opts=child,
            )
        if args.options.ingress_host:
            k8s.networking.v1.Ingress(
                f"{name}-ingress",
                metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
                spec={
                    "ingressClassName": args.options.ingress_class,
                    "rules": [
                        {
                            "host": args.options.ingress_host,
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {"service": {"name": args.service_name, "port": {"number": PORT}}},
                                    }
                                ]
                            },
                        }
                    ],
                },
                opts=child,
            )
        self.register_outputs(
            {"url": self.url, "external_url": self.external_url, "admin_secret_name": self.admin_secret_name}
        )
