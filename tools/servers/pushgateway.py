"""A local Prometheus Pushgateway with the monitoring component's own arguments
(platform_components/monitoring.py `pushgateway_args`), built by tools/install/pushgateway.sh."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mirakuru import HTTPExecutor

from platform_components.images import PUSHGATEWAY_VERSION
from platform_components.monitoring import pushgateway_args
from tools.servers.process import CACHE, LocalServer, ManagedProcess, ServerError, free_port, log_file, scratch_dir


def binary() -> Path:
    path = CACHE / "bin" / f"pushgateway-v{PUSHGATEWAY_VERSION}"
    if not path.is_file():
        raise ServerError(f"pushgateway v{PUSHGATEWAY_VERSION} not built at {path}: run tools/install/pushgateway.sh "
                          "(make test does)")
    return path


@dataclass
class LocalPushgateway(LocalServer):
    workdir: Path = field(default_factory=lambda: scratch_dir("pushgateway"))
    port: int = field(default_factory=free_port)
    process: ManagedProcess | None = None

    def start(self) -> LocalPushgateway:
        args = [a.replace(f"--web.listen-address=:{self.port}", f"--web.listen-address=127.0.0.1:{self.port}")
                for a in pushgateway_args(self.port, str(self.workdir))]
        executor = HTTPExecutor([str(binary()), *args], url=f"{self.url}/-/ready", method="GET", timeout=30,
                                stdout=log_file(self.workdir, "pushgateway"), stderr=subprocess.STDOUT)
        self.process = ManagedProcess("pushgateway", executor, self.workdir / "pushgateway.log")
        self.process.start()
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"
