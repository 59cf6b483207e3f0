"""MlopsPlatform: the whole platform in one namespace, wired together.

Namespace (restricted PSS, default deny) -> Postgres (mlflow, mlflow_auth and feast_registry
databases) -> object store (buckets) -> MLflow tracking server -> Redis online store -> Feast
feature store -> drift monitors -> nightly Postgres backups, plus the NetworkPolicies that allow exactly the links between them.
On AKS, Postgres may be a managed server and MLflow's artifacts an Azure Blob container: the
platform then gets their addresses (infra/) and opens egress to exactly their subnets.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from platform_components.drift_monitor import DriftMonitor, DriftMonitorArgs, DriftOptions
from platform_components.feature_store import CLIENT_LABEL as FEATURE_CLIENT_LABEL
from platform_components.feature_store import PORT as FEATURE_SERVER_PORT
from platform_components.feature_store import REGISTRY_DB as FEATURE_REGISTRY_DB
from platform_components.feature_store import (
    FeastEndpoints,
    FeastFeatureStore,
    FeastSecrets,
    FeatureStoreArgs,
    FeatureStoreOptions,
)
from platform_components.k8s import PodIdentity, labels
from platform_components.mlflow_server import PORT as MLFLOW_PORT
from platform_components.mlflow_server import AzureBlobArtifacts, MlflowArgs, MlflowOptions, MlflowTrackingServer
from platform_components.namespace import NamespaceArgs, PlatformNamespace
from platform_components.network_policies import (
    ExternalEgress,
    ExternalIngress,
    Link,
    NetworkPolicyArgs,
    PlatformNetworkPolicies,
)
from platform_components.object_store import SERVICE_PORT as S3_PORT
from platform_components.object_store import ObjectStore, ObjectStoreArgs, ObjectStoreOptions, SeaweedfsPorts
from platform_components.postgres import PORT as POSTGRES_PORT
from platform_components.postgres import AppDatabase, ExternalServer, PostgresArgs, PostgresDatabase, PostgresOptions
from platform_components.postgres_backup import (
    BackupEndpoints,
    BackupOptions,
    BackupSecrets,
    PostgresBackup,
    PostgresBackupArgs,
)
from platform_components.redis import PORT as REDIS_PORT
from platform_components.redis import RedisArgs, RedisOnlineStore, RedisOptions
from platform_components.validation import ArgError, require_dns_label, require_k8s_minor_version, require_pinned_image

MONITORING_BUCKET = "monitoring"
TRACKING_DB = "mlflow"
AUTH_DB = "mlflow_auth"
ARTIFACTS_BUCKET = "mlflow-artifacts"
FEATURES_BUCKET = "features"
BACKUPS_BUCKET = "backups"
FEATURE_DATA_URI = f"s3://{FEATURES_BUCKET}/churn"
BUCKETS = (ARTIFACTS_BUCKET, MONITORING_BUCKET, FEATURES_BUCKET, BACKUPS_BUCKET)
DATABASES = (AppDatabase(TRACKING_DB), AppDatabase(AUTH_DB), AppDatabase(FEATURE_REGISTRY_DB))
# S3 client -> the buckets its own credentials may use (SeaweedFS; MinIO clients share the root user).
S3_CLIENTS = {"mlflow": (ARTIFACTS_BUCKET,), "drift": (MONITORING_BUCKET,), "feast": (FEATURES_BUCKET,),
              "backup": (BACKUPS_BUCKET,)}
HTTPS_PORT = 443
# Microsoft Entra ID (token exchange for workload identity) has public addresses only.
PUBLIC_INTERNET = ("0.0.0.0/0",)
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


@dataclass(frozen=True)
class AzureArtifactStore:
    """MLflow's artifacts in Azure Blob, reached through a private endpoint in `endpoint_cidr`."""

    blob: AzureBlobArtifacts
    endpoint_cidr: str


@dataclass(frozen=True)
class PlatformArgs:
    environment: str
    namespace: str
    pod_security_version: str
    identity: PodIdentity
    workloads_image: str
    postgres: PostgresOptions
    object_store: ObjectStoreOptions
    mlflow: MlflowOptions
    redis: RedisOptions
    drift: DriftOptions
    feature_store: FeatureStoreOptions
    backup: BackupOptions = BackupOptions()
    storage_class: str | None = None
    protect_data: bool = False
    ingress_controller_namespace: str = "ingress-nginx"
    external_postgres: ExternalServer | None = None  # a managed server instead of the StatefulSet
    azure_artifacts: AzureArtifactStore | None = None  # MLflow artifacts off the S3 store

    @property
    def buckets(self) -> tuple[str, ...]:
        """The S3 store's buckets: MLflow's goes when its artifacts live in Azure Blob."""
        return tuple(b for b in BUCKETS if not (self.azure_artifacts and b == ARTIFACTS_BUCKET))

    @property
    def s3_clients(self) -> dict[str, tuple[str, ...]]:
        return {c: b for c, b in S3_CLIENTS.items() if not (self.azure_artifacts and c == "mlflow")}

    def __post_init__(self) -> None:
        require_dns_label("environment", self.environment)
        require_dns_label("namespace", self.namespace)
        require_k8s_minor_version("pod_security_version", self.pod_security_version)
        require_dns_label("ingress_controller_namespace", self.ingress_controller_namespace)
        require_pinned_image("workloads_image", self.workloads_image)
        if self.storage_class == "":
            raise ArgError("storage_class", "must be a StorageClass name or unset, got ''")


