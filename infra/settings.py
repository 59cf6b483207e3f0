"""Stack settings: every config value read once, typed, validated, with errors naming the key.

Defaults live in one place, the `config:` block of Pulumi.yaml (the Pulumi CLI applies them; the
offline runner applies the same file). Component argument dataclasses validate themselves; this
module maps a failing field back to the config key the user wrote, collects every problem, and
raises one `SettingsError` at preview time.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import yaml
from pulumi.runtime.config import CONFIG, get_config_env, is_config_secret

from infra.azure_settings import AksOptions, AzureSettings, BlobStoreOptions, FlexibleServerOptions, NetworkPlan
from platform_components.drift_monitor import DriftOptions
from platform_components.feature_store import FeatureStoreOptions
from platform_components.k8s import PodIdentity, Resources
from platform_components.mlflow_server import MlflowOptions
from platform_components.object_store import ObjectStoreOptions
from platform_components.platform import PlatformArgs
from platform_components.postgres import PostgresOptions
from platform_components.postgres_backup import BackupOptions
from platform_components.redis import RedisOptions
from platform_components.validation import ArgError, require_one_of

PROJECT = "mlops-platform"
PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"
CLUSTER_TARGETS = ("minikube", "kubeconfig", "aks")
POSTGRES_ENGINES = ("in-cluster", "azure-flexible")
ARTIFACT_STORES = ("object-store", "azure-blob")
T = TypeVar("T")


class SettingsError(ValueError):
    """One or more stack settings are invalid; the message lists each key and what is allowed."""


@dataclass(frozen=True)
class ClusterSettings:
    cluster_target: str
    kube_context: str
    kubeconfig: pulumi.Output[str] | None  # a Pulumi secret

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

    cluster_target: str
    postgres_engine: str
    mlflow_artifact_store: str

    def __post_init__(self) -> None:
        require_one_of("postgres_engine", self.postgres_engine, POSTGRES_ENGINES)
        require_one_of("mlflow_artifact_store", self.mlflow_artifact_store, ARTIFACT_STORES)
        if self.cluster_target == "aks":
            return
        if self.postgres_engine == "azure-flexible":
            raise ArgError("postgres_engine", self._needs_aks("azure-flexible"))
        if self.mlflow_artifact_store == "azure-blob":
            raise ArgError("mlflow_artifact_store", self._needs_aks("azure-blob"))

    def _needs_aks(self, choice: str) -> str:
        return f"{choice} needs clusterTarget aks (its private network), got {self.cluster_target!r}"


@dataclass(frozen=True)
class Settings:
    cluster: ClusterSettings
    platform: PlatformArgs
    azure: AzureSettings | None = None  # set when clusterTarget is aks


def config_key_name(prefix: str, field: str) -> str:
    """`("mlflow", "ingress_host")` -> `mlflowIngressHost`; `("", "run_as_user")` -> `runAsUser`."""
    parts = [part for part in [prefix, *field.split("_")] if part]
    return parts[0] + "".join(part[:1].upper() + part[1:] for part in parts[1:])


@cache
def declared_settings() -> dict[str, dict[str, Any]]:
    """The `config:` schema of Pulumi.yaml: the list of settings, their types and defaults."""
    return dict(yaml.safe_load(PROJECT_FILE.read_text()).get("config") or {})


class _Reader:
    """Typed reads of the project's config namespace that remember which keys were read."""

    def __init__(self) -> None:
        self.config = pulumi.Config(PROJECT)
        self.read: set[str] = set()
        self.errors: list[str] = []

    def key(self, name: str) -> str:
        return f"{PROJECT}:{name}"

    def string(self, name: str) -> str:
        self.read.add(name)
        return self.config.require(name)

    def integer(self, name: str) -> int:
        self.read.add(name)
        return self.config.require_int(name)

    def boolean(self, name: str) -> bool:
        self.read.add(name)
        return self.config.require_bool(name)

    def string_list(self, name: str) -> tuple[str, ...]:
        self.read.add(name)
        value = self.config.require_object(name)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.errors.append(f"{self.key(name)} must be a list of strings, got {value!r}")
            return ()
        return tuple(value)

    def secret(self, name: str) -> pulumi.Output[str] | None:
        self.read.add(name)
        if not self.config.get(name):
            return None
        if not is_config_secret(self.key(name)):
            self.errors.append(
                f"{self.key(name)} holds a credential and must be stored encrypted: "
                f"pulumi config set --secret {name} ..."
            )
        return self.config.require_secret(name)

    def build(self, prefix: str, build: Callable[[], T], keys: dict[str, str] | None = None) -> T | None:
        """Run `build`; report an ArgError under the config key its field came from."""
        try:
            return build()
        except ArgError as error:
            name = (keys or {}).get(error.field) or config_key_name(prefix, error.field)
            self.errors.append(f"{self.key(name)} {error.message}")
        except (pulumi.ConfigTypeError, pulumi.ConfigMissingError) as error:
            self.errors.append(str(error))
        return None

    def resources(self, prefix: str) -> Resources | None:
        return self.build(
            prefix,
            lambda: Resources(
                cpu_request=self.string(f"{prefix}CpuRequest"),
                memory_request=self.string(f"{prefix}MemoryRequest"),
                memory_limit=self.string(f"{prefix}MemoryLimit"),
            ),
        )

    def unknown_keys(self) -> list[str]:
        configured = {key for key in {**get_config_env(), **CONFIG.get()} if key.startswith(f"{PROJECT}:")}
        declared = sorted(declared_settings())
        problems = []
        for key in sorted(configured):
            name = key.split(":", 1)[1]
            if name not in declared:
                hint = difflib.get_close_matches(name, declared, n=1)
                suggestion = f"; did you mean {self.key(hint[0])}?" if hint else ""
                problems.append(f"{key} is not a setting of this project (see Pulumi.yaml){suggestion}")
        return problems


