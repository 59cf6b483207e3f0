"""A local `mlflow server` started from the MlflowTrackingServer component's own builders.

Only the endpoints differ from the cluster: Postgres, S3 and the listen address are local. The
command line, environment (resolved as a kubelet would), auth config and the preceding
`mlflow db upgrade` are the component's.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mirakuru import HTTPExecutor

from infra.settings import declared_settings
from platform_components.k8s import resolve_env
from platform_components.mlflow_server import (
    ADMIN_USERNAME,
    ServerEndpoints,
    ServerSecrets,
    auth_config_ini,
    cluster_allowed_hosts,
    db_upgrade_command,
    metrics_command,
    plugin_files,
    server_command,
    server_env,
)
from platform_components.mlflow_users import MlflowUser, access_command, access_env
from platform_components.platform import ARTIFACTS_BUCKET, AUTH_DB, TRACKING_DB
from tools.servers.pods import CONTAINER_HOST
from tools.servers.postgres import LocalPostgres
from tools.servers.process import ROOT, LocalServer, ManagedProcess, ServerError, free_port, log_file, scratch_dir
from tools.servers.seaweedfs import LocalSeaweedfs

# Secret names the local env resolves against (in the cluster these are the generated Secrets).
DB_SECRET, S3_SECRET, ADMIN_SECRET, SESSION_SECRET = "tracking-db", "object-store-mlflow", "mlflow-admin", "mlflow-session"


@dataclass
class LocalMlflow(LocalServer):
    postgres: LocalPostgres
    object_store: LocalSeaweedfs
    s3_client: str = "mlflow"
    workers: int = 2
    auth_cache_seconds: int = field(default_factory=lambda: int(declared_settings()["mlflowAuthCacheSeconds"]["default"]))
    workdir: Path = field(default_factory=lambda: scratch_dir("mlflow"))
    port: int = field(default_factory=free_port)
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    session_key: str = field(default_factory=lambda: secrets.token_urlsafe(36))
    metrics_port: int = field(default_factory=free_port)  # the metrics sidecar's, as with a monitoring stack
    process: ManagedProcess | None = None
    metrics: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> tuple[str, str]:
        return ADMIN_USERNAME, self.admin_password

    def admin_env(self) -> dict[str, str]:
        """A client's environment to reach this server as the admin."""
        return {"MLFLOW_TRACKING_URI": self.url, "MLFLOW_TRACKING_USERNAME": ADMIN_USERNAME,
                "MLFLOW_TRACKING_PASSWORD": self.admin_password}

    def converge_users(self, users: tuple[MlflowUser, ...]) -> dict[str, dict[str, str]]:
        """Run the MlflowUsers component's access Job command, with its env, against this server;
        returns each user's credentials (the values its Secret holds in the cluster)."""
        passwords = {user.username: secrets.token_urlsafe(24) for user in users}
        values = {"admin": {"username": ADMIN_USERNAME, "password": self.admin_password},
                  **{user.username: {"password": passwords[user.username]} for user in users}}
        env = resolve_env(access_env(self.url, "admin", users, {u.username: u.username for u in users}), values)
        result = subprocess.run([sys.executable, *access_command(users)[1:]], env={**os.environ, **env,
                                "PYTHONPATH": str(ROOT)}, cwd=ROOT, capture_output=True, text=True, timeout=300)
        if result.returncode != 0:
            raise ServerError(f"mlflow access job failed: {result.stderr[-3000:]}")
        return {name: {"username": name, "password": value} for name, value in passwords.items()}

    def endpoints(self) -> ServerEndpoints:
        return ServerEndpoints(
            backend_store_uri=self.postgres.uri(TRACKING_DB, with_password=False),
            artifacts_destination=f"s3://{ARTIFACTS_BUCKET}",
            s3_endpoint_url=self.object_store.endpoint,
            # The cluster's list (loopback on any port) and the name pods reach the host by.
            allowed_hosts=cluster_allowed_hosts("mlflow", "local", (CONTAINER_HOST,)),
            auth_config_path=str(self.workdir / "basic_auth.ini"),
            host="127.0.0.1",
            port=self.port,
            workers=self.workers,
            plugin_dir=str(self.workdir / "plugins"),
            scratch_dir=str(self.workdir / "tmp"),
            metrics=True,
            metrics_port=self.metrics_port,
        )

    def environment(self) -> dict[str, str]:
        secret_values = {
            DB_SECRET: {"password": self.postgres.app_passwords[TRACKING_DB]},
            S3_SECRET: self.object_store.credentials(self.s3_client),
            ADMIN_SECRET: {"password": self.admin_password},
            SESSION_SECRET: {"secret-key": self.session_key},
        }
        secret_names = ServerSecrets(DB_SECRET, S3_SECRET, ADMIN_SECRET, SESSION_SECRET)
        env = resolve_env(server_env(self.endpoints(), secret_names), secret_values)
        # Find `mlflow` in the same virtualenv as the tests: the version pinned with the image.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        # `--expose-prometheus` sets prometheus_client's lowercase variable; the uppercase one wins,
        # and this test process may carry Feast's (feast.metrics sets it at import), which would send
        # the workers' metrics elsewhere. In a pod nothing sets it.
        env["PROMETHEUS_MULTIPROC_DIR"] = self.endpoints().metrics_dir
        return env

    def start(self) -> LocalMlflow:
        auth_ini = self.workdir / "basic_auth.ini"
        auth_ini.write_text(auth_config_ini(self.postgres.uri(AUTH_DB), self.auth_cache_seconds))
        auth_ini.chmod(0o600)
        for path, text in plugin_files().items():
            (self.workdir / "plugins" / path).parent.mkdir(parents=True, exist_ok=True)
            (self.workdir / "plugins" / path).write_text(text)
        (self.workdir / "tmp").mkdir(exist_ok=True)
        Path(self.endpoints().metrics_dir).mkdir(exist_ok=True)
        env = self.environment()
        upgrade = subprocess.run(db_upgrade_command(self.endpoints()), env={**os.environ, **env},
                                 capture_output=True, text=True, timeout=300)
        if upgrade.returncode != 0:
            raise ServerError(f"mlflow db upgrade failed: {upgrade.stderr[-3000:]}")
        executor = HTTPExecutor(server_command(self.endpoints()), url=f"{self.url}/health", method="GET",
                                timeout=120, envvars=env, stdout=log_file(self.workdir, "mlflow"),
                                stderr=subprocess.STDOUT)
        self.process = ManagedProcess("mlflow", executor, self.workdir / "mlflow.log")
        self.process.start()
        command = metrics_command(self.endpoints())
        command[0] = sys.executable
        sidecar = HTTPExecutor(command, url=f"{self.metrics_url}/metrics", method="GET", timeout=60,
                               stdout=log_file(self.workdir, "metrics"), stderr=subprocess.STDOUT)
        self.metrics = ManagedProcess("mlflow metrics sidecar", sidecar, self.workdir / "metrics.log")
        self.metrics.start()
        return self

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def stop(self) -> None:
        if self.metrics:
            self.metrics.stop(any_exit=True)
        super().stop()
