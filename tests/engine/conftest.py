"""The engine tier: `pulumi up`/`preview`/`destroy` of the stacks with the real Pulumi engine and
Kubernetes provider (tools/engine.py) against a real Kubernetes control plane on loopback
(tools/cluster). A cluster or binary that cannot start fails the tests with its log; nothing is
skipped."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tools.cluster.control_plane import LocalCluster
from tools.cluster.kwok import NodeSize
from tools.servers.process import ROOT, ServerError

# Where the ingress controller would publish the Ingress's address; the tests play that controller.
PUBLISHED_ADDRESS = "127.0.0.1"


@dataclass
class EngineResult:
    ok: bool
    changes: dict[str, int]
    outputs: dict
    error: str
    log: str  # the engine's own output

    @property
    def modified(self) -> dict[str, int]:
        """Creates, updates, replaces and deletes: all but unchanged resources and reads (the
        program's StackReference to its own last deployment is read every time)."""
        return {op: n for op, n in self.changes.items() if op not in ("same", "read")}

    def __str__(self) -> str:
        return f"ok={self.ok} changes={self.changes}\nerror: {self.error[-3000:]}\nlog: {self.log[-3000:]}"


@dataclass
class EngineStack:
    """One stack of the project, deployed by the real engine to `cluster`; state lives in `workdir`."""

    name: str
    cluster: LocalCluster
    workdir: Path

    def run(self, operation: str, **settings: object) -> EngineResult:
        command = [sys.executable, "-m", "tools.engine", operation, "--stack", self.name,
                   "--kubeconfig", str(self.cluster.kubeconfig), "--workdir", str(self.workdir)]
        for key, value in settings.items():
            command += ["--set", f"{key}={json.dumps(value) if not isinstance(value, str) else value}"]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500, check=False)
        lines = done.stdout.strip().splitlines()
        try:
            result = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            pytest.fail(f"tools.engine {operation} gave no result (exit {done.returncode}):\n"
                        f"{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
        return EngineResult(result["ok"], result["changes"], result["outputs"], result["error"], done.stderr)

    def up(self, **settings: object) -> EngineResult:
        result = self.run("up", **settings)
        assert result.ok, f"{result}\n{self.cluster.logs()}"
        return result


class IngressController(threading.Thread):
    """Publishes an address in every Ingress's status, as an ingress controller does once it serves
    the Ingress (ingress-nginx with --publish-status-address): kwok runs no controller."""

    def __init__(self, cluster: LocalCluster):
        super().__init__(daemon=True, name="ingress-status")
        self.cluster, self.stopping = cluster, threading.Event()

    def run(self) -> None:
        status = json.dumps({"status": {"loadBalancer": {"ingress": [{"ip": PUBLISHED_ADDRESS}]}}})
        while not self.stopping.wait(1):
            found = self.cluster.kubectl("get", "ingress", "-A", "-o", "json", check=False)
            if found.returncode != 0:
                continue
            for item in json.loads(found.stdout)["items"]:
                if not (item.get("status", {}).get("loadBalancer") or {}).get("ingress"):
                    meta = item["metadata"]
                    self.cluster.kubectl("patch", "ingress", meta["name"], "-n", meta["namespace"],
                                         "--subresource=status", "--type=merge", "-p", status, check=False)


def started(cluster: LocalCluster, session: pytest.Session) -> Iterator[LocalCluster]:
    """The running cluster; stopped after the module's tests, its files (logs, etcd) kept if one failed."""
    failed_before = session.testsfailed
    try:
        cluster.start()
    except ServerError as error:
        pytest.fail(f"the local control plane did not start (logs in {cluster.workdir}):\n{error}")
    controller = IngressController(cluster)
    controller.start()
    yield cluster
    controller.stopping.set()
    controller.join()
    if session.testsfailed == failed_before:
        cluster.destroy()
    else:
        cluster.stop()
        print(f"\nlocal cluster logs kept in {cluster.workdir}")


@pytest.fixture(scope="module")
def minikube_sized(request) -> Iterator[LocalCluster]:
    """One node like a default `minikube start` (tools/cluster/kwok.py), minikube's own pods on it."""
    yield from started(LocalCluster(), request.session)


@pytest.fixture(scope="module")
def small_cluster(request) -> Iterator[LocalCluster]:
    """Three nodes of 4 CPUs and 16 GiB: an existing cluster of the size ha-example asks for."""
    yield from started(LocalCluster(node=NodeSize(cpu="4", memory="16Gi"), nodes=3), request.session)


def kinds(cluster: LocalCluster, namespace: str, kind: str) -> list[dict]:
    return cluster.get(kind, "-n", namespace)["items"]


def condition(item: dict, kind: str) -> str | None:
    return next((c["status"] for c in item.get("status", {}).get("conditions", []) if c["type"] == kind), None)
