"""MlopsPlatform: the whole platform in one namespace, wired together.

Namespace (restricted PSS, default deny) -> Postgres (mlflow, mlflow_auth and feast_registry
databases) -> object store (buckets) -> Redis online store -> MLflow tracking server -> Feast
feature store -> drift monitors -> nightly Postgres backups, plus the NetworkPolicies that allow
exactly the links of the network plan (`network_plan.PLATFORM_LINKS`) between them.
On AKS, Postgres may be a managed server and MLflow's artifacts an Azure Blob container: the
platform then gets their addresses (infra/) and opens egress to exactly their subnets.

Every component takes the same `Placement` (namespace, environment, pod identity, storage class,
protection); the functions below only wire one component's outputs into the next one's args.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from platform_components.batch_scoring import (
    BatchScoring,
    BatchScoringArgs,
    BatchScoringOptions,
    ScoredModel,
    ScoringSecrets,
)
from platform_components.credentials import SOURCES as CREDENTIAL_SOURCES
from platform_components.credentials import Credentials
from platform_components.drift_monitor import DriftMonitor, DriftMonitorArgs, DriftOptions
from platform_components.feature_store import CLIENT_LABEL as FEATURE_CLIENT_LABEL
from platform_components.feature_store import METRICS_PORT as FEATURE_METRICS_PORT
from platform_components.feature_store import REGISTRY_DB as FEATURE_REGISTRY_DB
from platform_components.feature_store import (
    FeastEndpoints,
    FeastFeatureStore,
    FeastSecrets,
    FeatureStoreArgs,
    FeatureStoreOptions,
)
from platform_components.k8s import Placement, PodIdentity
from platform_components.mlflow_server import METRICS_PORT as MLFLOW_METRICS_PORT
from platform_components.mlflow_server import (
    AzureBlobArtifacts,
    MlflowArgs,
    MlflowOptions,
    MlflowTrackingServer,
    S3Artifacts,
)
from platform_components.mlflow_users import MlflowUser, MlflowUsers, MlflowUsersArgs
from platform_components.model_server import CLIENT_LABEL as MODEL_CLIENT_LABEL
from platform_components.model_server import (
    ModelServer,
    ModelServerArgs,
    ModelServingOptions,
    ServingEndpoints,
    ServingSecrets,
)
from platform_components.model_training import ModelTraining, ModelTrainingArgs, TrainingOptions, TrainingSecrets
from platform_components.monitoring import (
    POSTGRES_EXPORTER_PORT,
    POSTGRES_EXPORTER_ROLE,
    PUSHGATEWAY_PORT,
    REDIS_EXPORTER_PORT,
    REDIS_EXPORTER_USER,
    MonitoredServers,
    Monitoring,
    MonitoringArgs,
    MonitoringOptions,
    pushgateway_url,
)
from platform_components.namespace import Namespace, NamespaceArgs
from platform_components.network_plan import ExternalIngress, NetworkPolicyPlan, Peer, plan_links
from platform_components.network_policies import NetworkPolicies, NetworkPolicyArgs
from platform_components.object_store import ObjectStore, ObjectStoreArgs, ObjectStoreOptions, S3Grant
from platform_components.postgres import AppDatabase, ExternalServer, PostgresArgs, PostgresDatabase, PostgresOptions
from platform_components.postgres_backup import (
    BackupEndpoints,
    BackupOptions,
    BackupSecrets,
    PostgresBackup,
    PostgresBackupArgs,
)
from platform_components.redis import RedisArgs, RedisOnlineStore, RedisOptions
from platform_components.stack_keys import setting
from platform_components.validation import ArgError, require_dns_label, require_k8s_minor_version, require_pinned_image
from platform_components.volumes import VolumeClaim
from workloads.mlflow_access.spec import Grant

MONITORING_BUCKET = "monitoring"
TRACKING_DB = "mlflow"
AUTH_DB = "mlflow_auth"
ARTIFACTS_BUCKET = "mlflow-artifacts"
FEATURES_BUCKET = "features"
BACKUPS_BUCKET = "backups"
PREDICTIONS_BUCKET = "predictions"  # batch scoring's committed results
FEATURE_DATA_URI = f"s3://{FEATURES_BUCKET}/churn"
BUCKETS = (ARTIFACTS_BUCKET, MONITORING_BUCKET, FEATURES_BUCKET, BACKUPS_BUCKET, PREDICTIONS_BUCKET)
DATABASES = (AppDatabase(TRACKING_DB), AppDatabase(AUTH_DB), AppDatabase(FEATURE_REGISTRY_DB))
FEATURES_READ = S3Grant(FEATURES_BUCKET, actions=("Read", "List"))  # sources and labels, read only
# S3 client -> what its own credentials may do (SeaweedFS; MinIO clients share the root user).
S3_CLIENTS = {"mlflow": (S3Grant(ARTIFACTS_BUCKET),),
              # The drift job reads the prediction logs, and the outcomes (labels) under the features.
              "drift": (S3Grant(MONITORING_BUCKET), FEATURES_READ),  # the prediction logs, and the labels
              "feast": (S3Grant(FEATURES_BUCKET),), "backup": (S3Grant(BACKUPS_BUCKET),)}
DRIFT_USER = "drift-monitor"  # the drift CronJobs' MLflow user
TRAINING_S3_CLIENT = "training"  # the training Jobs' S3 identity: read the features bucket
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
class PlatformOptions:
    """The stack's platform-wide settings (placement, Pod Security, the workloads image)."""

    namespace: str = setting("namespace")
    pod_security_version: str = setting("podSecurityVersion")
    run_as_user: int = setting("runAsUser")
    open_shift: bool = setting("openShift")
    storage_class: str | None = setting("storageClass")
    protect_data: bool = setting("protectData")
    credential_source: str = setting("credentialSource")
    credentials: dict[str, str] = setting("credentials", secret=True, shown=False)
    ingress_controller_namespace: str = setting("ingressControllerNamespace")
    workloads_image_repository: str = setting("workloadsImage")
    workloads_image_tag: str = setting("workloadsImageTag")

    def __post_init__(self) -> None:
        require_dns_label("namespace", self.namespace)
        require_k8s_minor_version("pod_security_version", self.pod_security_version)
        require_dns_label("ingress_controller_namespace", self.ingress_controller_namespace)
        if self.credential_source not in CREDENTIAL_SOURCES:
            raise ArgError("credential_source", f"must be one of {', '.join(CREDENTIAL_SOURCES)}, "
                                                f"got {self.credential_source!r}")
        if not self.open_shift:  # the UID is OpenShift's choice then, and runAsUser ignored
            PodIdentity(self.run_as_user)
        try:
            require_pinned_image("workloads_image", self.workloads_image)
        except ArgError as error:
            raise ArgError("workloads_image_tag", error.message) from None

    @property
    def workloads_image(self) -> str:
        return f"{self.workloads_image_repository}:{self.workloads_image_tag}"

    @property
    def identity(self) -> PodIdentity:
        """OpenShift's restricted SCC assigns an arbitrary UID: then the pods name none."""
        return PodIdentity(None if self.open_shift else self.run_as_user)

    def placement(self, environment: str) -> Placement:
        return Placement(self.namespace, environment, self.identity, self.storage_class, self.protect_data,
                         Credentials(self.credential_source, self.credentials))


