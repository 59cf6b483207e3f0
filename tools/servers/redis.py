"""A local Redis configured by the RedisOnlineStore component's redis.conf and auth.conf."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from mirakuru import TCPExecutor

from infra.settings import declared_settings
from platform_components.quantities import parse_quantity
from platform_components.redis import auth_config, maxmemory_bytes, redis_config, server_command
from tools.servers.process import LocalServer, ManagedProcess, free_port, log_file, require_binary, scratch_dir


def default_maxmemory() -> int:
    """maxmemory as the component computes it from the default memory limit in Pulumi.yaml."""
    return maxmemory_bytes(int(parse_quantity(declared_settings()["redisMemoryLimit"]["default"])))


@dataclass
class LocalRedis(LocalServer):
    workdir: Path = field(default_factory=lambda: scratch_dir("redis"))
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: ManagedProcess | None = None

    @property
    def config_path(self) -> Path:
        return self.workdir / "redis.conf"

    def write_config(self) -> None:
        (self.workdir / "data").mkdir(exist_ok=True)
        auth = self.workdir / "auth.conf"
        auth.write_text(auth_config(self.password))
        auth.chmod(0o600)
        self.config_path.write_text(
            redis_config(maxmemory=default_maxmemory(), port=self.port, bind="127.0.0.1",
                         data_dir=str(self.workdir / "data"), auth_include=str(auth))
        )

    def start(self) -> LocalRedis:
        require_binary("redis-server")
        if not self.config_path.exists():
            self.write_config()
        command = server_command(str(self.config_path))
        command[0] = require_binary(command[0])
        executor = TCPExecutor(command, host="127.0.0.1", port=self.port, timeout=30,
                               stdout=log_file(self.workdir, "redis"), stderr=subprocess.STDOUT)
        self.process = ManagedProcess("redis", executor, self.workdir / "redis.log")
        self.process.start()
        return self

    def url(self, with_password: bool = True) -> str:
        auth = f":{self.password}@" if with_password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"
