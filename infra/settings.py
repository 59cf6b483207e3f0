"""Stack settings: every config value read once, typed, validated, with errors naming the key.

Defaults live in one place, the `config:` block of Pulumi.yaml (the Pulumi CLI applies them; the
offline runner applies the same file). Each options dataclass declares the config key of every
field it reads next to that field (platform_components/stack_keys.py); the generic
`infra.stack_reader.StackReader` builds any such class and reports an `ArgError` under the key of
the failing field; `load_settings` collects every problem and raises one `SettingsError` at preview.
Adding a setting: the field (with `setting(...)`), its Pulumi.yaml entry, and, for a new options
class, a line in SETTINGS_CLASSES and in `read_platform` (or `read_azure`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pulumi
import yaml

from infra.azure_settings import (
    OTHER_CLIENTS_CONNECTIONS,
    USER_CONNECTIONS,
    AzureSettings,
    BlobStoreOptions,
    FlexibleServerOptions,
)
from infra.monitoring_stack import MonitoringStackOptions
from infra.stack_reader import StackReader
from platform_components.batch_scoring import BatchScoringOptions
from platform_components.drift_monitor import DriftOptions
from platform_components.feature_store import FeatureStoreOptions
from platform_components.mlflow_server import MlflowOptions, max_db_connections
from platform_components.model_server import ModelServingOptions
from platform_components.model_training import TrainingOptions
from platform_components.monitoring import MonitoringOptions
from platform_components.object_store import ObjectStoreOptions
from platform_components.platform import ARTIFACTS_BUCKET, BUCKETS, PlatformArgs, PlatformOptions
from platform_components.postgres import PostgresOptions
from platform_components.postgres_backup import BackupOptions
from platform_components.redis import RedisOptions
from platform_components.stack_keys import setting
from platform_components.validation import ArgError, require_one_of

PROJECT = "mlops-platform"
PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
CLUSTER_TARGETS = ("minikube", "kubeconfig", "aks")
POSTGRES_ENGINES = ("in-cluster", "azure-flexible")
ARTIFACT_STORES = ("object-store", "azure-blob")


class SettingsError(ValueError):
    """One or more stack settings are invalid; the message lists each key and what is allowed."""


@dataclass(frozen=True)
class ClusterSettings:
    cluster_target: str = setting("clusterTarget")
    kube_context: str = setting("kubeContext")
    kubeconfig: pulumi.Output[str] | None = setting("kubeconfig", secret=True)

    def __post_init__(self) -> None:
        require_one_of("cluster_target", self.cluster_target, CLUSTER_TARGETS)
        if self.cluster_target == "minikube" and not self.kube_context:
            raise ArgError("kube_context", "must name a kube context when clusterTarget is minikube")
        if self.cluster_target == "kubeconfig" and self.kubeconfig is None:
            raise ArgError(
                "kubeconfig",
                "must be set when clusterTarget is kubeconfig: pulumi config set --secret kubeconfig \"$(cat KUBECONFIG)\"",
            )


@dataclass(frozen=True)
class StoreChoice:
    """Where Postgres and MLflow's artifacts live; the managed choices exist on AKS only."""

    cluster_target: str = setting("clusterTarget")
    postgres_engine: str = setting("postgresEngine")
    mlflow_artifact_store: str = setting("mlflowArtifactStore")

    def __post_init__(self) -> None:
        require_one_of("postgres_engine", self.postgres_engine, POSTGRES_ENGINES)
        require_one_of("mlflow_artifact_store", self.mlflow_artifact_store, ARTIFACT_STORES)
        if self.cluster_target == "aks":
            return
        if self.postgres_engine == "azure-flexible":
            raise ArgError("postgres_engine", self._needs_aks("azure-flexible"))
        if self.mlflow_artifact_store == "azure-blob":
            raise ArgError("mlflow_artifact_store", self._needs_aks("azure-blob"))

    @property
    def managed_postgres(self) -> bool:
        return self.postgres_engine == "azure-flexible"

    @property
    def blob_artifacts(self) -> bool:
        return self.mlflow_artifact_store == "azure-blob"

    def _needs_aks(self, choice: str) -> str:
        return f"{choice} needs clusterTarget aks (its private network), got {self.cluster_target!r}"


# Every class the loader reads: together their keys are exactly Pulumi.yaml's (a unit test checks).
SETTINGS_CLASSES = (ClusterSettings, StoreChoice, PlatformOptions, PostgresOptions, ObjectStoreOptions, MlflowOptions,
                    RedisOptions, DriftOptions, FeatureStoreOptions, BackupOptions, ModelServingOptions, TrainingOptions,
                    BatchScoringOptions, MonitoringOptions, MonitoringStackOptions, AzureSettings, FlexibleServerOptions, BlobStoreOptions)