@dataclass(frozen=True)
class PlatformArgs:
    placement: Placement
    pod_security_version: str
    workloads_image: str
    postgres: PostgresOptions
    object_store: ObjectStoreOptions
    mlflow: MlflowOptions
    redis: RedisOptions
    drift: DriftOptions
    feature_store: FeatureStoreOptions
    backup: BackupOptions
    serving: ModelServingOptions
    training: TrainingOptions
    ingress_controller_namespace: str
    monitoring: MonitoringOptions
    scoring: BatchScoringOptions
    external_postgres: ExternalServer | None = None  # a managed server instead of the StatefulSet
    azure_artifacts: AzureArtifactStore | None = None  # MLflow artifacts off the S3 store

    @property
    def buckets(self) -> tuple[str, ...]:
        """The S3 store's buckets: MLflow's goes when its artifacts live in Azure Blob."""
        return tuple(b for b in BUCKETS if not (self.azure_artifacts and b == ARTIFACTS_BUCKET))

    @property
    def s3_clients(self) -> dict[str, tuple[S3Grant, ...]]:
        """Each S3 client's grants; a model server may only write its own prediction log."""
        clients = {c: b for c, b in S3_CLIENTS.items() if not (self.azure_artifacts and c == "mlflow")}
        for model in self.serving.models:
            clients[model.service_name] = prediction_log_grants(model.name)
        if self.training.models:
            clients[TRAINING_S3_CLIENT] = (FEATURES_READ,)
        for scored in self.scoring.models:
            clients[scored.service_name] = scoring_grants(scored)
        return clients

    @property
    def mlflow_users(self) -> tuple[MlflowUser, ...]:
        return workload_users(tuple(model.name for model in self.serving.models), self.drift.models,
                              self.training.models, tuple(model.name for model in self.scoring.models))

    @property
    def pushgateway_url(self) -> str | None:
        """Where the batch Jobs report their outcomes; None without a monitoring stack."""
        return pushgateway_url(self.placement) if self.monitoring.enabled else None

    @property
    def postgres_monitors(self) -> tuple[AppDatabase, ...]:
        return (AppDatabase(POSTGRES_EXPORTER_ROLE),) if self.monitoring.enabled else ()


