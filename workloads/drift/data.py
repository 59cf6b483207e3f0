"""Where reference and prediction-log data come from, opened as column-at-a-time sources.

Errors name the file (local path or `s3://` URI) and the cause. A file that is not readable
parquet among several is left out and reported (UnreadableFileError, exit 6, after the report of
the rest); when no file is readable the run stops with that error.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from workloads.drift.errors import NoDataError, Problem, UnreadableFileError
from workloads.drift.intervals import DataInterval
from workloads.drift.s3file import S3File, s3_error
from workloads.drift.sources import ParquetPart, Source


def _open_parts(openers: list[tuple[str, object]]) -> Source:
    """A source of every readable file; unreadable ones become problems (all unreadable: raise)."""
    parts, problems = [], []
    for where, opener in openers:
        try:
            parts.append(ParquetPart(opener, where))
        except UnreadableFileError as error:
            problems.append(Problem.of(error))
    if not parts:
        raise UnreadableFileError("; ".join(p.message for p in problems))
    return Source(parts, problems)


def open_local(path: str | Path) -> Source:
    """A parquet file, or every `*.parquet` under a directory (a downloaded partition)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file())
        if not files:
            raise NoDataError(f"{path}: no *.parquet files")
    elif not path.exists():
        raise UnreadableFileError(f"{path}: No such file or directory")
    else:
        files = [path]
    for file in files:
        try:
            file.open("rb").close()
        except OSError as error:
            raise UnreadableFileError(f"{file}: {error.strerror}") from None
    return _open_parts([(str(f), (lambda f=f: str(f))) for f in files])


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
    source = _open_parts([(f"s3://{bucket}/{key}", (lambda key=key, size=size: S3File(s3, bucket, key, size)))
                          for key, size in objects])
    if source.rows == 0:
        raise NoDataError(f"the prediction logs for interval {interval} at {location} hold no rows")
    return source


def open_s3_uri(s3, uri: str) -> Source:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc or not parsed.path.strip("/"):
        raise UnreadableFileError(f"{uri}: not an s3://bucket/key URI")
    bucket, key = parsed.netloc, parsed.path.lstrip("/")
    size = S3File(s3, bucket, key).size  # fails early, naming the URI, if it is absent
    return _open_parts([(uri, lambda: S3File(s3, bucket, key, size))])
