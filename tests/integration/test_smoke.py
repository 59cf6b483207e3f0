"""The post-deploy smoke CLI against real servers, and the failures it must name."""

from __future__ import annotations

import subprocess
import sys

from tools.servers.process import free_port
from tools.servers.seaweedfs import ROOT


def smoke(platform, *, mlflow_url=None, bucket=None, env_overrides=None, extra=()) -> subprocess.CompletedProcess:
    args = [
        sys.executable, "-m", "workloads.smoke",
        "--mlflow-url", mlflow_url or platform.mlflow.url,
        "--s3-endpoint", platform.object_store.endpoint,
        "--redis-url", f"redis://127.0.0.1:{platform.redis.port}/0",
    ]
    if bucket:
        args += ["--bucket", bucket]
    args += list(extra)
    env = {**platform.smoke_env(), **(env_overrides or {}), "PYTHONPATH": str(ROOT)}
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=180, cwd=ROOT)


def test_smoke_passes_against_the_real_servers(platform):
    result = smoke(platform)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    for check in ("mlflow-health", "mlflow-auth", "mlflow-proxied-artifacts", "mlflow-log-run", "mlflow-read-back", "s3-artifact", "redis-read-write"):
        assert any(line.startswith(f"ok   {check}:") for line in lines), (check, result.stdout)
    assert lines[-1] == "smoke: all 7 checks passed"
    assert len(lines) == 8, "one line per check and a verdict, nothing else on stdout"


def test_wrong_mlflow_password_fails_the_auth_check(platform):
    result = smoke(platform, env_overrides={"MLFLOW_TRACKING_PASSWORD": "wrong"})
    assert result.returncode == 1
    assert "FAIL mlflow-auth: user 'admin' rejected by" in result.stdout
    assert "mlflow-auth" in result.stderr


def test_stopped_mlflow_fails_naming_the_url(platform):
    url = f"http://127.0.0.1:{free_port()}"
    result = smoke(platform, mlflow_url=url)
    assert result.returncode == 1
    assert f"FAIL mlflow-health: cannot reach {url}/health" in result.stdout


def test_missing_bucket_fails_the_s3_check(platform):
    admin = platform.object_store.credentials("admin")
    result = smoke(platform, bucket="no-such-bucket", env_overrides=admin)
    assert result.returncode == 1
    assert "FAIL s3-artifact: s3://no-such-bucket/" in result.stdout
    assert "NoSuchBucket" in result.stdout


def test_wrong_redis_password_fails_the_redis_check(platform):
    result = smoke(platform, env_overrides={"REDIS_PASSWORD": "wrong"})
    assert result.returncode == 1
    assert "FAIL redis-read-write: Redis at redis://127.0.0.1:" in result.stdout


def test_missing_credentials_are_a_usage_error(platform):
    result = smoke(platform, env_overrides={"MLFLOW_TRACKING_PASSWORD": ""})
    assert result.returncode == 2
    assert "missing environment variables: MLFLOW_TRACKING_PASSWORD" in result.stderr