def prediction_log_grants(model: str) -> tuple[S3Grant, ...]:
    """A model server may only add files to its own prefix of the monitoring bucket."""
    return (S3Grant(MONITORING_BUCKET, f"{model}/", ("Write",)),)


def scoring_grants(model: ScoredModel) -> tuple[S3Grant, ...]:
    """A batch scoring Job reads its input and the feature sources (entity inputs are joined with
    them), and owns its model's prefix of the results and of the prediction log (it stages, moves and
    replaces its own files there; the model server's files it leaves alone, output.py)."""
    grants = [FEATURES_READ, S3Grant(PREDICTIONS_BUCKET, f"{model.name}/"),
              S3Grant(MONITORING_BUCKET, f"{model.name}/")]
    if model.input_bucket != FEATURES_BUCKET:
        grants.append(S3Grant(model.input_bucket, model.input_prefix, ("Read", "List")))
    return tuple(grants)


def workload_users(served_models: tuple[str, ...], drift_models: tuple[str, ...],
                   trained_models: tuple[str, ...] = (), scored_models: tuple[str, ...] = ()) -> tuple[MlflowUser, ...]:
    """The workloads' own MLflow users: one per served model and one per scored model (READ on its
    model and on its training experiment, where its artifacts live), one per trained model (EDIT on both: it logs runs,
    registers versions and moves aliases), and the drift monitor's (READ on its models, EDIT on the
    monitoring experiments it logs to)."""
    def reads(model: str) -> tuple[Grant, ...]:
        return Grant("registered_model", model, "READ"), Grant("experiment", f"training/{model}", "READ")

    users = [MlflowUser(f"model-{model}", reads(model)) for model in served_models]
    users += [MlflowUser(f"batch-{model}", reads(model)) for model in scored_models]
    users += [MlflowUser(f"train-{model}", (Grant("registered_model", model, "EDIT"),
                                            Grant("experiment", f"training/{model}", "EDIT")))
              for model in trained_models]
    if drift_models:
        grants = tuple(g for model in drift_models for g in (*reads(model), Grant("experiment", f"monitoring/{model}", "EDIT")))
        users.append(MlflowUser(DRIFT_USER, grants))
    return tuple(users)


def mlflow_args(args: PlatformArgs, postgres: PostgresDatabase, object_store: ObjectStore) -> MlflowArgs:
    artifacts = (args.azure_artifacts.blob if args.azure_artifacts else
                 S3Artifacts(object_store.endpoint, object_store.client_secret_names["mlflow"], ARTIFACTS_BUCKET))
    return MlflowArgs(placement=args.placement, options=args.mlflow, tracking_db=postgres.connections[TRACKING_DB],
                      auth_db=postgres.connections[AUTH_DB], artifacts=artifacts, metrics=args.monitoring.enabled)


