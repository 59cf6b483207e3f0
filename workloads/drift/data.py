"""Reading reference and prediction-log data, with errors that name the file and the cause."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from botocore.exceptions import BotoCoreError, ClientError

from workloads.drift.errors import NoDataError, UnreadableFileError
from workloads.drift.intervals import DataInterval


def read_parquet_bytes(data: bytes, where: str) -> pd.DataFrame:
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError, ValueError) as error:
        raise UnreadableFileError(f"{where}: not a readable parquet file ({error})") from None
    return table.to_pandas()


def read_local(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UnreadableFileError(f"{path}: {error.strerror}") from None
    return read_parquet_bytes(data, str(path))


def partition_prefix(model: str, interval: DataInterval) -> str:
    return f"{model}/dt={interval.start.isoformat()}/"


def read_partition(s3, bucket: str, model: str, interval: DataInterval) -> pd.DataFrame:
    """Every `*.parquet` under s3://bucket/<model>/dt=<stamp>/ as one frame."""
    prefix = partition_prefix(model, interval)
    location = f"s3://{bucket}/{prefix}"
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".parquet"))
    except (ClientError, BotoCoreError) as error:
        raise NoDataError(f"cannot list {location}: {error}") from None
    if not keys:
        raise NoDataError(f"no prediction logs for interval {interval} at {location}*.parquet")
    frames = []
    for key in keys:
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise UnreadableFileError(f"s3://{bucket}/{key}: {error}") from None
        frames.append(read_parquet_bytes(body, f"s3://{bucket}/{key}"))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frame) == 0:
        raise NoDataError(f"the prediction logs for interval {interval} at {location} hold no rows")
    return frame


def read_s3_uri(s3, uri: str) -> pd.DataFrame:
    parsed = urlparse(uri)
    try:
        body = s3.get_object(Bucket=parsed.netloc, Key=parsed.path.lstrip("/"))["Body"].read()
    except (ClientError, BotoCoreError) as error:
        raise UnreadableFileError(f"{uri}: {error}") from None
    return read_parquet_bytes(body, uri)
