"""The smoke checks. Each returns a short detail or raises CheckFailed saying what and where."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import redis
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from workloads.experiments import ensure_experiment

TIMEOUT = 10  # seconds per HTTP request: a smoke test must fail fast, never hang a pipeline


class CheckFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Target:
    mlflow_url: str
    s3_endpoint: str
    redis_url: str
    bucket: str
    mlflow_username: str
    mlflow_password: str
    aws_access_key_id: str
    aws_secret_access_key: str
    redis_password: str | None
    feature_server_url: str | None = None
    feature_service: str = "churn_model_v1"
    artifacts_on_s3: bool = True  # False when MLflow keeps artifacts elsewhere (Azure Blob)


@dataclass
class LoggedRun:
    """Filled by the logging check, read by the read-back and S3 checks."""

    run_id: str = ""
    experiment_id: str = ""
    artifact_name: str = ""
    artifact_bytes: bytes = b""


def _api(target: Target, path: str, auth: bool = True) -> requests.Response:
    url = f"{target.mlflow_url.rstrip('/')}{path}"
    credentials = (target.mlflow_username, target.mlflow_password) if auth else None
    try:
        return requests.get(url, auth=credentials, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise CheckFailed(f"cannot reach {url}: {error.__class__.__name__}: {error}") from None


def mlflow_health(target: Target, run: LoggedRun) -> str:
    response = _api(target, "/health", auth=False)
    if response.status_code != 200:
        raise CheckFailed(f"{target.mlflow_url}/health answered {response.status_code}")
    return f"{target.mlflow_url}/health OK"


def mlflow_auth(target: Target, run: LoggedRun) -> str:
    path = "/api/2.0/mlflow/experiments/search?max_results=1"
    anonymous = _api(target, path, auth=False)
    if anonymous.status_code != 401:
        raise CheckFailed(f"unauthenticated request to {target.mlflow_url} got {anonymous.status_code}, expected 401")
    authenticated = _api(target, path)
    if authenticated.status_code != 200:
        raise CheckFailed(
            f"user {target.mlflow_username!r} rejected by {target.mlflow_url} ({authenticated.status_code}): "
            "check the MLflow credentials"
        )
    return "anonymous 401, credentials accepted"


def mlflow_proxied_artifacts(target: Target, run: LoggedRun) -> str:
    """Clients outside the cluster reach MLflow only: the server must not send them to presigned
    URLs for its storage. If the proxied-artifacts plugin failed to load, MLflow only warns and
    falls back to its own S3 repository, which advertises them (docs/decisions.md)."""
    response = _api(target, "/api/3.0/mlflow/server-info")
    if response.status_code != 200:
        raise CheckFailed(f"{target.mlflow_url}/api/3.0/mlflow/server-info answered {response.status_code}")
    info = response.json()
    advertised = [key for key in ("multipart_uploads_enabled", "multipart_downloads_enabled") if info.get(key)]
    if advertised:
        raise CheckFailed(f"{target.mlflow_url} advertises {', '.join(advertised)}: clients would move artifacts "
                          "through presigned storage URLs they cannot reach; the proxied-artifacts plugin did not load "
                          "(look for 'Failure attempting to register artifact repository' in the server log)")
    return "no presigned transfers: artifacts go through the server"


def _client(target: Target):
    os.environ.update(
        MLFLOW_TRACKING_USERNAME=target.mlflow_username,
        MLFLOW_TRACKING_PASSWORD=target.mlflow_password,
        MLFLOW_HTTP_REQUEST_TIMEOUT=str(TIMEOUT),
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="1",
    )
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=target.mlflow_url)


def mlflow_log_run(target: Target, run: LoggedRun) -> str:
    from mlflow.exceptions import MlflowException

    client = _client(target)
    try:
        run.experiment_id = ensure_experiment(client, "smoke-test")
        created = client.create_run(run.experiment_id, tags={"mlops.smoke": "true"})
        run.run_id = created.info.run_id
        client.log_param(run.run_id, "probe", "smoke")
        for step in range(3):
            client.log_metric(run.run_id, "probe_metric", step * 0.5, step=step)
        run.artifact_name = f"smoke-{uuid.uuid4().hex}.txt"
        run.artifact_bytes = os.urandom(2048)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / run.artifact_name
            path.write_bytes(run.artifact_bytes)
            client.log_artifact(run.run_id, str(path))
        client.set_terminated(run.run_id)
    except MlflowException as error:
        raise CheckFailed(f"logging a run to {target.mlflow_url} failed: {error.message[:500]}") from None
    return f"run {run.run_id} in experiment {run.experiment_id}"


def mlflow_read_back(target: Target, run: LoggedRun) -> str:
    from mlflow.exceptions import MlflowException

    if not run.run_id:
        raise CheckFailed("no run was logged")
    client = _client(target)
    try:
        fetched = client.get_run(run.run_id)
        history = client.get_metric_history(run.run_id, "probe_metric")
        with tempfile.TemporaryDirectory() as tmp:
            downloaded = Path(client.download_artifacts(run.run_id, run.artifact_name, tmp)).read_bytes()
    except MlflowException as error:
        raise CheckFailed(f"reading run {run.run_id} back from {target.mlflow_url} failed: {error.message[:500]}") from None
    if fetched.data.params.get("probe") != "smoke":
        raise CheckFailed(f"param 'probe' read back as {fetched.data.params.get('probe')!r}")
    if [m.value for m in sorted(history, key=lambda m: m.step)] != [0.0, 0.5, 1.0]:
        raise CheckFailed(f"metric history read back as {[m.value for m in history]}")
    if downloaded != run.artifact_bytes:
        raise CheckFailed(f"artifact {run.artifact_name} differs after download")
    return "param, 3 metric points and artifact bytes match"


def s3_artifact(target: Target, run: LoggedRun) -> str:
    if not run.run_id:
        raise CheckFailed("no run was logged")
    s3 = boto3.client(
        "s3",
        endpoint_url=target.s3_endpoint,
        aws_access_key_id=target.aws_access_key_id,
        aws_secret_access_key=target.aws_secret_access_key,
        region_name="us-east-1",
        config=Config(connect_timeout=TIMEOUT, read_timeout=TIMEOUT, retries={"max_attempts": 2},
                      s3={"addressing_style": "path"}),
    )
    key = f"{run.experiment_id}/{run.run_id}/artifacts/{run.artifact_name}"
    try:
        body = s3.get_object(Bucket=target.bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        raise CheckFailed(f"s3://{target.bucket}/{key} at {target.s3_endpoint}: {code}") from None
    except BotoCoreError as error:
        raise CheckFailed(f"cannot reach S3 at {target.s3_endpoint}: {error}") from None
    if body != run.artifact_bytes:
        raise CheckFailed(f"s3://{target.bucket}/{key} holds different bytes than were logged")
    return f"s3://{target.bucket}/{key}"


def redis_read_write(target: Target, run: LoggedRun) -> str:
    client = redis.Redis.from_url(target.redis_url, password=target.redis_password,
                                  socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    key, value = f"mlops:smoke:{uuid.uuid4().hex}", uuid.uuid4().hex
    try:
        started = time.perf_counter()
        client.set(key, value, ex=60)
        read = client.get(key)
        client.delete(key)
    except redis.RedisError as error:
        raise CheckFailed(f"Redis at {_redact(target.redis_url)}: {error.__class__.__name__}: {error}") from None
    finally:
        client.close()
    if read is None or read.decode() != value:
        raise CheckFailed(f"Redis at {_redact(target.redis_url)} returned {read!r} for the key just written")
    return f"set/get/delete in {(time.perf_counter() - started) * 1000:.1f} ms"


def feature_server(target: Target, run: LoggedRun) -> str:
    """The feature server answers for the model's feature service (values may still be empty)."""
    url = f"{target.feature_server_url.rstrip('/')}/get-online-features"
    try:
        response = requests.post(url, timeout=TIMEOUT, json={"feature_service": target.feature_service,
                                                             "entities": {"customer_id": [0]}})
    except requests.RequestException as error:
        raise CheckFailed(f"cannot reach {url}: {error.__class__.__name__}: {error}") from None
    if response.status_code != 200:
        raise CheckFailed(f"{url} answered {response.status_code}: {response.text[:200]}")
    names = response.json().get("metadata", {}).get("feature_names", [])
    if len(names) < 2:
        raise CheckFailed(f"{url} returned no features for the service {target.feature_service}: {names}")
    return f"{target.feature_service}: {len(names) - 1} features"


def _redact(url: str) -> str:
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"


CHECKS = [
    ("mlflow-health", mlflow_health),
    ("mlflow-auth", mlflow_auth),
    ("mlflow-proxied-artifacts", mlflow_proxied_artifacts),
    ("mlflow-log-run", mlflow_log_run),
    ("mlflow-read-back", mlflow_read_back),
    ("s3-artifact", s3_artifact),
    ("redis-read-write", redis_read_write),
]
OPTIONAL_CHECKS = [("feature-server", feature_server, "feature_server_url")]


def checks_for(target: Target) -> list:
    """The always-run checks plus the optional ones whose endpoint was given. Off S3, the artifact
    bytes are still checked end to end by mlflow-read-back, through the server."""
    always = [(name, check) for name, check in CHECKS if target.artifacts_on_s3 or name != "s3-artifact"]
    return always + [(name, check) for name, check, needs in OPTIONAL_CHECKS if getattr(target, needs)]