def feature_store_args(args: PlatformArgs, postgres: PostgresDatabase, redis: RedisOnlineStore,
                       object_store: ObjectStore) -> FeatureStoreArgs:
    registry = postgres.connections[FEATURE_REGISTRY_DB]
    endpoints = FeastEndpoints(
        registry_host=registry.host, registry_port=registry.port, redis_host=redis.host, redis_port=redis.port,
        s3_endpoint_url=object_store.endpoint, data_uri=FEATURE_DATA_URI,
        online_key_ttl_seconds=args.feature_store.online_key_ttl_seconds, registry_user=registry.username,
        registry_database=registry.database, registry_sslmode=registry.sslmode,
    )
    secrets = FeastSecrets(registry_secret=registry.secret_name, redis_secret=redis.secret_name,
                           s3_secret=object_store.client_secret_names["feast"])
    return FeatureStoreArgs(placement=args.placement, options=args.feature_store,
                            workloads_image=args.workloads_image, endpoints=endpoints, secrets=secrets,
                            metrics=args.monitoring.enabled, pushgateway_url=args.pushgateway_url)


def drift_args(args: PlatformArgs, mlflow: MlflowTrackingServer, users: MlflowUsers,
               object_store: ObjectStore) -> DriftMonitorArgs:
    return DriftMonitorArgs(
        placement=args.placement, options=args.drift, workloads_image=args.workloads_image,
        mlflow_url=mlflow.url, mlflow_secret=users.secret_names[DRIFT_USER], s3_endpoint=object_store.endpoint,
        s3_secret=object_store.client_secret_names["drift"], bucket=MONITORING_BUCKET,
        labels_uri=f"{FEATURE_DATA_URI}/labels/", pushgateway_url=args.pushgateway_url,
    )


def backup_args(args: PlatformArgs, postgres: PostgresDatabase, object_store: ObjectStore) -> PostgresBackupArgs:
    admin = args.external_postgres.admin_user if args.external_postgres else "postgres"
    tracking = postgres.connections[TRACKING_DB]
    return PostgresBackupArgs(
        placement=args.placement, options=args.backup, workloads_image=args.workloads_image,
        endpoints=BackupEndpoints(postgres.host, postgres.port, admin, object_store.endpoint, sslmode=tracking.sslmode),
        secrets=BackupSecrets(postgres.superuser_secret_name, object_store.client_secret_names["backup"]),
        databases=tuple(db.name for db in DATABASES), bucket=BACKUPS_BUCKET, pushgateway_url=args.pushgateway_url,
    )


def users_args(args: PlatformArgs, mlflow: MlflowTrackingServer) -> MlflowUsersArgs:
    return MlflowUsersArgs(placement=args.placement, workloads_image=args.workloads_image, mlflow_url=mlflow.url,
                           admin_secret=mlflow.admin_secret_name, users=args.mlflow_users)


def model_server_args(args: PlatformArgs, mlflow: MlflowTrackingServer, users: MlflowUsers, object_store: ObjectStore,
                      features: FeastFeatureStore) -> ModelServerArgs:
    endpoints = ServingEndpoints(mlflow_url=mlflow.url, s3_endpoint_url=object_store.endpoint,
                                 feature_server_url=features.url, log_bucket=MONITORING_BUCKET)
    secrets = {model.name: ServingSecrets(users.secret_names[model.service_name],
                                          object_store.client_secret_names[model.service_name])
               for model in args.serving.models}
    return ModelServerArgs(placement=args.placement, options=args.serving, workloads_image=args.workloads_image,
                           endpoints=endpoints, secrets=secrets)


def training_args(args: PlatformArgs, mlflow: MlflowTrackingServer, users: MlflowUsers, object_store: ObjectStore,
                  postgres: PostgresDatabase, features: FeastFeatureStore) -> ModelTrainingArgs:
    registry = postgres.connections[FEATURE_REGISTRY_DB].secret_name
    secrets = {model: TrainingSecrets(users.secret_names[f"train-{model}"],
                                      object_store.client_secret_names[TRAINING_S3_CLIENT], registry)
               for model in args.training.models}
    return ModelTrainingArgs(placement=args.placement, options=args.training, workloads_image=args.workloads_image,
                             mlflow_url=mlflow.url, feast_config_map=features.config_map_name,
                             feast_endpoints=features.endpoints, secrets=secrets, pushgateway_url=args.pushgateway_url)


