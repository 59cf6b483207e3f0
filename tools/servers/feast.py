"""A local Feast deployment on the local servers, configured like the FeastFeatureStore component.

Writes the component's feature_store.yaml and repository into a config dir, derives the process
environment from `feast_env` with kubelet semantics, and runs the component's own commands: the
apply Job's, the materialisation CronJob's and the feature server's.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mirakuru import HTTPExecutor

from infra.settings import declared_settings
from platform_components.feature_store import (
    PROJECT,
    REGISTRY_DB,
    FeastEndpoints,
    FeastSecrets,
    FeastTuning,
    apply_command,
    feast_env,
    feature_store_yaml,
    materialize_command,
    rebuild_online_command,
    repository_files,
    serve_command,
)
from platform_components.k8s import resolve_env
from platform_components.platform import FEATURE_DATA_URI
from tools.servers.postgres import LocalPostgres
from tools.servers.process import ROOT, LocalServer, ManagedProcess, free_port, log_file, scratch_dir
from tools.servers.redis import LocalRedis
from tools.servers.seaweedfs import LocalSeaweedfs


def default_key_ttl() -> int:
    return int(declared_settings()["featureStoreOnlineKeyTtlSeconds"]["default"])


@dataclass
class LocalFeatureStore(LocalServer):
    """`project` and `data_uri` let tests keep apart: Feast namespaces Redis keys by project."""

    postgres: LocalPostgres
    redis: LocalRedis
    object_store: LocalSeaweedfs
    project: str = PROJECT
    data_uri: str = FEATURE_DATA_URI
    key_ttl_seconds: int = field(default_factory=default_key_ttl)
    s3_client: str = "feast"
    tuning: FeastTuning = field(default_factory=FeastTuning)
    workdir: Path = field(default_factory=lambda: scratch_dir("feast"))
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    def __post_init__(self) -> None:
        self.config_dir.mkdir(exist_ok=True)
        (self.config_dir / "feature_store.yaml").write_text(feature_store_yaml(self.endpoints(), self.tuning))
        for name, text in repository_files().items():
            (self.config_dir / name).write_text(text)

    @property
    def config_dir(self) -> Path:
        return self.workdir / "config"

    @property
    def repo_dir(self) -> Path:
        return self.workdir / "repo"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def endpoints(self) -> FeastEndpoints:
        return FeastEndpoints(
            registry_host="127.0.0.1", registry_port=self.postgres.port,
            redis_host="127.0.0.1", redis_port=self.redis.port,
            s3_endpoint_url=self.object_store.endpoint, data_uri=self.data_uri,
            online_key_ttl_seconds=self.key_ttl_seconds, project=self.project,
        )

    def env(self, redis_password: str | None = None) -> dict[str, str]:
        """The component's container env; `redis_password` overrides the Secret's value."""
        secrets = {
            "registry": {"password": self.postgres.app_passwords[REGISTRY_DB]},
            "redis": {"password": self.redis.password if redis_password is None else redis_password},
            "s3": self.object_store.credentials(self.s3_client),
        }
        return resolve_env(feast_env(self.endpoints(), FeastSecrets("registry", "redis", "s3")), secrets)

    def command(self, command: list[str]) -> list[str]:
        return [sys.executable, *command[1:]] if command[0] == "python" else command

    def run(self, command: list[str], redis_password: str | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
        env = {**os.environ, **self.env(redis_password), "PYTHONPATH": str(ROOT)}
        return subprocess.run(self.command(command), env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)

    def train(self, mlflow_env: dict[str, str], model: str, *extra: str) -> subprocess.CompletedProcess:
        """`python -m workloads.training run` on this store, logged into MLflow with `mlflow_env`;
        `extra` are further options (`--margin -1` makes any passing challenger champion)."""
        command = ["python", "-m", "workloads.training", "run", "--config-dir", str(self.config_dir),
                   "--repo-dir", str(self.repo_dir), "--model", model, *extra]
        env = {**os.environ, **self.env(), **mlflow_env, "HOME": str(self.workdir), "PYTHONPATH": str(ROOT)}
        return subprocess.run(self.command(command), env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)

    def apply(self) -> subprocess.CompletedProcess:
        return self.run(apply_command(str(self.config_dir), str(self.repo_dir)))

    def materialize(self, end: str | None = None, redis_password: str | None = None) -> subprocess.CompletedProcess:
        extra = ["--end", end] if end else []
        return self.run(materialize_command(str(self.config_dir), str(self.repo_dir)) + extra, redis_password)

    def rebuild_online(self, start: str, end: str) -> subprocess.CompletedProcess:
        return self.run(rebuild_online_command(start, end, str(self.config_dir), str(self.repo_dir)))

    def start(self, command: list[str] | None = None) -> LocalFeatureStore:
        """The feature server, as the Deployment runs it (bound to 127.0.0.1 on a free port);
        `command` replaces the component's serve command (the benchmark compares plain `feast serve`)."""
        command = self.command(command or serve_command(str(self.config_dir), str(self.repo_dir), host="127.0.0.1",
                                                        port=self.port, tuning=self.tuning))
        env = {**os.environ, **self.env(), "PYTHONPATH": str(ROOT)}
        executor = HTTPExecutor(command, url=f"{self.url}/health", method="GET", timeout=120, cwd=str(ROOT),
                                envvars=env, stdout=log_file(self.workdir, "feature-server"), stderr=subprocess.STDOUT)
        self.process = ManagedProcess("feature-server", executor, self.workdir / "feature-server.log")
        self.process.start()
        return self
