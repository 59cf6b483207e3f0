"""Prediction logs and references in S3, read through a seekable file over byte ranges.

Parquet readers seek to the footer and then read only the column chunks they are asked for, so
over this file a column-projected read downloads that column's bytes and not the whole object
(HTTP range requests, RFC 9110 section 14; S3 GetObject `Range`). Errors are mapped to the job's
exit codes: refused or absent -> NotFoundError (8), anything else -> InfrastructureError (7).
"""

from __future__ import annotations

import io
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from workloads.drift.data import open_parts
from workloads.drift.errors import InfrastructureError, NoDataError, NotFoundError, UnreadableFileError
from workloads.drift.intervals import DataInterval
from workloads.drift.sources import Source

# S3 error codes a retry cannot fix: the bucket or object is not there, or the caller may not read it.
NOT_FOUND_CODES = {"NoSuchBucket", "NoSuchKey", "404", "AccessDenied", "403", "InvalidAccessKeyId",
                   "SignatureDoesNotMatch", "AllAccessDisabled", "InvalidBucketName"}


def s3_error(error: Exception, what: str) -> Exception:
    """The job's error for a failed S3 call on `what` (a URI or prefix)."""
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in NOT_FOUND_CODES:
            return NotFoundError(f"{what}: {code} ({error})")
        return InfrastructureError(f"{what}: S3 error {code} ({error})")
    return InfrastructureError(f"{what}: {type(error).__name__}: {error}")


class S3File(io.RawIOBase):
    def __init__(self, s3, bucket: str, key: str, size: int | None = None):
        super().__init__()
        self.s3, self.bucket, self.key = s3, bucket, key
        self.uri = f"s3://{bucket}/{key}"
        if size is None:
            try:
                size = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
            except (ClientError, BotoCoreError) as error:
                raise s3_error(error, self.uri) from None
        self.size, self.position = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer) -> int:
        end = min(self.position + len(buffer), self.size)
        if end <= self.position:
            return 0
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=self.key,
                                      Range=f"bytes={self.position}-{end - 1}")["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise s3_error(error, self.uri) from None
        buffer[:len(body)] = body
        self.position += len(body)
        return len(body)


def partition_prefix(model: str, interval: DataInterval) -> str:
    return f"{model}/dt={interval.start.isoformat()}/"


def open_partition(s3, bucket: str, model: str, interval: DataInterval) -> Source:
    """Every `*.parquet` under s3://bucket/<model>/dt=<stamp>/, read by byte ranges."""
    prefix = partition_prefix(model, interval)
    location = f"s3://{bucket}/{prefix}"
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        objects = sorted((o["Key"], int(o["Size"])) for page in pages for o in page.get("Contents", [])
                         if o["Key"].endswith(".parquet"))
    except (ClientError, BotoCoreError) as error:
        raise s3_error(error, f"listing {location}") from None
    if not objects:
        raise NoDataError(f"no prediction logs for interval {interval} at {location}*.parquet")
    source = open_parts([(f"s3://{bucket}/{key}", (lambda key=key, size=size: S3File(s3, bucket, key, size)))
                          for key, size in objects], location)
    if source.rows == 0:
        raise NoDataError(f"the prediction logs for interval {interval} at {location} hold no rows")
    return source


def open_s3_uri(s3, uri: str) -> Source:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise UnreadableFileError(f"{uri}: not an s3://bucket/key URI")
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    size = S3File(s3, bucket, key).size  # fails early, naming the URI, if it is absent
    return open_parts([(uri, lambda: S3File(s3, bucket, key, size))], uri)