def scoring_args(args: PlatformArgs, mlflow: MlflowTrackingServer, users: MlflowUsers, object_store: ObjectStore,
                 postgres: PostgresDatabase, features: FeastFeatureStore) -> BatchScoringArgs:
    registry = postgres.connections[FEATURE_REGISTRY_DB].secret_name
    secrets = {model.name: ScoringSecrets(users.secret_names[model.service_name],
                                          object_store.client_secret_names[model.service_name], registry)
               for model in args.scoring.models}
    return BatchScoringArgs(placement=args.placement, options=args.scoring, workloads_image=args.workloads_image,
                            mlflow_url=mlflow.url, feast_config_map=features.config_map_name,
                            feast_endpoints=features.endpoints, secrets=secrets,
                            output_uri=f"s3://{PREDICTIONS_BUCKET}", log_uri=f"s3://{MONITORING_BUCKET}",
                            pushgateway_url=args.pushgateway_url)


def monitoring_args(args: PlatformArgs, postgres: PostgresDatabase, redis: RedisOnlineStore,
                    mlflow: MlflowTrackingServer, features: FeastFeatureStore, models: ModelServer | None) -> MonitoringArgs:
    exporter = postgres.connections[POSTGRES_EXPORTER_ROLE]
    servers = MonitoredServers(
        postgres_host=postgres.host, postgres_port=postgres.port, postgres_sslmode=exporter.sslmode,
        postgres_exporter_secret=exporter.secret_name, redis_host=redis.host, redis_port=redis.port,
        redis_secret=redis.secret_name, mlflow_selector=mlflow.selector, feature_server_selector=features.server_selector,
        model_server_selector=models.selector if models else None)
    thresholds = args.monitoring.thresholds(args.placement.namespace, args.drift.performance_floor,
                                            verify_scheduled=args.backup.verify_schedule is not None)
    return MonitoringArgs(placement=args.placement, options=args.monitoring, thresholds=thresholds, servers=servers)


def artifact_store_peers(args: PlatformArgs, object_store: ObjectStore) -> tuple[Peer, ...]:
    """Where MLflow's artifacts are: the S3 store, or Azure Blob's private endpoint plus Entra ID."""
    if not args.azure_artifacts:
        return (object_store.peer,)
    return (Peer("blob-endpoint", cidrs=(args.azure_artifacts.endpoint_cidr,), port=HTTPS_PORT),
            Peer("entra-id", cidrs=PUBLIC_INTERNET, port=HTTPS_PORT, excluding=PRIVATE_RANGES))


@dataclass(frozen=True)
class PlatformParts:
    """The platform's components, once built: what the network plan and the outputs read."""

    namespace: Namespace
    postgres: PostgresDatabase
    object_store: ObjectStore
    redis: RedisOnlineStore
    mlflow: MlflowTrackingServer
    users: MlflowUsers
    features: FeastFeatureStore
    backup: PostgresBackup
    drift: DriftMonitor | None
    models: ModelServer | None
    training: ModelTraining | None
    monitoring: Monitoring | None = None
    scoring: BatchScoring | None = None


