"""Stack settings: every config value read once, typed, validated, with errors naming the key.

Defaults live in one place, the `config:` block of Pulumi.yaml (the Pulumi CLI applies them; the
offline runner applies the same file). Each options dataclass declares the config key of every
field it reads next to that field (platform_components/stack_keys.py); `StackReader.read` builds
any such class, validates it through the class itself, reports an `ArgError` under the key of the
failing field, collects every problem, and `load_settings` raises one `SettingsError` at preview.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import pulumi
import yaml

from infra import pulumi_config
from infra.azure_settings import AzureSettings, BlobStoreOptions, FlexibleServerOptions
from platform_components import stack_keys
from platform_components.drift_monitor import DriftOptions
from platform_components.feature_store import FeatureStoreOptions
from platform_components.mlflow_server import MlflowOptions
from platform_components.object_store import ObjectStoreOptions
from platform_components.platform import PlatformArgs, PlatformOptions
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
T = TypeVar("T")


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
                    RedisOptions, DriftOptions, FeatureStoreOptions, BackupOptions, AzureSettings,
                    FlexibleServerOptions, BlobStoreOptions)


@dataclass(frozen=True)
class Settings:
    cluster: ClusterSettings
    platform: PlatformArgs
    azure: AzureSettings | None = None  # set when clusterTarget is aks


@cache
def declared_settings() -> dict[str, dict[str, Any]]:
    """The `config:` schema of Pulumi.yaml: the list of settings, their types and defaults."""
    return dict(yaml.safe_load(PROJECT_FILE.read_text()).get("config") or {})


def key_prefix(cls: type, prefix: str | None) -> str:
    """The prefix of `cls`'s relative keys: the given one, else the class's KEY_PREFIX (or none)."""
    return prefix if prefix is not None else getattr(cls, "KEY_PREFIX", "")


def keyed_fields(cls: type, prefix: str | None = None) -> dict[str, Any]:
    """Config key -> the Python type of the field it sets, over `cls` and its setting groups."""
    hints, keys, prefix = get_type_hints(cls), {}, key_prefix(cls, prefix)
    for field in fields(cls):
        if stack_keys.PREFIX in field.metadata:
            keys.update(keyed_fields(hints[field.name], stack_keys.full_key(prefix, field.metadata[stack_keys.PREFIX])))
        elif (key := stack_keys.key_of(field, prefix)) is not None:
            keys[key] = hints[field.name]
    return keys


class StackReader:
    """Reads options classes from the project's config namespace: typed by each field's annotation,
    remembering which keys were read and every problem found."""

    def __init__(self, config: pulumi.Config | None = None) -> None:
        self.config = config or pulumi.Config(PROJECT)
        self.read_keys: set[str] = set()
        self.errors: list[str] = []

    def read(self, cls: type[T], prefix: str | None = None, **given: Any) -> T | None:
        """An instance of `cls` from its keyed fields (plus `given` values for the others), or None
        when a value is missing, mistyped or rejected by the class (the problem is recorded).
        Relative keys are prefixed with `prefix`, by default the class's KEY_PREFIX."""
        hints, values, complete, prefix = get_type_hints(cls), dict(given), True, key_prefix(cls, prefix)
        for field in fields(cls):
            if field.name in given:
                continue
            if stack_keys.PREFIX in field.metadata:
                values[field.name] = self.read(hints[field.name], stack_keys.full_key(prefix, field.metadata[stack_keys.PREFIX]))
                complete = complete and values[field.name] is not None
            elif (key := stack_keys.key_of(field, prefix)) is not None:
                try:
                    values[field.name] = self._value(key, hints[field.name], field.metadata.get(stack_keys.SECRET, False))
                except (pulumi.ConfigTypeError, pulumi.ConfigMissingError, ArgError) as error:
                    self.errors.append(str(error) if not isinstance(error, ArgError) else f"{self.key(key)} {error.message}")
                    complete = False
        return self.build(cls, prefix, values) if complete else None

    def build(self, cls: type[T], prefix: str, values: dict[str, Any]) -> T | None:
        """`cls(**values)`, with an ArgError reported under the failing field's config key."""
        try:
            return cls(**values)
        except ArgError as error:
            field = next((f for f in fields(cls) if f.name == error.field), None)
            key = (stack_keys.key_of(field, prefix) if field else None) or error.field
            self.errors.append(f"{self.key(key)} {error.message}")
            return None

    def key(self, name: str) -> str:
        return f"{PROJECT}:{name}"

    def _value(self, key: str, hint: Any, secret: bool) -> Any:
        self.read_keys.add(key)
        if secret:
            return self._secret(key)
        if hint is bool:
            return self.config.require_bool(key)
        if hint is int:
            return self.config.require_int(key)
        if hint == tuple[str, ...]:
            value = self.config.require_object(key)
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ArgError(key, f"must be a list of strings, got {value!r}")
            return tuple(value)
        if hint == str | None:
            return self.config.require(key) or None
        if hint is str:
            return self.config.require(key)
        raise TypeError(f"{key}: no reader for fields of type {hint}")

    def _secret(self, key: str) -> pulumi.Output[str] | None:
        if not self.config.get(key):
            return None
        if not pulumi_config.is_secret(PROJECT, key):
            raise ArgError(key, f"holds a credential and must be stored encrypted: pulumi config set --secret {key} ...")
        return self.config.require_secret(key)

    def unknown_keys(self) -> list[str]:
        declared = sorted(declared_settings())
        problems = []
        for name in sorted(pulumi_config.configured_keys(PROJECT) - set(declared)):
            hint = difflib.get_close_matches(name, declared, n=1)
            suggestion = f"; did you mean {self.key(hint[0])}?" if hint else ""
            problems.append(f"{self.key(name)} is not a setting of this project (see Pulumi.yaml){suggestion}")
        return problems


