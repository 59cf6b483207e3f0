"""Where dumps live in the `backups` bucket, with what checksum, and how many are kept.

Key: `postgres/<database>/<UTC timestamp>.dump`; the object's metadata carries its SHA-256 and the
database name, so a restore can refuse a dump that changed after it was written.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from workloads.backup.errors import BackupError

PREFIX = "postgres"
STAMP = "%Y%m%dT%H%M%S%fZ"
KEY = re.compile(rf"^{PREFIX}/(?P<database>[a-z][a-z0-9_]*)/(?P<stamp>\d{{8}}T\d{{12}}Z)\.dump$")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Backup:
    bucket: str
    key: str
    database: str
    created: datetime
    size: int

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def backup_key(database: str, now: datetime) -> str:
    return f"{PREFIX}/{database}/{now.astimezone(UTC).strftime(STAMP)}.dump"


def parse_uri(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise BackupError(f"{uri!r} is not s3://bucket/key")
    return parts.netloc, parts.path.lstrip("/")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _s3_error(action: str, error: Exception) -> BackupError:
    if isinstance(error, ClientError):
        return BackupError(f"{action}: {error.response['Error'].get('Code')} {error.response['Error'].get('Message', '')}".strip())
    return BackupError(f"{action}: {error}")


def upload(s3: Any, bucket: str, key: str, path: Path, sha256: str, database: str) -> None:
    try:
        s3.upload_file(str(path), bucket, key, ExtraArgs={"Metadata": {"sha256": sha256, "database": database}})
    except (BotoCoreError, ClientError) as error:
        raise _s3_error(f"uploading s3://{bucket}/{key}", error) from None


def recorded_sha256(s3: Any, bucket: str, key: str) -> tuple[str, int]:
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as error:
        raise _s3_error(f"reading s3://{bucket}/{key}", error) from None
    sha256 = head.get("Metadata", {}).get("sha256")
    if not sha256:
        raise BackupError(f"s3://{bucket}/{key} has no recorded checksum: not a backup this tool wrote")
    return sha256, int(head["ContentLength"])


def download_verified(s3: Any, bucket: str, key: str, path: Path) -> str:
    """Download to `path`; the file's SHA-256 must equal the one recorded at backup time."""
    expected, _size = recorded_sha256(s3, bucket, key)
    digest = hashlib.sha256()
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with path.open("wb") as handle:
            for chunk in body.iter_chunks(CHUNK):
                digest.update(chunk)
                handle.write(chunk)
    except (BotoCoreError, ClientError) as error:
        raise _s3_error(f"downloading s3://{bucket}/{key}", error) from None
    actual = digest.hexdigest()
    if actual != expected:
        raise BackupError(f"s3://{bucket}/{key} is corrupted or truncated: its SHA-256 is {actual}, "
                          f"the backup recorded {expected}; refusing to restore it")
    return actual


def verify_stored(s3: Any, bucket: str, key: str, sha256: str, size: int, scratch: Path) -> None:
    """Read the uploaded object back: same size, same checksum, before anything older is deleted."""
    recorded, stored_size = recorded_sha256(s3, bucket, key)
    if recorded != sha256 or stored_size != size:
        raise BackupError(f"s3://{bucket}/{key} was stored as {stored_size} bytes with checksum {recorded}, "
                          f"expected {size} bytes and {sha256}")
    download_verified(s3, bucket, key, scratch)


def list_backups(s3: Any, bucket: str, database: str | None = None) -> list[Backup]:
    prefix = f"{PREFIX}/{database}/" if database else f"{PREFIX}/"
    backups = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                match = KEY.match(item["Key"])
                if match:
                    created = datetime.strptime(match["stamp"], STAMP).replace(tzinfo=UTC)
                    backups.append(Backup(bucket, item["Key"], match["database"], created, int(item["Size"])))
    except (BotoCoreError, ClientError) as error:
        raise _s3_error(f"listing s3://{bucket}/{prefix}", error) from None
    return sorted(backups, key=lambda b: (b.database, b.created))


def prune(s3: Any, bucket: str, database: str, keep: int) -> list[Backup]:
    """Delete all but the newest `keep` backups of `database`; returns what was deleted. (In a
    versioned bucket a delete leaves a noncurrent version until the bucket's lifecycle expires it.)"""
    backups = list_backups(s3, bucket, database)
    doomed = backups[:-keep] if keep > 0 else []
    for backup in doomed:
        try:
            s3.delete_object(Bucket=bucket, Key=backup.key)
        except (BotoCoreError, ClientError) as error:
            raise _s3_error(f"deleting {backup.uri}", error) from None
    return doomed