def platform_network_plan(args: PlatformArgs, parts: PlatformParts) -> NetworkPolicyPlan:
    """The allow rules between the parts: each client's selector and each server's peers, wired by
    PLATFORM_LINKS. Optional parts that are not deployed appear as absent clients (None)."""
    models = parts.models
    clients = {
        "bucket-setup": parts.object_store.job_selector,
        "postgres-bootstrap": parts.postgres.job_selector,
        "postgres-backup": parts.backup.selector,
        "mlflow": parts.mlflow.selector,
        "mlflow-access": parts.users.job_selector,
        "feast-apply": parts.features.apply_selector,
        "feast-materialize": parts.features.materialize_selector,
        "feature-server": parts.features.server_selector,
        "feature-clients": FEATURE_CLIENT_LABEL,
        "drift": parts.drift.selector if parts.drift else None,
        "model-server": models.selector if models else None,
        "model-clients": MODEL_CLIENT_LABEL if models else None,
        "model-training": parts.training.selector if parts.training else None,
        "batch-scoring": parts.scoring.selector if parts.scoring else None,
        "postgres-exporter": parts.monitoring.postgres_exporter_selector if parts.monitoring else None,
        "redis-exporter": parts.monitoring.redis_exporter_selector if parts.monitoring else None,
    }
    servers = {
        "postgres": (parts.postgres.peer,), "object-store": (parts.object_store.peer,), "redis": (parts.redis.peer,),
        "mlflow": (parts.mlflow.peer,), "feature-server": (parts.features.server_peer,),
        "artifact-store": artifact_store_peers(args, parts.object_store),
        "model-server": (models.peer,) if models else (),
        "pushgateway": (parts.monitoring.pushgateway_peer,) if parts.monitoring else (),
    }
    ingress = ExternalIngress("ingress-controller-to-mlflow", args.ingress_controller_namespace,
                              parts.mlflow.selector, parts.mlflow.peer.port)
    return plan_links(clients, servers, ingress=(ingress, *scrape_ingress(args, parts)))


def scrape_ingress(args: PlatformArgs, parts: PlatformParts) -> tuple[ExternalIngress, ...]:
    """Prometheus (in its own namespace) may reach each scraped pod on its metrics port."""
    if not parts.monitoring:
        return ()
    ports = {"mlflow": MLFLOW_METRICS_PORT, "model-server": parts.models.peer.port if parts.models else None,
             "feature-server": FEATURE_METRICS_PORT, "postgres-exporter": POSTGRES_EXPORTER_PORT,
             "redis-exporter": REDIS_EXPORTER_PORT, "pushgateway": PUSHGATEWAY_PORT}
    return tuple(ExternalIngress(f"prometheus-to-{target.job}", args.monitoring.prometheus_namespace, target.selector,
                                 ports[target.job])
                 for target in parts.monitoring.scrape_targets)