@dataclass(frozen=True)
class Settings:
    cluster: ClusterSettings
    platform: PlatformArgs
    azure: AzureSettings | None = None  # set when clusterTarget is aks
    monitoring_stack: MonitoringStackOptions = MonitoringStackOptions(install=False)


@cache
def declared_settings() -> dict[str, dict[str, Any]]:
    """The `config:` schema of Pulumi.yaml: the list of settings, their types and defaults."""
    return dict(yaml.safe_load(PROJECT_FILE.read_text()).get("config") or {})


def load_settings(reader: StackReader | None = None) -> Settings:
    """Read and validate the current stack's configuration; raise SettingsError listing every problem."""
    r = reader or StackReader(PROJECT)
    cluster = r.read(ClusterSettings)
    monitoring_stack = r.read(MonitoringStackOptions)
    platform = read_platform(r, pulumi.get_stack())
    stores = r.read(StoreChoice)
    on_aks = r.config.get("clusterTarget") == "aks"
    azure = read_azure(r, stores, pulumi.get_stack()) if on_aks else None
    problems = r.errors + r.unknown_keys(sorted(declared_settings()))
    if platform and azure and azure.postgres:
        problems += connection_budget(platform.mlflow, azure.postgres.sku)
    if monitoring_stack and monitoring_stack.install and not on_aks:
        problems.append(f"{PROJECT}:monitoringInstallStack installs kube-prometheus-stack only on a cluster the stack "
                        f"creates (clusterTarget aks); on this cluster install it yourself (docs/operations.md, Monitoring)")
    if problems or cluster is None or platform is None or stores is None or (on_aks and azure is None) \
            or monitoring_stack is None:
        raise SettingsError("Invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    return Settings(cluster=cluster, platform=platform, azure=azure, monitoring_stack=monitoring_stack)


def connection_budget(mlflow: MlflowOptions, sku: str) -> list[str]:
    """MLflow's worst-case connections must leave room on the Flexible Server for the others."""
    limit = USER_CONNECTIONS.get(sku)
    needed = max_db_connections(mlflow)
    if limit is None or needed + OTHER_CLIENTS_CONNECTIONS <= limit:
        return []
    return [f"{PROJECT}:postgresFlexibleSku {sku} allows {limit} user connections, but MLflow may open {needed} "
            f"((1 + {PROJECT}:mlflowReplicas during a rollout) x {PROJECT}:mlflowWorkers x 3 stores x 15 pooled connections) and the platform's "
            f"other clients need {OTHER_CLIENTS_CONNECTIONS}: choose a larger SKU (docs/azure.md) or fewer MLflow workers"]


def read_platform(r: StackReader, environment: str) -> PlatformArgs | None:
    """The platform's args: the platform-wide options and each component's options."""
    options = r.read(PlatformOptions)
    components = {
        "postgres": r.read(PostgresOptions), "object_store": r.read(ObjectStoreOptions),
        "mlflow": r.read(MlflowOptions), "redis": r.read(RedisOptions), "drift": r.read(DriftOptions),
        "feature_store": r.read(FeatureStoreOptions), "backup": r.read(BackupOptions),
        "serving": r.read(ModelServingOptions), "training": r.read(TrainingOptions),
        "monitoring": r.read(MonitoringOptions), "scoring": r.read(BatchScoringOptions),
    }
    if options is None or any(value is None for value in components.values()):
        return None
    try:
        placement = options.placement(environment)
    except ArgError as error:
        r.errors.append(f"(stack name {environment!r}) {error.field} {error.message}")
        return None
    buckets = {bucket for bucket in BUCKETS if bucket != ARTIFACTS_BUCKET}
    for index, model in enumerate(components["scoring"].models):
        if model.input_bucket not in buckets:
            r.errors.append(f"{r.key('scoredModels')}[{index}] ({model.name}) input {model.input!r} is not in one of "
                            f"the platform's buckets {sorted(buckets)}: its S3 identity can only be granted those")
            return None
    return PlatformArgs(placement=placement, pod_security_version=options.pod_security_version,
                        workloads_image=options.workloads_image,
                        ingress_controller_namespace=options.ingress_controller_namespace, **components)


def read_azure(r: StackReader, stores: StoreChoice | None, stack: str) -> AzureSettings | None:
    """The Azure environment: AKS, its network, and the managed stores the stack chose (none are
    read while the choice itself is invalid, but AKS's own settings still are)."""
    postgres = r.read(FlexibleServerOptions) if stores and stores.managed_postgres else None
    blob = r.read(BlobStoreOptions) if stores and stores.blob_artifacts else None
    azure = r.read(AzureSettings, given={"stack": stack, "postgres": postgres, "blob": blob})
    if stores is None or (stores.managed_postgres and postgres is None) or (stores.blob_artifacts and blob is None):
        return None  # its problems are recorded
    return azure