def load_settings(reader: StackReader | None = None) -> Settings:
    """Read and validate the current stack's configuration; raise SettingsError listing every problem."""
    r = reader or StackReader()
    cluster = r.read(ClusterSettings)
    platform = read_platform(r, pulumi.get_stack())
    stores = r.read(StoreChoice)
    azure = None
    if cluster is not None and cluster.cluster_target == "aks" and stores is not None:
        azure = read_azure(r, stores, pulumi.get_stack())
    problems = r.errors + r.unknown_keys()
    if problems or cluster is None or platform is None or (cluster.cluster_target == "aks" and azure is None):
        raise SettingsError("Invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))
    return Settings(cluster=cluster, platform=platform, azure=azure)


def read_platform(r: StackReader, environment: str) -> PlatformArgs | None:
    """The platform's args: the platform-wide options and each component's options."""
    options = r.read(PlatformOptions)
    components = {
        "postgres": r.read(PostgresOptions), "object_store": r.read(ObjectStoreOptions),
        "mlflow": r.read(MlflowOptions), "redis": r.read(RedisOptions), "drift": r.read(DriftOptions),
        "feature_store": r.read(FeatureStoreOptions), "backup": r.read(BackupOptions),
    }
    if options is None or any(value is None for value in components.values()):
        return None
    try:
        placement = options.placement(environment)
    except ArgError as error:
        r.errors.append(f"(stack name {environment!r}) {error.field} {error.message}")
        return None
    return PlatformArgs(placement=placement, pod_security_version=options.pod_security_version,
                        workloads_image=options.workloads_image,
                        ingress_controller_namespace=options.ingress_controller_namespace, **components)


def read_azure(r: StackReader, stores: StoreChoice, stack: str) -> AzureSettings | None:
    """The Azure environment: AKS, its network, and the managed stores the stack chose."""
    postgres = r.read(FlexibleServerOptions) if stores.managed_postgres else None
    blob = r.read(BlobStoreOptions) if stores.blob_artifacts else None
    azure = r.read(AzureSettings, stack=stack, postgres=postgres, blob=blob)
    if (stores.managed_postgres and postgres is None) or (stores.blob_artifacts and blob is None):
        return None  # its problems are recorded
    return azure
