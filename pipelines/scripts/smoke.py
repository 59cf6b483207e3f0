"""Run the platform's smoke CLI against a deployed stack from a pipeline agent.

The stack's URLs are cluster-internal, so this forwards each Service to 127.0.0.1 with
`kubectl port-forward`, reads the credentials the smoke checks need from the platform's Secrets
(into this process's environment only, never a command line or a log) and runs
`python -m workloads.smoke`. Inputs come from the deploy job's output variables, mapped to env:
MLFLOW_URL, S3_ENDPOINT, REDIS_HOST, FEATURE_SERVER_URL, NAMESPACE, SECRET_NAMES (JSON) and
MLFLOW_TRACKING_PASSWORD (a secret variable).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

REDIS_PORT = 6379


@dataclass(frozen=True)
class Forward:
    service: str
    port: int
    scheme: str

    def local_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}" if self.scheme else f"127.0.0.1:{self.port}"


def forward_for(url: str, namespace: str) -> Forward:
    """`http://mlflow.mlops.svc.cluster.local:5000` -> Service mlflow, port 5000."""
    parts = urlsplit(url if "://" in url else f"tcp://{url}")
    host = parts.hostname or ""
    service, _, domain = host.partition(".")
    if not service or not domain.startswith(f"{namespace}.svc"):
        raise ValueError(f"{url} is not a Service of namespace {namespace}")
    port = parts.port or (REDIS_PORT if parts.scheme == "tcp" else 80)
    return Forward(service, port, "" if parts.scheme == "tcp" else parts.scheme)


def secret_value(namespace: str, name: str, key: str) -> str:
    jsonpath = "{.data." + key.replace(".", "\\.") + "}"
    encoded = subprocess.run(["kubectl", "-n", namespace, "get", "secret", name, "-o", f"jsonpath={jsonpath}"],
                             check=True, capture_output=True, text=True).stdout
    return base64.b64decode(encoded).decode()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"port-forward to 127.0.0.1:{port} did not open in {timeout:.0f} s")
        time.sleep(0.3)


@contextlib.contextmanager
def port_forwards(namespace: str, forwards: list[Forward]) -> Iterator[None]:
    processes = [subprocess.Popen(["kubectl", "-n", namespace, "port-forward", f"svc/{f.service}", f"{f.port}:{f.port}"],
                                  stdout=subprocess.DEVNULL) for f in forwards]
    try:
        for forward in forwards:
            wait_for_port(forward.port)
        yield
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=10)


def smoke_command(mlflow_url: str, s3_endpoint: str, redis_url: str, *, artifacts_on_s3: bool = True,
                  feature_server_url: str | None = None) -> list[str]:
    """The smoke CLI's command line (credentials travel in its environment: MLFLOW_TRACKING_USERNAME
    and _PASSWORD, AWS_ACCESS_KEY_ID and _SECRET_ACCESS_KEY, REDIS_PASSWORD)."""
    command = ["python", "-m", "workloads.smoke", "--mlflow-url", mlflow_url, "--s3-endpoint", s3_endpoint,
               "--redis-url", redis_url, *([] if artifacts_on_s3 else ["--artifacts-not-on-s3"])]
    return command + (["--feature-server-url", feature_server_url] if feature_server_url else [])


def main() -> int:
    env = os.environ
    namespace = env["NAMESPACE"]
    secrets = json.loads(env["SECRET_NAMES"])
    targets = {"mlflow": env["MLFLOW_URL"], "s3": env["S3_ENDPOINT"], "redis": env["REDIS_HOST"]}
    if env.get("FEATURE_SERVER_URL"):
        targets["features"] = env["FEATURE_SERVER_URL"]
    forwards = {name: forward_for(url, namespace) for name, url in targets.items()}
    # MLflow's own S3 client reads the probe artifact back; without one, artifacts are in Azure Blob.
    on_s3 = "objectStoreMlflow" in secrets
    s3_client = secrets["objectStoreMlflow" if on_s3 else "objectStoreDrift"]
    smoke_env = {
        **env,
        "MLFLOW_TRACKING_USERNAME": "admin",
        "AWS_ACCESS_KEY_ID": secret_value(namespace, s3_client, "AWS_ACCESS_KEY_ID"),
        "AWS_SECRET_ACCESS_KEY": secret_value(namespace, s3_client, "AWS_SECRET_ACCESS_KEY"),
        "REDIS_PASSWORD": secret_value(namespace, secrets["redis"], "password"),
    }
    command = smoke_command(forwards["mlflow"].local_url(), forwards["s3"].local_url(),
                            f"redis://{forwards['redis'].local_url()}/0", artifacts_on_s3=on_s3,
                            feature_server_url=forwards["features"].local_url() if "features" in forwards else None)
    with port_forwards(namespace, list(forwards.values())):
        return subprocess.run([sys.executable, *command[1:]], env=smoke_env).returncode


if __name__ == "__main__":
    sys.exit(main())
