"""Bucket convergence over the plain S3 API, so it works the same on MinIO and SeaweedFS."""

from __future__ import annotations

import time
from dataclasses import dataclass

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from workloads.cli import WorkloadError


class BucketSetupError(WorkloadError):
    """A bucket could not be brought to the wanted state; the message names bucket and cause."""


@dataclass(frozen=True)
class BucketState:
    name: str
    created: bool
    versioning: str


def s3_client(endpoint_url: str, region: str, signed: bool = True):
    config = Config(
        retries={"max_attempts": 3, "mode": "standard"},
        connect_timeout=5,
        read_timeout=30,
        s3={"addressing_style": "path"},
        signature_version=None if signed else UNSIGNED,
    )
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)


def wait_for_endpoint(client, timeout_seconds: float) -> None:
    """The Job may start before the server accepts connections; wait instead of failing. The
    errors name the endpoint (`bucket setup failed at <url>: ...`)."""
    where = f"bucket setup failed at {client.meta.endpoint_url}"
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            client.list_buckets()
            return
        except EndpointConnectionError as error:
            if time.monotonic() > deadline:
                raise BucketSetupError(f"{where}: S3 endpoint not reachable after {timeout_seconds:.0f}s: {error}") from error
            time.sleep(2)
        except ClientError as error:
            code = error.response["Error"]["Code"]
            raise BucketSetupError(f"{where}: S3 endpoint rejected the admin credentials ({code}): check the Secret") from error


def ensure_bucket(client, anonymous, name: str) -> BucketState:
    try:
        return _ensure_bucket(client, anonymous, name)
    except BotoCoreError as error:  # connection dropped, timeouts: still say which bucket
        raise BucketSetupError(f"bucket {name}: {error}") from error


def _ensure_bucket(client, anonymous, name: str) -> BucketState:
    created = False
    try:
        client.head_bucket(Bucket=name)
    except ClientError as error:
        if error.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise BucketSetupError(f"bucket {name}: cannot inspect it: {error}") from error
        try:
            client.create_bucket(Bucket=name)
            created = True
        except ClientError as create_error:
            # Another run may have created it in between: that is the state we want.
            if create_error.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise BucketSetupError(f"bucket {name}: cannot create it: {create_error}") from create_error

    try:
        client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        status = client.get_bucket_versioning(Bucket=name).get("Status", "Disabled")
    except ClientError as error:
        raise BucketSetupError(f"bucket {name}: cannot enable versioning: {error}") from error
    if status != "Enabled":
        raise BucketSetupError(f"bucket {name}: versioning is {status!r} after enabling it")

    _require_anonymous_denied(anonymous, name)
    return BucketState(name, created, status)


def _require_anonymous_denied(anonymous, name: str) -> None:
    try:
        anonymous.list_objects_v2(Bucket=name, MaxKeys=1)
    except ClientError as error:
        if error.response["ResponseMetadata"]["HTTPStatusCode"] in (401, 403):
            return
        raise BucketSetupError(f"bucket {name}: unexpected answer to an anonymous request: {error}") from error
    raise BucketSetupError(f"bucket {name}: anonymous listing is allowed; remove its public policy")


def ensure_buckets(endpoint_url: str, buckets: list[str], region: str = "us-east-1", wait_seconds: float = 120) -> list[BucketState]:
    client = s3_client(endpoint_url, region)
    anonymous = s3_client(endpoint_url, region, signed=False)
    wait_for_endpoint(client, wait_seconds)
    return [ensure_bucket(client, anonymous, name) for name in buckets]
