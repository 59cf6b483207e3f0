"""A local model server started from the ModelServer component's own command line and env.

Only the endpoints differ from the cluster: MLflow, S3 and the feature server are the local
servers, and the server listens on a free loopback port. The MLflow user and S3 identity are the
served model's own, as in the cluster (`credentials` are the values its Secrets would hold).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mirakuru import HTTPExecutor

from platform_components.k8s import resolve_env
from platform_components.model_server import (
    ModelServingOptions,
    ServedModel,
    ServingEndpoints,
    ServingSecrets,
    serve_command,
    serving_env,
)
from tools.servers.process import ROOT, LocalServer, ManagedProcess, free_port, log_file, scratch_dir


@dataclass
class LocalModelServer(LocalServer):
    model: ServedModel
    options: ModelServingOptions
    endpoints: ServingEndpoints
    mlflow_credentials: dict[str, str]  # username, password: the model's own MLflow user
    s3_credentials: dict[str, str]  # AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: its own S3 identity
    workdir: Path = field(default_factory=lambda: scratch_dir("model-server"))
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)  # e.g. ["--no-log"] (the benchmark's baseline)
    process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        command = serve_command(self.model, self.options, self.endpoints, host="127.0.0.1", port=self.port,
                                download_dir=str(self.workdir))
        return [sys.executable, *command[1:], *self.extra_args]

    def environment(self) -> dict[str, str]:
        secrets = {"mlflow-user": self.mlflow_credentials, "s3": self.s3_credentials}
        env = resolve_env(serving_env(self.endpoints, ServingSecrets("mlflow-user", "s3")), secrets)
        env["HOME"] = str(self.workdir)
        return {**os.environ, **env, "PYTHONPATH": str(ROOT)}

    def start(self, wait_ready: bool = True) -> LocalModelServer:
        """Start it; with `wait_ready`, until `/ping` says a version is loaded."""
        path = "/ping" if wait_ready else "/version"
        executor = HTTPExecutor(self.command(), url=f"{self.url}{path}", method="GET", timeout=180, cwd=str(ROOT),
                                envvars=self.environment(), stdout=log_file(self.workdir, "model-server"),
                                stderr=subprocess.STDOUT)
        self.process = ManagedProcess("model-server", executor, self.workdir / "model-server.log")
        self.process.start()
        return self

    def terminate(self, timeout: float = 90) -> int:
        """SIGTERM, as the kubelet sends it, and the exit code once it stopped."""
        process = self.process.executor.process
        process.terminate()
        return process.wait(timeout=timeout)
