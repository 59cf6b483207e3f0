"""A local Postgres, bootstrapped by the PostgresDatabase component's own SQL."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path

from mirakuru import TCPExecutor

from platform_components.mlflow_server import postgres_uri
from platform_components.postgres import AppDatabase, bootstrap_command, bootstrap_sql, readiness_command
from tools.servers.process import LocalServer, ManagedProcess, ServerError, as_user, free_port, log_file, scratch_dir

SERVICE_USER = "postgres"


def postgres_bin(name: str) -> str:
    """Debian keeps server binaries under /usr/lib/postgresql/<major>/bin, off PATH."""
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([shutil.which(name)] if shutil.which(name) else [])
    if not found:
        raise ServerError(f"PostgreSQL's {name} not found; run `make test` (installs Debian's postgresql)")
    return found[-1]


@dataclass
class LocalPostgres(LocalServer):
    workdir: Path = field(default_factory=lambda: scratch_dir("postgres"))
    port: int = field(default_factory=free_port)
    superuser_password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    app_passwords: dict[str, str] = field(default_factory=dict)
    process: ManagedProcess | None = None

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, SERVICE_USER, SERVICE_USER)

    def init(self) -> None:
        self.data_dir.mkdir(exist_ok=True)
        (self.workdir / "sock").mkdir(exist_ok=True)
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.superuser_password + "\n")
        for path in (self.data_dir, self.workdir / "sock", pwfile):
            self._chown(path)
        # The official image's entrypoint runs initdb with the same choices.
        command = [postgres_bin("initdb"), "--pgdata", str(self.data_dir), "--username", "postgres",
                   "--pwfile", str(pwfile), "--auth", "scram-sha-256", "--encoding", "UTF8", "--no-sync"]
        result = subprocess.run(as_user(SERVICE_USER, command), capture_output=True, text=True, timeout=120)
        pwfile.unlink()
        if result.returncode != 0:
            raise ServerError(f"initdb failed: {result.stderr[-2000:]}")

    def start(self) -> LocalPostgres:
        if not (self.data_dir / "PG_VERSION").exists():
            self.init()
        command = [postgres_bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port),
                   "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={self.workdir / 'sock'}",
                   "-c", "fsync=on"]
        # SIGINT is a "fast" shutdown, the official image's STOPSIGNAL; SIGTERM ("smart") would wait
        # for every pooled client connection to close.
        executor = TCPExecutor(as_user(SERVICE_USER, command), host="127.0.0.1", port=self.port, timeout=60,
                               stop_signal=signal.SIGINT,
                               stdout=log_file(self.workdir, "postgres"), stderr=subprocess.STDOUT)
        self.process = ManagedProcess("postgres", executor, self.workdir / "postgres.log")
        self.process.start()
        self._wait_ready()
        return self

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        command = readiness_command(self.port)
        command[0] = postgres_bin(command[0])  # the same major version as the server
        while subprocess.run(command, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise ServerError(f"postgres on port {self.port} not ready after {timeout}s\n{self.process.log_tail()}")
            time.sleep(0.2)

    def superuser_env(self) -> dict[str, str]:
        return {"PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres",
                "PGDATABASE": "postgres", "PGPASSWORD": self.superuser_password}

    def bootstrap(self, databases: tuple[AppDatabase, ...], admin: tuple[str, str] | None = None,
                  monitors: tuple[AppDatabase, ...] = ()) -> dict[str, str]:
        """Run the component's bootstrap script, as its Job does; returns the app passwords (and the
        `monitors`' roles' passwords). `admin` (user, password) runs it as that role instead of the
        superuser, as on a managed server."""
        for db in (*databases, *monitors):
            self.app_passwords.setdefault(db.name, secrets.token_urlsafe(24))
        script = self.workdir / "bootstrap.sql"
        script.write_text(bootstrap_sql(databases, monitors))
        login = {"PGUSER": admin[0], "PGPASSWORD": admin[1]} if admin else {}
        env = {**os.environ, **self.superuser_env(), **login,
               **{db.password_env: self.app_passwords[db.name] for db in (*databases, *monitors)}}
        result = subprocess.run(bootstrap_command(str(script)), env=env, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise ServerError(f"postgres bootstrap failed: {result.stderr[-2000:]}")
        return dict(self.app_passwords)

    def uri(self, database: str, with_password: bool = True) -> str:
        password = self.app_passwords[database] if with_password else None
        return postgres_uri(database, "127.0.0.1", self.port, database, password)

    def superuser_uri(self, database: str = "postgres") -> str:
        return postgres_uri("postgres", "127.0.0.1", self.port, database, self.superuser_password)
