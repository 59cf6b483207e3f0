"""A local SeaweedFS S3 server configured by the ObjectStore component's args and s3.json."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mirakuru import HTTPExecutor

from platform_components.object_store import (
    S3Grant,
    S3Identity,
    SeaweedfsPorts,
    bucket_job_args,
    seaweedfs_args,
    seaweedfs_s3_config,
)
from tools.servers.process import ROOT, LocalServer, ManagedProcess, ServerError, free_port, log_file, scratch_dir

# Resolved once, at import: tests later run jobs with the containers' HOME=/tmp in the environment.
CACHE = os.environ.get("MLOPS_CACHE_DIR") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "mlops-platform"
)


def weed_binary() -> str:
    """The pinned build from tools/install/seaweedfs.sh (or WEED_BIN)."""
    path = os.environ.get("WEED_BIN") or os.path.join(CACHE, "bin", "weed")
    if not os.access(path, os.X_OK):
        raise ServerError(f"SeaweedFS binary not found at {path}; run `make test` (tools/install/seaweedfs.sh builds it)")
    return path


def _credentials(name: str) -> tuple[str, str]:
    return f"{name.upper()}{secrets.token_hex(6).upper()}", secrets.token_urlsafe(30)


@dataclass
class LocalSeaweedfs(LocalServer):
    """`clients` maps a client name to its grants, as ObjectStoreArgs.clients does."""

    clients: dict[str, tuple[S3Grant, ...]] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: scratch_dir("seaweedfs"))
    ports: SeaweedfsPorts = field(
        default_factory=lambda: SeaweedfsPorts(*(free_port() for _ in range(8)))
    )
    identities: dict[str, S3Identity] = field(default_factory=dict)
    process: ManagedProcess | None = None

    def __post_init__(self) -> None:
        key, secret = _credentials("admin")
        self.identities["admin"] = S3Identity("admin", key, secret, None)
        for client, grants in self.clients.items():
            key, secret = _credentials(client)
            self.identities[client] = S3Identity(client, key, secret, grants)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.ports.s3}"

    def credentials(self, who: str = "admin") -> dict[str, str]:
        identity = self.identities[who]
        return {"AWS_ACCESS_KEY_ID": identity.access_key, "AWS_SECRET_ACCESS_KEY": identity.secret_key}

    def start(self) -> LocalSeaweedfs:
        config = self.workdir / "s3.json"
        config.write_text(seaweedfs_s3_config(list(self.identities.values())))
        config.chmod(0o600)
        (self.workdir / "data").mkdir(exist_ok=True)
        command = [weed_binary(), *seaweedfs_args(data_dir=str(self.workdir / "data"), config_path=str(config),
                                                  ports=self.ports, bind="127.0.0.1")]
        executor = HTTPExecutor(command, url=f"{self.endpoint}/healthz", method="GET", timeout=90,
                                stdout=log_file(self.workdir, "seaweedfs"), stderr=subprocess.STDOUT)
        self.process = ManagedProcess("seaweedfs", executor, self.workdir / "seaweedfs.log")
        self.process.start()
        return self

    def create_buckets(self, buckets: tuple[str, ...]) -> subprocess.CompletedProcess:
        """Run the bucket Job's own command (python -m workloads.buckets ...) with admin credentials."""
        env = {**os.environ, **self.credentials("admin"), "PYTHONPATH": str(ROOT)}
        return subprocess.run([sys.executable, *bucket_job_args(self.endpoint, buckets)], env=env,
                              capture_output=True, text=True, timeout=180, cwd=ROOT)
