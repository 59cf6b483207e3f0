"""A real Kubernetes control plane on loopback: etcd, kube-apiserver (Pod Security admission and
RBAC on, as in any current cluster), kube-controller-manager, kube-scheduler, and kwok simulating
one minikube-sized node (see tools/cluster/kwok.py). Every port is a free 127.0.0.1 port; every
process is stopped by its PID; logs stay in the work directory for failures.

Usage: `with LocalCluster() as cluster: ... cluster.kubeconfig ... cluster.kubectl("get", "pods")`.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from mirakuru import SimpleExecutor, TCPExecutor

from tools.cluster.binaries import control_plane_binary, kwok_binary
from tools.cluster.kwok import NodeSize, kwok_config, minikube_system_pods, node_manifest, storage_class_manifest
from tools.servers.process import ManagedProcess, ServerError, free_port, log_file

NODE_NAME = "minikube"
SERVICE_CIDR = "10.96.0.0/16"
START_TIMEOUT = 90  # seconds, for each component


@dataclass
class LocalCluster:
    # Private (0700): it holds the admin token, the kubeconfig and the service-account key.
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mlops-cluster-")))
    node: NodeSize = field(default_factory=NodeSize)
    nodes: int = 1  # one is named `minikube`; more are `node-1`, `node-2`, ...
    processes: list[ManagedProcess] = field(default_factory=list)
    token: str = field(default_factory=lambda: secrets.token_hex(24))
    apiserver_port: int = 0

    @property
    def kubeconfig(self) -> Path:
        return self.workdir / "kubeconfig"

    @property
    def node_names(self) -> list[str]:
        return [NODE_NAME] if self.nodes == 1 else [f"node-{i}" for i in range(1, self.nodes + 1)]

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.apiserver_port}"

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        """Start every component and wait until the node is Ready and the StorageClass exists.

        Raises ServerError naming the component that did not start, with the end of its log."""
        try:
            self._keys()
            etcd_port = self._etcd()
            self._apiserver(etcd_port)
            self._write_kubeconfig()
            self._controller_manager()
            self._scheduler()
            self._kwok()
            self._node()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """SIGTERM each component (last started first), by PID; the work directory and logs stay.
        Some exit non-zero on SIGTERM (kube-scheduler: "finished without leader elect"); that is a stop."""
        first_error = None
        for process in reversed(self.processes):
            try:
                process.stop(any_exit=True)
            except Exception as error:  # still stop the others; this one by SIGKILL
                process.kill()
                first_error = first_error or error
        self.processes.clear()
        if first_error:
            raise first_error

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        command = [control_plane_binary("kubectl"), f"--kubeconfig={self.kubeconfig}", *args]
        result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False, timeout=120)
        if check and result.returncode != 0:
            raise ServerError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
        return result

    def apply(self, *objects: dict) -> None:
        self.kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(objects))

    def get(self, *args: str) -> dict:
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def logs(self) -> str:
        """The end of every component's log, for a failing test's report."""
        return "\n".join(f"--- {p.name} ---\n{p.log_tail(15)}" for p in self.processes)

    # --- components -------------------------------------------------------------------------

    def _keys(self) -> None:
        """The service-account signing key pair and the admin's static bearer token."""
        pki = self.workdir / "pki"
        pki.mkdir()
        subprocess.run(["openssl", "genrsa", "-out", str(pki / "sa.key"), "2048"], check=True, capture_output=True)
        subprocess.run(["openssl", "rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub")],
                       check=True, capture_output=True)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{self.token},admin,admin,"system:masters"\n')
        tokens.chmod(0o600)

    def _run(self, name: str, command: list[str], executor: type = SimpleExecutor, **kwargs) -> ManagedProcess:
        process = ManagedProcess(name, executor(command, timeout=START_TIMEOUT, stdout=log_file(self.workdir, name),
                                                stderr=subprocess.STDOUT, **kwargs), self.workdir / f"{name}.log")
        process.start()
        self.processes.append(process)
        return process

    def _etcd(self) -> int:
        client, peer = free_port(), free_port()
        self._run("etcd", [
            control_plane_binary("etcd"), "--name=local", f"--data-dir={self.workdir / 'etcd'}",
            f"--listen-client-urls=http://127.0.0.1:{client}", f"--advertise-client-urls=http://127.0.0.1:{client}",
            f"--listen-peer-urls=http://127.0.0.1:{peer}", f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            f"--initial-cluster=local=http://127.0.0.1:{peer}", "--unsafe-no-fsync", "--log-level=warn",
        ], TCPExecutor, host="127.0.0.1", port=client)
        return client

    def _apiserver(self, etcd_port: int) -> None:
        self.apiserver_port = free_port()
        pki = self.workdir / "pki"
        self._run("kube-apiserver", [
            control_plane_binary("kube-apiserver"), f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", f"--secure-port={self.apiserver_port}",
            f"--cert-dir={pki}", f"--token-auth-file={self.workdir / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}", f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            # Endpoints may not hold a loopback address; nothing in the cluster calls the API by Service.
            "--endpoint-reconciler-type=none", "--profiling=false",
        ])
        self._wait("kube-apiserver", self._apiserver_ready)

    def _apiserver_ready(self) -> bool:
        import requests  # noqa: PLC0415 - only this check needs it

        try:
            answer = requests.get(f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.token}"},
                                  verify=str(self.workdir / "pki" / "apiserver.crt"), timeout=5)
        except OSError:  # requests.RequestException is one too; so is a cert file not written yet
            return False
        return answer.status_code == 200

    def _write_kubeconfig(self) -> None:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "local", "cluster": {
                "server": self.server,
                # The self-signed bundle the API server wrote (its CA and serving certificate).
                "certificate-authority": str(self.workdir / "pki" / "apiserver.crt"),
            }}],
            "users": [{"name": "admin", "user": {"token": self.token}}],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(yaml.safe_dump(config))
        self.kubeconfig.chmod(0o600)

    def _controller_manager(self) -> None:
        pki = self.workdir / "pki"
        self._run("kube-controller-manager", [
            control_plane_binary("kube-controller-manager"), f"--kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--leader-elect=false",
            f"--service-account-private-key-file={pki / 'sa.key'}", f"--root-ca-file={pki / 'apiserver.crt'}",
            "--use-service-account-credentials=false", "--profiling=false",
        ])

    def _scheduler(self) -> None:
        self._run("kube-scheduler", [
            control_plane_binary("kube-scheduler"), f"--kubeconfig={self.kubeconfig}",
            f"--authentication-kubeconfig={self.kubeconfig}", f"--authorization-kubeconfig={self.kubeconfig}",
            "--bind-address=127.0.0.1", f"--secure-port={free_port()}", "--leader-elect=false", "--profiling=false",
        ])

    def _kwok(self) -> None:
        binary = kwok_binary()
        config = self.workdir / "kwok.yaml"
        config.write_text(kwok_config(Path(f"{binary}-stages")))
        self._run("kwok", [
            str(binary), f"--kubeconfig={self.kubeconfig}", f"--config={config}",
            "--manage-all-nodes=false", "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--server-address=127.0.0.1:{free_port()}",
        ])

    def _node(self) -> None:
        self.apply(storage_class_manifest(), *(node_manifest(name, self.node) for name in self.node_names))
        self._wait("the kwok nodes", lambda: self.kubectl(
            "wait", "node", "--all", "--for=condition=Ready", "--timeout=5s", check=False).returncode == 0)
        self._wait("the default service account", lambda: self.kubectl(
            "get", "serviceaccount", "default", "-n", "kube-system", check=False).returncode == 0)
        self.apply(*minikube_system_pods())

    def _wait(self, what: str, ready, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            dead = [p for p in self.processes if not p.running()]
            if dead:
                raise ServerError(f"{dead[0].name} exited while waiting for {what}\n{dead[0].log_tail()}")
            time.sleep(0.5)
        raise ServerError(f"{what} not ready after {timeout:.0f} s\n{self.logs()}")
