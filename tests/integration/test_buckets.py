"""The bucket Job's script against a real S3 server: creates, versions, is idempotent."""

from __future__ import annotations

import subprocess
import sys

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from platform_components.object_store import bucket_job_args
from platform_components.platform import BUCKETS
from tools.servers.process import free_port
from tools.servers.seaweedfs import ROOT, LocalSeaweedfs


@pytest.fixture(scope="module")
def empty_store():
    store = LocalSeaweedfs().start()
    yield store
    store.destroy()


def test_creates_the_buckets_with_versioning_then_is_idempotent(empty_store):
    first = empty_store.create_buckets(BUCKETS)
    assert first.returncode == 0, first.stderr
    assert [line.split(":")[1].split(",")[0].strip() for line in first.stdout.splitlines()] == ["created"] * len(BUCKETS)

    admin = boto3.client("s3", endpoint_url=empty_store.endpoint, region_name="us-east-1",
                         **{k.lower(): v for k, v in empty_store.credentials("admin").items()})
    admin.put_object(Bucket="features", Key="keep.parquet", Body=b"v1")

    second = empty_store.create_buckets(BUCKETS)
    assert second.returncode == 0, second.stderr
    assert all(", versioning Enabled, anonymous access denied" in line for line in second.stdout.splitlines())
    assert [line.split(":")[1].split(",")[0].strip() for line in second.stdout.splitlines()] == ["exists"] * len(BUCKETS)

    names = {b["Name"] for b in admin.list_buckets()["Buckets"]}
    assert set(BUCKETS) <= names
    for bucket in BUCKETS:
        assert admin.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert admin.get_object(Bucket="features", Key="keep.parquet")["Body"].read() == b"v1", "rerun lost data"


def test_versioning_keeps_overwritten_objects(empty_store):
    empty_store.create_buckets(("backups",))
    admin = boto3.client("s3", endpoint_url=empty_store.endpoint, region_name="us-east-1",
                         **{k.lower(): v for k, v in empty_store.credentials("admin").items()})
    admin.put_object(Bucket="backups", Key="dump", Body=b"old")
    admin.put_object(Bucket="backups", Key="dump", Body=b"new")
    versions = admin.list_object_versions(Bucket="backups", Prefix="dump")["Versions"]
    assert len(versions) == 2


def test_anonymous_writes_are_refused_after_setup(empty_store):
    empty_store.create_buckets(("monitoring",))
    anonymous = boto3.client("s3", endpoint_url=empty_store.endpoint, region_name="us-east-1",
                             config=Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError):
        anonymous.put_object(Bucket="monitoring", Key="x", Body=b"x")


def test_unreachable_endpoint_fails_with_a_clear_message():
    endpoint = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, *bucket_job_args(endpoint, ("features",)), "--wait-seconds", "1"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1
    assert f"bucket setup failed at {endpoint}: S3 endpoint not reachable" in result.stderr


def test_wrong_credentials_fail_naming_the_bucket(empty_store):
    result = subprocess.run(
        [sys.executable, *bucket_job_args(empty_store.endpoint, ("features",))],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "WRONG", "AWS_SECRET_ACCESS_KEY": "WRONG", "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 1
    assert "bucket setup failed" in result.stderr and "rejected the admin credentials (InvalidAccessKeyId)" in result.stderr
    assert "Traceback" not in result.stderr