class MlopsPlatform(pulumi.ComponentResource):
    namespace: pulumi.Output[str]
    mlflow_url: str
    mlflow_external_url: str | None
    s3_endpoint: str
    buckets: tuple[str, ...]
    redis_host: str
    feature_server_url: str
    mlflow_admin_password: pulumi.Output[str]  # a Pulumi secret
    drift_cronjobs: list[str]
    backup_cronjob: str
    secret_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        namespace = PlatformNamespace(
            f"{name}-namespace",
            NamespaceArgs(
                name=args.namespace,
                labels=labels("mlops-platform", name, "namespace", args.environment),
                pod_security_version=args.pod_security_version,
                protect=args.protect_data,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Everything else lives in the namespace: create it first, delete it last.
        inside = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        common = {"namespace": args.namespace, "environment": args.environment}

        postgres = PostgresDatabase(
            f"{name}-postgres",
            PostgresArgs(
                **common,
                databases=DATABASES,
                options=args.postgres,
                storage_class=args.storage_class,
                identity=args.identity,
                protect=args.protect_data,
                external=args.external_postgres,
            ),
            opts=inside,
        )
        object_store = ObjectStore(
            f"{name}-object-store",
            ObjectStoreArgs(
                **common,
                options=args.object_store,
                workloads_image=args.workloads_image,
                buckets=args.buckets,
                clients=args.s3_clients,
                storage_class=args.storage_class,
                identity=args.identity,
                protect=args.protect_data,
            ),
            opts=inside,
        )
        tracking, auth = postgres.connections[TRACKING_DB], postgres.connections[AUTH_DB]
        mlflow = MlflowTrackingServer(
            f"{name}-mlflow",
            MlflowArgs(
                **common,
                options=args.mlflow,
                postgres_host=postgres.host,
                postgres_port=postgres.port,
                tracking_db_user=tracking.username,
                tracking_db_secret=tracking.secret_name,
                auth_db_user=auth.username,
                auth_db_secret=auth.secret_name,
                auth_db_password=auth.password,
                **(
                    {"azure_blob": args.azure_artifacts.blob}
                    if args.azure_artifacts
                    else {"s3_endpoint_url": object_store.endpoint, "s3_secret": object_store.client_secret_names["mlflow"]}
                ),
                artifacts_bucket=ARTIFACTS_BUCKET,
                postgres_sslmode=tracking.sslmode,
                identity=args.identity,
            ),
            opts=inside,
        )
        redis = RedisOnlineStore(
            f"{name}-redis",
            RedisArgs(
                **common,
                options=args.redis,
                storage_class=args.storage_class,
                identity=args.identity,
                protect=args.protect_data,
            ),
            opts=inside,
        )

        registry = postgres.connections[FEATURE_REGISTRY_DB]
        features = FeastFeatureStore(
            f"{name}-features",
            FeatureStoreArgs(
                **common,
                options=args.feature_store,
                workloads_image=args.workloads_image,
                endpoints=FeastEndpoints(
                    registry_host=postgres.host,
                    registry_port=postgres.port,
                    redis_host=redis.host,
                    redis_port=redis.port,
                    s3_endpoint_url=object_store.endpoint,
                    data_uri=FEATURE_DATA_URI,
                    online_key_ttl_seconds=args.feature_store.online_key_ttl_seconds,
                    registry_user=registry.username,
                    registry_database=registry.database,
                    registry_sslmode=registry.sslmode,
                ),
                secrets=FeastSecrets(
                    registry_secret=registry.secret_name,
                    redis_secret=redis.secret_name,
                    s3_secret=object_store.client_secret_names["feast"],
                ),
                identity=args.identity,
            ),
            # `feast apply` needs the registry database, the bucket and Redis to exist.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, postgres, object_store, redis]),
        )

        drift = None
        if args.drift.models:
            drift = DriftMonitor(
                f"{name}-drift",
                DriftMonitorArgs(
                    **common,
                    options=args.drift,
                    workloads_image=args.workloads_image,
                    mlflow_url=mlflow.url,
                    mlflow_secret=mlflow.admin_secret_name,
                    s3_endpoint=object_store.endpoint,
                    s3_secret=object_store.client_secret_names["drift"],
                    bucket=MONITORING_BUCKET,
                    identity=args.identity,
                ),
                opts=inside,
            )

        admin = args.external_postgres.admin_user if args.external_postgres else "postgres"
        backup = PostgresBackup(
            f"{name}-backup",
            PostgresBackupArgs(
                **common,
                options=args.backup,
                workloads_image=args.workloads_image,
                endpoints=BackupEndpoints(postgres.host, postgres.port, admin, object_store.endpoint,
                                          sslmode=tracking.sslmode),
                secrets=BackupSecrets(postgres.superuser_secret_name, object_store.client_secret_names["backup"]),
                databases=tuple(db.name for db in DATABASES),
                bucket=BACKUPS_BUCKET,
                identity=args.identity,
            ),
            opts=inside,
        )

        s3_target_port = S3_PORT if args.object_store.engine == "minio" else SeaweedfsPorts().s3
        # NetworkPolicies match the pod's port, not the Service's.
        rules: list[Link | ExternalEgress] = [
            Link("bucket-setup-to-object-store", object_store.job_selector, object_store.selector, s3_target_port),
        ]
        postgres_clients = {
            "postgres-backup": backup.selector,
            "mlflow": mlflow.selector,
            "postgres-bootstrap": postgres.job_selector,
            "feast-apply": features.apply_selector,
            "feast-materialize": features.materialize_selector,
            "feature-server": features.server_selector,
        }
        for client, selector in postgres_clients.items():
            if postgres.selector is not None:
                rules.append(Link(f"{client}-to-postgres", selector, postgres.selector, POSTGRES_PORT))
            else:
                assert postgres.external_cidr is not None
                rules.append(ExternalEgress(f"{client}-to-postgres", selector, (postgres.external_cidr,), POSTGRES_PORT))
        if args.azure_artifacts:
            rules += [
                ExternalEgress("mlflow-to-blob-endpoint", mlflow.selector, (args.azure_artifacts.endpoint_cidr,), HTTPS_PORT),
                ExternalEgress("mlflow-to-entra-id", mlflow.selector, PUBLIC_INTERNET, HTTPS_PORT, excluding=PRIVATE_RANGES),
            ]
        else:
            rules.append(Link("mlflow-to-object-store", mlflow.selector, object_store.selector, s3_target_port))
        rules.append(Link("postgres-backup-to-object-store", backup.selector, object_store.selector, s3_target_port))
        if drift:
            rules += [
                Link("drift-to-mlflow", drift.selector, mlflow.selector, MLFLOW_PORT),
                Link("drift-to-object-store", drift.selector, object_store.selector, s3_target_port),
            ]
        rules += [
            Link("feast-apply-to-redis", features.apply_selector, redis.selector, REDIS_PORT),
            Link("feast-apply-to-object-store", features.apply_selector, object_store.selector, s3_target_port),
            Link("feast-materialize-to-redis", features.materialize_selector, redis.selector, REDIS_PORT),
            Link("feast-materialize-to-object-store", features.materialize_selector, object_store.selector,
                 s3_target_port),
            Link("feature-server-to-redis", features.server_selector, redis.selector, REDIS_PORT),
            Link("feature-clients-to-feature-server", FEATURE_CLIENT_LABEL, features.server_selector,
                 FEATURE_SERVER_PORT),
        ]
        PlatformNetworkPolicies(
            f"{name}-network-policies",
            NetworkPolicyArgs(
                namespace=args.namespace,
                labels=labels("mlops-platform", name, "network-policy", args.environment),
                links=tuple(rule for rule in rules if isinstance(rule, Link)),
                egress=tuple(rule for rule in rules if isinstance(rule, ExternalEgress)),
                external=(
                    ExternalIngress("ingress-controller-to-mlflow", args.ingress_controller_namespace, mlflow.selector, MLFLOW_PORT),
                ),
            ),
            opts=inside,
        )

        self.namespace = namespace.name
        self.mlflow_url = mlflow.url
        self.mlflow_external_url = mlflow.external_url
        self.s3_endpoint = object_store.endpoint
        self.buckets = object_store.buckets
        self.redis_host = redis.host
        self.feature_server_url = features.url
        self.mlflow_admin_password = mlflow.admin_password
        self.drift_cronjobs = drift.cronjob_names if drift else []
        self.backup_cronjob = backup.cronjob_name
        self.secret_names = {
            "postgresSuperuser": postgres.superuser_secret_name,
            "mlflowDatabase": tracking.secret_name,
            "mlflowAuthDatabase": auth.secret_name,
            "mlflowAdmin": mlflow.admin_secret_name,
            "objectStoreAdmin": object_store.admin_secret_name,
            "objectStoreDrift": object_store.client_secret_names["drift"],
            "objectStoreFeast": object_store.client_secret_names["feast"],
            "objectStoreBackup": object_store.client_secret_names["backup"],
            "featureRegistryDatabase": registry.secret_name,
            "redis": redis.secret_name,
        }
        if "mlflow" in object_store.client_secret_names:  # not when artifacts are in Azure Blob
            self.secret_names["objectStoreMlflow"] = object_store.client_secret_names["mlflow"]
        self.register_outputs(
            {
                "namespace": self.namespace,
                "mlflow_url": self.mlflow_url,
                "s3_endpoint": self.s3_endpoint,
                "buckets": list(self.buckets),
                "redis_host": self.redis_host,
                "feature_server_url": self.feature_server_url,
                "secret_names": self.secret_names,
            }
        )