class MlopsPlatform(pulumi.ComponentResource):
    """The platform: every component in one namespace, wired through their outputs, and the
    NetworkPolicies of the network plan. Attributes are the stack's outputs."""

    namespace: pulumi.Output[str]
    mlflow_url: str
    mlflow_external_url: str | None
    s3_endpoint: str
    buckets: tuple[str, ...]
    redis_host: str
    feature_server_url: str
    model_server_urls: dict[str, str]
    mlflow_admin_password: pulumi.Output[str]  # a Pulumi secret
    drift_cronjobs: list[str]
    training_cronjobs: list[str]
    scoring_cronjobs: list[str]
    backup_cronjob: str
    secret_names: dict[str, pulumi.Output[str]]
    network_plan: NetworkPolicyPlan
    volume_claims: list[VolumeClaim]  # every StatefulSet's claims at their configured sizes

    def __init__(self, name: str, args: PlatformArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:MlopsPlatform", name, None, opts)
        placement = args.placement
        parts = self._build(name, args)
        self.network_plan = platform_network_plan(args, parts)
        NetworkPolicies(
            f"{name}-network-policies",
            NetworkPolicyArgs(placement, placement.labels("mlops-platform", name, "network-policy"), self.network_plan),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[parts.namespace]),
        )
        self._publish(parts)

    def _build(self, name: str, args: PlatformArgs) -> PlatformParts:
        """Every component, in dependency order, each fed the outputs of those before it."""
        placement = args.placement
        namespace = Namespace(
            f"{name}-namespace",
            NamespaceArgs(placement, placement.labels("mlops-platform", name, "namespace"), args.pod_security_version),
            opts=pulumi.ResourceOptions(parent=self),
        )
        # Everything else lives in the namespace: create it first, delete it last.
        inside = pulumi.ResourceOptions(parent=self, depends_on=[namespace])
        postgres = PostgresDatabase(f"{name}-postgres", PostgresArgs(
            placement, DATABASES, args.postgres, external=args.external_postgres, monitors=args.postgres_monitors),
            opts=inside)
        object_store = ObjectStore(f"{name}-object-store", ObjectStoreArgs(
            placement, args.object_store, args.workloads_image, buckets=args.buckets, clients=args.s3_clients),
            opts=inside)
        redis = RedisOnlineStore(f"{name}-redis", RedisArgs(
            placement, args.redis, exporter_user=REDIS_EXPORTER_USER if args.monitoring.enabled else None), opts=inside)
        mlflow = MlflowTrackingServer(f"{name}-mlflow", mlflow_args(args, postgres, object_store), opts=inside)
        users = MlflowUsers(f"{name}-mlflow-users", users_args(args, mlflow), opts=inside)
        features = FeastFeatureStore(
            f"{name}-features", feature_store_args(args, postgres, redis, object_store),
            # `feast apply` needs the registry database, the bucket and Redis to exist.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[namespace, postgres, object_store, redis]),
        )
        drift = (DriftMonitor(f"{name}-drift", drift_args(args, mlflow, users, object_store), opts=inside)
                 if args.drift.models else None)
        models = (ModelServer(f"{name}-models", model_server_args(args, mlflow, users, object_store, features),
                              opts=inside) if args.serving.models else None)
        training = (ModelTraining(f"{name}-training", training_args(args, mlflow, users, object_store, postgres, features),
                                  opts=inside) if args.training.models else None)
        scoring = (BatchScoring(f"{name}-scoring", scoring_args(args, mlflow, users, object_store, postgres, features),
                                opts=inside) if args.scoring.models else None)
        backup = PostgresBackup(f"{name}-backup", backup_args(args, postgres, object_store), opts=inside)
        monitoring = (Monitoring(f"{name}-monitoring", monitoring_args(args, postgres, redis, mlflow, features, models),
                                 opts=inside) if args.monitoring.enabled else None)
        return PlatformParts(namespace, postgres, object_store, redis, mlflow, users, features, backup, drift, models,
                             training, monitoring, scoring)

    def _publish(self, parts: PlatformParts) -> None:
        """Set the outputs and register them: the last step of the constructor."""
        postgres, object_store, mlflow = parts.postgres, parts.object_store, parts.mlflow
        self.namespace = parts.namespace.name
        self.mlflow_url = mlflow.url
        self.mlflow_external_url = mlflow.external_url
        self.s3_endpoint = object_store.endpoint
        self.buckets = object_store.buckets
        self.redis_host = parts.redis.host
        self.feature_server_url = parts.features.url
        self.model_server_urls = parts.models.urls if parts.models else {}
        self.mlflow_admin_password = mlflow.admin_password
        self.drift_cronjobs = parts.drift.cronjob_names if parts.drift else []
        self.training_cronjobs = parts.training.cronjob_names if parts.training else []
        self.scoring_cronjobs = parts.scoring.cronjob_names if parts.scoring else []
        self.backup_cronjob = parts.backup.cronjob_name
        self.volume_claims = [*postgres.volume_claims, *object_store.volume_claims, *parts.redis.volume_claims]
        s3_secrets = object_store.client_secret_names
        self.secret_names = {
            "postgresSuperuser": postgres.superuser_secret_name,
            "mlflowDatabase": postgres.connections[TRACKING_DB].secret_name,
            "mlflowAuthDatabase": postgres.connections[AUTH_DB].secret_name,
            "mlflowAdmin": mlflow.admin_secret_name,
            "objectStoreAdmin": object_store.admin_secret_name,
            "objectStoreDrift": s3_secrets["drift"],
            "objectStoreFeast": s3_secrets["feast"],
            "objectStoreBackup": s3_secrets["backup"],
            "featureRegistryDatabase": postgres.connections[FEATURE_REGISTRY_DB].secret_name,
            "redis": parts.redis.secret_name,
            # Not when MLflow's artifacts are in Azure Blob.
            **({"objectStoreMlflow": s3_secrets["mlflow"]} if "mlflow" in s3_secrets else {}),
            **{f"mlflowUser:{user}": secret for user, secret in parts.users.secret_names.items()},
        }
        self.register_outputs(
            {
                "namespace": self.namespace,
                "mlflow_url": self.mlflow_url,
                "s3_endpoint": self.s3_endpoint,
                "buckets": list(self.buckets),
                "redis_host": self.redis_host,
                "feature_server_url": self.feature_server_url,
                "model_server_urls": self.model_server_urls,
                "secret_names": self.secret_names,
            }
        )
