"""The README's local loop with ports other programs hold: the servers refuse a taken port at once
(exit 2, saying so), and `python -m tools.ready` accepts only the server it was told about."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tools.ready import owns_port, wait
from tools.servers.process import free_port
from workloads.cli import UsageError, require_free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def taken():
    """A port another program listens on."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield other.getsockname()[1]


def test_a_taken_port_is_a_usage_error_naming_it(taken):
    with pytest.raises(UsageError, match=f"port {taken} on 127.0.0.1 is in use .*choose another --port"):
        require_free_port("127.0.0.1", taken)
    require_free_port("127.0.0.1", free_port())


@pytest.mark.parametrize("command", [["workloads.serving", "serve", "--model", "churn"],
                                     ["workloads.features", "serve", "--config-dir", "/nonexistent", "--repo-dir", "/nonexistent"]])
def test_the_servers_refuse_a_taken_port_before_anything_else(taken, command):
    done = subprocess.run([sys.executable, "-m", *command, "--port", str(taken)], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr[-2000:]
    assert f"port {taken} on 127.0.0.1 is in use" in done.stderr


def http_server(port: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)


def test_ready_waits_for_the_process_it_was_given_and_no_other():
    port = free_port()
    ours, bystander = http_server(port), subprocess.Popen(["sleep", "60"])
    try:
        assert wait(ours.pid, f"http://127.0.0.1:{port}/", timeout=30) is None
        assert owns_port(ours.pid, port) and not owns_port(bystander.pid, port)
        problem = wait(bystander.pid, f"http://127.0.0.1:{port}/", timeout=30)
        assert problem == (f"http://127.0.0.1:{port}/ answers, but not from process {bystander.pid}: another "
                           f"program listens on port {port}; start the server on another port")
    finally:
        for process in (ours, bystander):
            process.terminate()
            process.wait(timeout=30)


def test_ready_fails_at_once_when_the_server_exits(tmp_path):
    log = tmp_path / "server.log"
    log.write_text("started\nport 8080 on 127.0.0.1 is in use\n")
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(2)"])
    dead.wait(timeout=30)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "tools.ready", "--pid", str(dead.pid), "--log", str(log),
                           f"http://127.0.0.1:{free_port()}/ping"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert done.returncode == 1 and time.monotonic() - started < 30
    assert f"not ready: process {dead.pid} has exited" in done.stderr and "is in use" in done.stderr