def load_settings(reader: _Reader | None = None) -> Settings:
    """Read and validate the current stack's configuration; raise SettingsError listing every problem."""
    r = reader or _Reader()
    cluster = r.build(
        "",
        lambda: ClusterSettings(
            cluster_target=r.string("clusterTarget"),
            kube_context=r.string("kubeContext"),
            kubeconfig=r.secret("kubeconfig"),
        ),
    )

    def identity() -> PodIdentity:
        run_as_user = r.integer("runAsUser")
        return PodIdentity(None if r.boolean("openShift") else run_as_user)

    def optional(name: str) -> str | None:
        return r.string(name) or None

    pod_identity = r.build("", identity)
    postgres_resources = r.resources("postgres")
    object_store_resources = r.resources("objectStore")
    mlflow_resources = r.resources("mlflow")
    redis_resources = r.resources("redis")
    drift_resources = r.resources("drift")
    feature_server_resources = r.resources("featureServer")
    feature_job_resources = r.resources("featureJob")
    postgres = r.build("postgres", lambda: PostgresOptions(postgres_resources, r.string("postgresStorageSize")))
    object_store = r.build(
        "objectStore",
        lambda: ObjectStoreOptions(
            engine=r.string("objectStoreEngine"),
            resources=object_store_resources,
            storage_size=r.string("objectStoreStorageSize"),
        ),
    )
    mlflow = r.build(
        "mlflow",
        lambda: MlflowOptions(
            resources=mlflow_resources,
            replicas=r.integer("mlflowReplicas"),
            workers=r.integer("mlflowWorkers"),
            ingress_host=optional("mlflowIngressHost"),
            ingress_class=r.string("mlflowIngressClass"),
            extra_allowed_hosts=r.string_list("mlflowExtraAllowedHosts"),
        ),
    )
    redis = r.build("redis", lambda: RedisOptions(redis_resources, r.string("redisStorageSize")))
    drift = r.build(
        "drift",
        lambda: DriftOptions(
            models=r.string_list("driftModels"),
            resources=drift_resources,
            schedule=r.string("driftSchedule"),
            model_alias=r.string("driftModelAlias"),
            retrain_hook_secret=optional("driftRetrainHookSecret"),
        ),
    )
    feature_store = r.build(
        "featureStore",
        lambda: FeatureStoreOptions(
            server_resources=feature_server_resources,
            job_resources=feature_job_resources,
            materialize_schedule=r.string("featureStoreMaterializeSchedule"),
            online_key_ttl_seconds=r.integer("featureStoreOnlineKeyTtlSeconds"),
            server_replicas=r.integer("featureServerReplicas"),
            server_workers=r.integer("featureServerWorkers"),
        ),
        keys={"server_replicas": "featureServerReplicas", "server_workers": "featureServerWorkers"},
    )
    backup = r.build(
        "postgresBackup",
        lambda: BackupOptions(schedule=r.string("postgresBackupSchedule"), keep=r.integer("postgresBackupKeep")),
    )
    parts: dict[str, Any] = dict(
        identity=pod_identity, postgres=postgres, object_store=object_store, mlflow=mlflow, redis=redis, drift=drift,
        feature_store=feature_store, backup=backup,
    )
    platform = None
    if all(value is not None for value in parts.values()):
        platform = r.build(
            "",
            lambda: PlatformArgs(
                environment=pulumi.get_stack(),
                namespace=r.string("namespace"),
                pod_security_version=r.string("podSecurityVersion"),
                workloads_image=f"{r.string('workloadsImage')}:{r.string('workloadsImageTag')}",
                storage_class=optional("storageClass"),
                protect_data=r.boolean("protectData"),
                ingress_controller_namespace=r.string("ingressControllerNamespace"),
                **parts,
            ),
            keys={"workloads_image": "workloadsImageTag", "environment": "(stack name)"},
        )
    azure = None
    if cluster is not None and cluster.cluster_target == "aks":
        azure = load_azure_settings(r)
    else:
        r.build("", lambda: StoreChoice(r.string("clusterTarget"), r.string("postgresEngine"),
                                        r.string("mlflowArtifactStore")))
    problems = r.errors + r.unknown_keys()
    if problems:
        raise SettingsError("Invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    assert cluster is not None and platform is not None
    assert azure is not None or cluster.cluster_target != "aks"
    return Settings(cluster=cluster, platform=platform, azure=azure)


def load_azure_settings(r: _Reader) -> AzureSettings | None:
    choice = r.build("", lambda: StoreChoice("aks", r.string("postgresEngine"), r.string("mlflowArtifactStore")))
    aks = r.build(
        "aks",
        lambda: AksOptions(
            kubernetes_version=r.string("aksKubernetesVersion"),
            system_vm_size=r.string("aksSystemVmSize"),
            system_node_count=r.integer("aksSystemNodeCount"),
            user_vm_size=r.string("aksUserVmSize"),
            user_min_count=r.integer("aksUserMinCount"),
            user_max_count=r.integer("aksUserMaxCount"),
            zones=r.string_list("aksZones"),
            admin_group_object_ids=r.string_list("aksAdminGroupObjectIds"),
            disable_local_accounts=r.boolean("aksDisableLocalAccounts"),
            upgrade_channel=r.string("aksUpgradeChannel"),
            maintenance_day=r.string("aksMaintenanceDay"),
            maintenance_start_hour=r.integer("aksMaintenanceStartHour"),
            sku_tier=r.string("aksSkuTier"),
            kubelogin_mode=r.string("aksKubeloginMode"),
            pull_registry_ids=r.string_list("aksPullRegistryIds"),
        ),
    )
    network = r.build(
        "",
        lambda: NetworkPlan(r.string("azureVnetCidr"), r.string("aksPodCidr"), r.string("aksServiceCidr")),
        keys={"vnet_cidr": "azureVnetCidr", "pod_cidr": "aksPodCidr", "service_cidr": "aksServiceCidr"},
    )
    postgres = None
    if choice is not None and choice.postgres_engine == "azure-flexible":
        postgres = r.build(
            "postgresFlexible",
            lambda: FlexibleServerOptions(
                sku=r.string("postgresFlexibleSku"),
                tier=r.string("postgresFlexibleTier"),
                storage_gb=r.integer("postgresFlexibleStorageGb"),
                high_availability=r.boolean("postgresFlexibleHighAvailability"),
                backup_retention_days=r.integer("postgresBackupRetentionDays"),
                geo_redundant_backup=r.boolean("postgresGeoRedundantBackup"),
            ),
            keys={"backup_retention_days": "postgresBackupRetentionDays",
                  "geo_redundant_backup": "postgresGeoRedundantBackup"},
        )
    blob = None
    if choice is not None and choice.mlflow_artifact_store == "azure-blob":
        blob = r.build(
            "azure",
            lambda: BlobStoreOptions(r.string("azureStorageReplication"), r.integer("azureBlobSoftDeleteDays")),
            keys={"replication": "azureStorageReplication", "soft_delete_days": "azureBlobSoftDeleteDays"},
        )
    if aks is None or network is None or choice is None:
        return None
    if (choice.postgres_engine == "azure-flexible") != (postgres is not None):
        return None
    if (choice.mlflow_artifact_store == "azure-blob") != (blob is not None):
        return None
    return r.build(
        "azure",
        lambda: AzureSettings(
            location=r.string("azureLocation"),
            name_suffix=r.string("azureNameSuffix"),
            stack=pulumi.get_stack(),
            log_retention_days=r.integer("azureLogRetentionDays"),
            registry_sku=r.string("azureRegistrySku"),
            aks=aks,
            network=network,
            postgres=postgres,
            blob=blob,
        ),
    )
