"""A read-only, seekable file over one S3 object, reading byte ranges on demand.

Parquet readers seek to the footer and then read only the column chunks they are asked for, so
over this file a column-projected read downloads that column's bytes and not the whole object
(HTTP range requests, RFC 9110 section 14; S3 GetObject `Range`). Errors are mapped to the job's
exit codes: refused or absent -> NotFoundError (8), anything else -> InfrastructureError (7).
"""

from __future__ import annotations

import io

from botocore.exceptions import BotoCoreError, ClientError

from workloads.drift.errors import InfrastructureError, NotFoundError

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
