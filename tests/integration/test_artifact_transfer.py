"""Artifacts from where users stand: a client that reaches MLflow's port and nothing else.

A laptop behind `kubectl port-forward` or a pipeline agent cannot reach the in-cluster S3 address.
The server must never send such clients to presigned URLs (the proxied-artifacts plugin,
docs/decisions.md), and a large upload must stream to S3 rather than fill the pod's /tmp.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from platform_components.mlflow_plugin.proxied_artifacts import PART_SIZE, ProxiedS3ArtifactRepository
from tools.servers.process import ROOT, free_port

SIZE = 600 * 2**20  # above MLflow's 500 MiB multipart threshold
CHUNK = 8 * 2**20

# Runs in a child process whose proxy settings black-hole everything but MLflow's own port.
CLIENT = """
import hashlib, json, sys
import requests
from mlflow.tracking import MlflowClient

action, s3_endpoint, run_id, path = sys.argv[1:5]
try:
    requests.get(s3_endpoint, timeout=10)
    reached_s3 = True
except requests.exceptions.RequestException:
    reached_s3 = False
client = MlflowClient()
if action == "upload":
    client.log_artifact(run_id, path, "big")
    print(json.dumps({"reached_s3": reached_s3}))
else:
    local = client.download_artifacts(run_id, "big/payload.bin", path)
    digest = hashlib.sha256()
    with open(local, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    print(json.dumps({"reached_s3": reached_s3, "sha256": digest.hexdigest()}))
"""


def write_payload(path: Path) -> str:
    digest, block = hashlib.sha256(), os.urandom(CHUNK)
    with path.open("wb") as handle:
        for index in range(SIZE // CHUNK):
            chunk = block[:-8] + index.to_bytes(8, "big")  # no two chunks alike
            digest.update(chunk)
            handle.write(chunk)
    return digest.hexdigest()


def only_mlflow_env(platform) -> dict[str, str]:
    """The client's environment: MLflow's credentials, default transfer settings, and every other
    address sent to a proxy port where nothing listens. MLflow is reached as `localhost` (exempt
    from the proxy), S3 as 127.0.0.1 (requests matches NO_PROXY by name, not by port)."""
    dead_proxy = f"http://127.0.0.1:{free_port()}"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "AWS_"))
           and key.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
    assert "127.0.0.1" in platform.object_store.endpoint
    return {**env, **platform.mlflow.admin_env(), "MLFLOW_TRACKING_URI": f"http://localhost:{platform.mlflow.port}",
            "HTTP_PROXY": dead_proxy, "HTTPS_PROXY": dead_proxy, "NO_PROXY": "localhost", "PYTHONPATH": str(ROOT),
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}


def run_client(platform, action: str, run_id: str, path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CLIENT, action, platform.object_store.endpoint, run_id, str(path)],
                            env=only_mlflow_env(platform), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def directory_bytes(path: Path) -> int:
    """Bytes of the files under `path`, but the workers' Prometheus files (a fixed few hundred KiB
    of mmapped counters in `prometheus-metrics/`, not a spool)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        if Path(root).name == "prometheus-metrics":
            continue
        for name in files:
            with contextlib.suppress(FileNotFoundError):  # a spool file removed while walking
                total += (Path(root) / name).stat().st_size
    return total


class PeakUsage(threading.Thread):
    """The most bytes `path` held while running, sampled every 50 ms."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.path, self.peak, self.done = path, 0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.05):
            self.peak = max(self.peak, directory_bytes(self.path))


def test_the_server_advertises_no_presigned_transfers(platform):
    response = requests.get(f"{platform.mlflow.url}/api/3.0/mlflow/server-info", auth=platform.mlflow.admin, timeout=30)
    assert response.status_code == 200, response.text[:300]
    info = response.json()
    assert info.get("multipart_uploads_enabled") is False and info.get("multipart_downloads_enabled") is False, info


def test_a_600_mib_artifact_goes_through_mlflow_alone_and_comes_back_identical(platform, mlflow_login, tmp_path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    experiment = client.create_experiment(f"artifact-transfer-{free_port()}")
    run_id = client.create_run(experiment).info.run_id
    payload = tmp_path / "payload.bin"
    expected = write_payload(payload)

    scratch = platform.mlflow.workdir / "tmp"
    watcher = PeakUsage(scratch)
    watcher.start()
    try:
        uploaded = run_client(platform, "upload", run_id, payload)
    finally:
        watcher.done.set()
        watcher.join()
    payload.unlink()
    assert uploaded["reached_s3"] is False, "the black hole let the client reach S3: the test proves nothing"
    assert watcher.peak < 64 * 2**20, f"the upload was spooled: the server's scratch held {watcher.peak} bytes"

    spool = PeakUsage(scratch)
    spool.start()
    try:
        downloaded = run_client(platform, "download", run_id, tmp_path / "back")
    finally:
        spool.done.set()
        spool.join()
    assert downloaded == {"reached_s3": False, "sha256": expected}
    # MLflow spools a proxied download whole: this is the directory mlflowScratchSize sizes.
    assert spool.peak >= SIZE, f"the download was not spooled where expected: peak {spool.peak} bytes"
    assert directory_bytes(scratch) == 0, "the download's spool file outlived the response"


def test_a_cut_off_streamed_upload_leaves_no_object_and_no_pending_parts(platform, monkeypatch):
    """The plugin's streaming path on its own: a client that disconnects after two parts."""
    credentials = platform.object_store.credentials("mlflow")
    for key, value in {**credentials, "MLFLOW_S3_ENDPOINT_URL": platform.object_store.endpoint,
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    prefix = f"cut-off-{free_port()}"
    repository = ProxiedS3ArtifactRepository(f"s3://mlflow-artifacts/{prefix}")

    async def cut_off():
        for _ in range(2):
            yield os.urandom(PART_SIZE)
        raise ConnectionResetError("client went away")

    async def whole():
        yield b"small"

    # A loop of our own: asyncio.run() would leave the main thread without a current event loop,
    # which Pulumi's mocks in later tests of the same session need.
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ConnectionResetError):
            loop.run_until_complete(repository.log_artifact_from_async_stream(cut_off(), "big.bin", "dir"))
        loop.run_until_complete(repository.log_artifact_from_async_stream(whole(), "small.json", "dir"))
    finally:
        loop.close()

    s3 = boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}),
                      **{key.lower(): value for key, value in credentials.items()})
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket="mlflow-artifacts", Prefix=prefix).get("Contents", [])]
    assert keys == [f"{prefix}/dir/small.json"]
    head = s3.head_object(Bucket="mlflow-artifacts", Key=f"{prefix}/dir/small.json")
    assert head["ContentType"] == "application/json"
    pending = s3.list_multipart_uploads(Bucket="mlflow-artifacts", Prefix=prefix).get("Uploads", [])
    assert pending == []
