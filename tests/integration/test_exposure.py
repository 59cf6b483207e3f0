"""Auth and exposure: nothing answers without the generated credentials."""

from __future__ import annotations

import socket

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

SEARCH = "/api/2.0/mlflow/experiments/search?max_results=1"


def test_mlflow_rejects_unauthenticated_requests(platform):
    assert requests.get(platform.mlflow.url + SEARCH, timeout=10).status_code == 401


def test_mlflow_rejects_the_default_admin_password(platform):
    response = requests.get(platform.mlflow.url + SEARCH, auth=("admin", "password1234"), timeout=10)
    assert response.status_code == 401


def test_mlflow_accepts_the_generated_admin_credentials(platform):
    response = requests.get(platform.mlflow.url + SEARCH, auth=platform.mlflow.admin, timeout=10)
    assert response.status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:5000", "localhost.attacker.example",
                                  "127.0.0.1.attacker.example:80", "localhost:evil"])
def test_mlflow_rejects_a_foreign_host_header(platform, host):
    """The allow-list exists against DNS rebinding: any name but its own and loopback is refused."""
    response = requests.get(platform.mlflow.url + SEARCH, auth=platform.mlflow.admin, headers={"Host": host}, timeout=10)
    assert response.status_code in (400, 403), response.status_code


@pytest.mark.parametrize("host", ["localhost:8080", "127.0.0.1:15000", "[::1]:5000", "localhost", "mlflow.local:5000"])
def test_mlflow_accepts_loopback_on_any_port_and_its_service_names(platform, host):
    """`kubectl port-forward svc/mlflow 8080:5000` (or any local port) sends these."""
    response = requests.get(platform.mlflow.url + SEARCH, auth=platform.mlflow.admin, headers={"Host": host}, timeout=10)
    assert response.status_code == 200, (host, response.status_code, response.text[:200])


def test_health_needs_no_credentials(platform):
    response = requests.get(platform.mlflow.url + "/health", timeout=10)
    assert (response.status_code, response.text.strip()) == (200, "OK")


def _s3(platform, **kwargs):
    return boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1", **kwargs)


@pytest.mark.parametrize("bucket", ["mlflow-artifacts", "monitoring", "features", "backups", "predictions"])
def test_anonymous_s3_access_is_denied(platform, bucket):
    anonymous = _s3(platform, config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))
    with pytest.raises(ClientError) as listing:
        anonymous.list_objects_v2(Bucket=bucket)
    assert listing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as upload:
        anonymous.put_object(Bucket=bucket, Key="anonymous.txt", Body=b"x")
    assert upload.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_mlflow_s3_credentials_reach_only_the_artifact_bucket(platform):
    creds = {k.lower(): v for k, v in platform.object_store.credentials("mlflow").items()}
    client = _s3(platform, config=Config(s3={"addressing_style": "path"}), **creds)
    client.put_object(Bucket="mlflow-artifacts", Key="probe/allowed.txt", Body=b"ok")
    with pytest.raises(ClientError) as denied:
        client.put_object(Bucket="backups", Key="probe/denied.txt", Body=b"no")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_redis_requires_the_password(platform):
    with socket.create_connection(("127.0.0.1", platform.redis.port), timeout=5) as sock:
        sock.sendall(b"PING\r\n")
        reply = sock.recv(256)
    assert reply.startswith(b"-NOAUTH"), reply
