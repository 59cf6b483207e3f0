"""Prediction logs in S3, read a column at a time by byte ranges; S3 errors mapped to exit codes."""

from __future__ import annotations

import io
from datetime import date

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from workloads.churn import FEATURES, generate
from workloads.drift.engine import compare
from workloads.drift.errors import InfrastructureError, NoDataError, NotFoundError, UnreadableFileError
from workloads.drift.intervals import DataInterval
from workloads.drift.profile import build_profile
from workloads.drift.s3data import open_partition, open_s3_uri
from workloads.drift.settings import DriftSettings

INTERVAL = DataInterval.stamped(date(2026, 11, 26))


class MemoryS3:
    """The few S3 calls the job makes, over a dict; counts the bytes it serves."""

    def __init__(self, objects: dict[str, bytes], fail: str | None = None):
        self.objects, self.fail, self.bytes_served = objects, fail, 0

    def _check(self):
        if self.fail == "denied":
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")
        if self.fail == "down":
            raise EndpointConnectionError(endpoint_url="http://s3")

    def get_paginator(self, _name):
        s3 = self

        class Paginator:
            def paginate(self, Bucket, Prefix):  # noqa: N803 - boto3's names
                s3._check()
                yield {"Contents": [{"Key": k, "Size": len(v)} for k, v in s3.objects.items() if k.startswith(Prefix)]}

        return Paginator()

    def head_object(self, Bucket, Key):  # noqa: N803
        self._check()
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadObject")
        return {"ContentLength": len(self.objects[Key])}

    def get_object(self, Bucket, Key, Range=None):  # noqa: N803
        self._check()
        data = self.objects[Key]
        if Range:
            first, last = (int(x) for x in Range.removeprefix("bytes=").split("-"))
            data = data[first:last + 1]
        self.bytes_served += len(data)
        return {"Body": io.BytesIO(data)}


def parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


def test_a_partition_is_read_by_byte_ranges_one_column_at_a_time():
    rng = np.random.default_rng(0)
    day = generate(20_000, seed=3)[list(FEATURES)].assign(**{f"other_{i}": rng.normal(size=20_000) for i in range(40)})
    s3 = MemoryS3({"churn/dt=2026-11-26/part-0.parquet": parquet(day.iloc[:10_000]),
                   "churn/dt=2026-11-26/part-1.parquet": parquet(day.iloc[10_000:])})
    source = open_partition(s3, "monitoring", "churn", INTERVAL)
    assert source.rows == 20_000 and [p.where for p in source.parts] == [
        "s3://monitoring/churn/dt=2026-11-26/part-0.parquet", "s3://monitoring/churn/dt=2026-11-26/part-1.parquet"]
    s3.bytes_served = 0
    values, problems = source.numeric("monthly_charges")
    assert problems == [] and values.size == 20_000 and values[0] == day["monthly_charges"].iloc[0]
    total = sum(len(v) for v in s3.objects.values())
    assert s3.bytes_served < total / 5, "a column read must not download whole files"


def test_an_unreadable_object_is_named_and_the_rest_compared():
    settings = DriftSettings(threads=1)
    s3 = MemoryS3({"churn/dt=2026-11-26/a.parquet": parquet(generate(3_000, seed=4)[list(FEATURES)]),
                   "churn/dt=2026-11-26/b.parquet": b"PAR1 not really"})
    report = compare(build_profile(generate(5_000, seed=1)[list(FEATURES)], settings),
                     open_partition(s3, "monitoring", "churn", INTERVAL), settings)
    assert report.exit_code == 6 and report.rows_current == 3_000
    assert report.problems[0].message.startswith("s3://monitoring/churn/dt=2026-11-26/b.parquet: not a readable parquet file")


def test_a_part_without_a_column_counts_its_rows_as_missing_and_is_named():
    settings = DriftSettings(threads=1)
    day = generate(4_000, seed=5)[list(FEATURES)]
    s3 = MemoryS3({"churn/dt=2026-11-26/a.parquet": parquet(day.iloc[:2_000]),
                   "churn/dt=2026-11-26/b.parquet": parquet(day.iloc[2_000:].drop(columns=["usage_gb"]))})
    report = compare(build_profile(generate(5_000, seed=1)[list(FEATURES)], settings),
                     open_partition(s3, "monitoring", "churn", INTERVAL), settings)
    assert report.exit_code == 4
    assert "b.parquet: no column 'usage_gb'; its 2,000 rows count as missing" in report.problems[0].message
    usage = report.feature("usage_gb")
    assert usage.missing_current == 2_000 and usage.drifted_by == ["missing_share"]


@pytest.mark.parametrize(("objects", "error", "message"), [
    ({}, NoDataError, "no prediction logs for interval [2026-11-26, 2026-11-27) at s3://monitoring/churn/dt=2026-11-26/*.parquet"),
    ({"churn/dt=2026-11-26/a.parquet": b"junk"}, UnreadableFileError, "a.parquet: not a readable parquet file"),
    ({"churn/dt=2026-11-26/a.parquet": parquet(generate(10, seed=1).iloc[:0])}, NoDataError, "hold no rows"),
])
def test_partitions_without_usable_data(objects, error, message):
    with pytest.raises(error, match=message.replace("[", r"\[").replace(")", r"\)").replace("*", r"\*")):
        open_partition(MemoryS3(objects), "monitoring", "churn", INTERVAL)


def test_s3_errors_say_whether_a_retry_can_help():
    with pytest.raises(NotFoundError, match="AccessDenied"):  # exit 8: fail fast
        open_partition(MemoryS3({}, fail="denied"), "monitoring", "churn", INTERVAL)
    with pytest.raises(InfrastructureError, match="EndpointConnectionError"):  # exit 7: retried
        open_partition(MemoryS3({}, fail="down"), "monitoring", "churn", INTERVAL)
    with pytest.raises(NotFoundError, match="s3://monitoring/nowhere.parquet: 404"):
        open_s3_uri(MemoryS3({}), "s3://monitoring/nowhere.parquet")
