"""Rendered Deployments run as pods with `podman play kube`, from the workloads image.

The kubelet's part that a manifest can get wrong (volumes, the security context, probes' paths
and port names, the command and its env) is exercised on the manifest itself. What differs from
the cluster is only where the servers are: each pod has its own network namespace (slirp4netns)
whose 10.0.2.2 is the host's loopback, named `host.containers.internal` by a hostAlias, so the
local servers on 127.0.0.1 are reachable; the env values and flags that carry the cluster's
Service URLs are replaced by the local ones; each named container port is published on a free
host loopback port (as `kubectl port-forward` would). Secrets become podman secrets, whose
content podman 4.3 reads as a JSON object of base64 values.

podman 4.3 plays one pod per Deployment (`<name>-pod-0`, containers `<name>-pod-0-<container>`),
restarts crashed containers (restartPolicy Always) and does not gate anything on readiness: a
test reads the readiness probe's path from the manifest and polls it on the published port.
"""

from __future__ import annotations

import base64
import copy
import json
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from platform_components.k8s import Manifest
from tools.servers.process import ServerError, scratch_dir

CONTAINER_HOST = "host.containers.internal"  # the host's loopback, as the pods see it
HOST_LOOPBACK = "10.0.2.2"  # slirp4netns' address for the host with allow_host_loopback
POD_NETWORK = "slirp4netns:allow_host_loopback=true"


def from_pod(url: str) -> str:
    """A local server's URL as a pod reaches it."""
    return url.replace("127.0.0.1", CONTAINER_HOST).replace("localhost", CONTAINER_HOST)


def local_deployment(deployment: Manifest, *, env: Mapping[str, str] = {}, flags: Mapping[str, str] = {},
                     published: Mapping[str, int] = {}) -> Manifest:
    """`deployment` as the test plays it: `env` replaces the values of those variables, `flags`
    the value after each of those flags on the command line, `published` maps a container port
    name to the host loopback port it is published on. A flag or variable the manifest lacks is
    an error (the test would otherwise pass on a manifest that no longer says what it assumes)."""
    played = copy.deepcopy(deployment)
    pod = played["spec"]["template"]["spec"]
    pod["hostAliases"] = [*pod.get("hostAliases", []), {"ip": HOST_LOOPBACK, "hostnames": [CONTAINER_HOST]}]
    seen: set[str] = set()
    for container in pod["containers"]:
        for variable in container.get("env", []):
            if variable["name"] in env:
                variable["value"] = env[variable["name"]]
                seen.add(variable["name"])
        command = container.get("command", []) + container.get("args", [])
        for flag, value in flags.items():
            if flag in command:
                command[command.index(flag) + 1] = value
                seen.add(flag)
        container["command"], container["args"] = command, []
        for port in container.get("ports", []):
            if port.get("name") in published:
                port.update(hostPort=published[port["name"]], hostIP="127.0.0.1")
                seen.add(port["name"])
    missing = (set(env) | set(flags) | set(published)) - seen
    if missing:
        raise ValueError(f"{deployment['metadata']['name']}: the manifest has no {sorted(missing)}")
    return played


def podman_secret(values: Mapping[str, str]) -> str:
    return json.dumps({key: base64.b64encode(value.encode()).decode() for key, value in values.items()})


@dataclass
class PlayedPods:
    """`podman play kube` of `documents` (Deployments and the ConfigMaps they mount), with
    `secrets` (name -> key -> value) created as podman secrets first."""

    documents: list[Manifest]
    secrets: Mapping[str, Mapping[str, str]]
    workdir: Path = field(default_factory=lambda: scratch_dir("pods"))
    started: bool = False

    @property
    def kube_file(self) -> Path:
        return self.workdir / "pods.yaml"

    def start(self) -> PlayedPods:
        self.kube_file.write_text(yaml.safe_dump_all(self.documents, sort_keys=False))
        for name, values in self.secrets.items():
            source = self.workdir / f"secret-{name}.json"
            source.write_text(podman_secret(values))
            source.chmod(0o600)
            subprocess.run(["podman", "secret", "rm", name], capture_output=True)
            created = subprocess.run(["podman", "secret", "create", name, str(source)], capture_output=True, text=True)
            source.unlink()
            if created.returncode != 0:
                raise ServerError(f"podman secret {name}: {created.stderr}")
        self.started = True
        played = subprocess.run(["podman", "play", "kube", "--replace", "--network", POD_NETWORK, str(self.kube_file)],
                                capture_output=True, text=True, timeout=600)
        if played.returncode != 0:
            raise ServerError(f"podman play kube failed:\n{played.stdout}{played.stderr}")
        return self

    @staticmethod
    def container(deployment: str, container: str) -> str:
        return f"{deployment}-pod-0-{container}"

    def inspect(self, deployment: str, container: str) -> dict:
        result = subprocess.run(["podman", "inspect", self.container(deployment, container)],
                                capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise ServerError(result.stderr)
        return json.loads(result.stdout)[0]

    def logs(self, deployment: str, container: str) -> str:
        result = subprocess.run(["podman", "logs", self.container(deployment, container)],
                                capture_output=True, text=True, timeout=60)
        return result.stdout + result.stderr

    def wait_ready(self, deployment: str, container: str, url: str, timeout: float = 240) -> None:
        """Poll `url` (the readiness probe's path on the published port) until it answers 200; a
        container that exits or restarts meanwhile fails at once, with its log."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.inspect(deployment, container)
            if state["RestartCount"] or not state["State"]["Running"]:
                raise ServerError(f"{deployment}/{container} is not running (restarts: {state['RestartCount']}, "
                                  f"exit {state['State']['ExitCode']}):\n{self.logs(deployment, container)[-4000:]}")
            try:
                if requests.get(url, timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise ServerError(f"{deployment}/{container}: {url} not ready in {timeout:.0f} s:\n"
                                  f"{self.logs(deployment, container)[-4000:]}")
            time.sleep(1)

    def destroy(self) -> None:
        """Tear the pods down and remove the secrets and files."""
        if self.started:
            subprocess.run(["podman", "play", "kube", "--down", str(self.kube_file)], capture_output=True, timeout=300)
            # A pod whose start failed half-way has no containers, and `--down` leaves it behind.
            for document in self.documents:
                if document["kind"] == "Deployment":
                    subprocess.run(["podman", "pod", "rm", "--force", f"{document['metadata']['name']}-pod-0"],
                                   capture_output=True, timeout=120)
            for name in self.secrets:
                subprocess.run(["podman", "secret", "rm", name], capture_output=True, timeout=60)
        shutil.rmtree(self.workdir, ignore_errors=True)
