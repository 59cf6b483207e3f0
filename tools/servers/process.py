"""Process plumbing shared by the local servers: free ports, privilege drop, start/stop by PID."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mirakuru import Executor
from mirakuru.exceptions import AlreadyRunning, ProcessExitedWithError, ProcessFinishedWithError, TimeoutExpired

# The project's root: local servers run the workloads from it, as the image's WORKDIR.
ROOT = Path(__file__).resolve().parents[2]
# Where tools/install/*.sh cache the binaries they build, read once at import: some workloads set
# HOME for their own process later (the cache follows the install scripts' $HOME, not theirs).
CACHE = Path(os.environ.get("MLOPS_CACHE_DIR", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
                            / "mlops-platform"))


class ServerError(RuntimeError):
    """A server could not be started; the message says which, why, and ends with its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_binary(name: str, hint: str = "run `make test`, which installs it") -> str:
    path = shutil.which(name)
    if path is None:
        raise ServerError(f"{name} not found on PATH; {hint}")
    return path


def scratch_dir(prefix: str) -> Path:
    """A world-traversable temp dir: Postgres runs as another user and must reach its data."""
    path = Path(tempfile.mkdtemp(prefix=f"mlops-{prefix}-"))
    path.chmod(0o755)
    return path


def as_user(user: str, command: list[str]) -> list[str]:
    """Run `command` as `user` when we are root (Postgres refuses to run as root). `setpriv` execs
    the command in place, so the PID we hold is the server's own and stopping it is exact."""
    if os.geteuid() != 0:
        return command
    return ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--", *command]


@dataclass
class ManagedProcess:
    """A started executor plus its log file."""

    name: str
    executor: Executor
    log_path: Path

    @property
    def pid(self) -> int:
        return self.executor.process.pid

    def start(self) -> None:
        try:
            self.executor.start()
        except (TimeoutExpired, ProcessExitedWithError, AlreadyRunning, OSError) as error:
            if self.executor.running():
                self.executor.kill(wait=False)
            raise ServerError(f"{self.name} did not start: {error}\n--- last log lines ---\n{self.log_tail()}") from error

    def stop(self, any_exit: bool = False) -> None:
        """SIGTERM to the process group, then SIGKILL if it lingers. `any_exit`: a non-zero exit
        status on SIGTERM is still a clean stop (servers that report termination as failure)."""
        if self.executor.running():
            try:
                self.executor.stop()
            except ProcessFinishedWithError:
                if not any_exit:
                    raise

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.executor.running():
            self.executor.kill()

    def running(self) -> bool:
        return self.executor.running()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def log_file(directory: Path, name: str):
    return open(directory / f"{name}.log", "ab")  # noqa: SIM115 - owned by the executor's lifetime


class LocalServer:
    """Lifecycle shared by the local servers (dataclasses with `workdir` and `process`)."""

    workdir: Path
    process: ManagedProcess | None

    def stop(self) -> None:
        """Graceful stop, by PID."""
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        if self.process:
            self.process.kill()

    def destroy(self) -> None:
        """Stop and remove the server's files."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
