"""The prediction log's writer: a process of its own that turns scored rows into parquet files.

Each worker of the model server starts one (`prediction_log.PredictionLog`), so building the
rows (typed by the version's log schema, log_schema.py; the positive class's probability),
encoding parquet and uploading never competes with requests for the worker's interpreter. It
receives lists of pickled `LogRecord`s on a queue and writes
`s3://<bucket>/<model>/dt=YYYY-MM-DD/<writer>-<sequence>.parquet` when `flush_rows` rows wait or
every `flush_seconds`; a failed upload is retried under the same name. Rows that cannot be built
or encoded (nothing known does that; the schema makes every value fit) are dropped and counted
with their reason, never taking the process or the other rows with them.
It ignores SIGTERM and SIGINT: it stops when its worker sends the end marker (after the last
request) or when the worker is gone, writing what is left first. It runs at a lower CPU priority
(`WRITER_NICENESS`) than the worker: when the container's CPUs are busy, requests go first and the
log catches up when they are not (a backlog beyond the bound is dropped and counted, as for a slow
store).
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import queue
import signal
import socket
import sys
import time
import uuid
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workloads.serving import metrics
from workloads.serving.log_schema import LogSchema, to_table
from workloads.serving.model import positive_probability

log = logging.getLogger("serving.prediction_log")
WRITER_NICENESS = 10  # added to the worker's; raising it needs no privilege (restricted pods may)
UNWRITTEN_EXIT = 3  # the writer's exit code when its shutdown deadline passed with rows unwritten


@dataclass(frozen=True)
class LogRecord:
    """One request's scored rows, as sent to the writer (pickled: plain data only)."""

    features: pd.DataFrame
    predictions: Any
    request_id: str
    timestamp: datetime
    version: str
    model_path: str | None  # the worker's local copy of the version, for the probability
    schema: LogSchema  # the version's: every file of it has these columns and types

    @property
    def rows(self) -> int:
        return len(self.features)


@dataclass(frozen=True)
class WriterConfig:
    model: str
    bucket: str
    s3_endpoint: str | None
    flush_rows: int
    flush_seconds: float
    shutdown_seconds: float


@dataclass
class PendingFile:
    key: str
    body: bytes  # the encoded parquet file
    rows: int


def prediction_columns(predictions: Any, rows: int) -> dict[str, Any]:
    """`prediction` for one output per row, `prediction_<name>` for several."""
    if isinstance(predictions, pd.DataFrame):
        if predictions.shape[1] == 1:
            return {"prediction": predictions.iloc[:, 0].to_numpy()}
        return {f"prediction_{column}": predictions[column].to_numpy() for column in predictions.columns}
    values = np.asarray(predictions)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim == 1 and len(values) == rows:
        return {"prediction": values}
    if values.ndim == 2:
        return {f"prediction_{i}": values[:, i] for i in range(values.shape[1])}
    return {"prediction": [repr(value) for value in np.asarray(predictions, dtype=object).reshape(rows, -1)]}


def log_table(records: list[LogRecord], pyfunc) -> tuple[pa.Table, dict[str, int]]:
    """The log's rows for records of one model version, in one pass (one probability call), as a
    table of the version's schema, and the values nulled per column (log_schema.py). `pyfunc` is
    that version's model, or None when its files are gone (the probability is then null)."""
    first = records[0]
    schema = first.schema
    with warnings.catch_warnings():  # all-null batches: their dtype is replaced by the schema's anyway
        warnings.simplefilter("ignore", FutureWarning)
        frame = pd.concat([record.features for record in records], ignore_index=True)
    frame.columns = [str(column) for column in frame.columns]
    features, nulled = to_table(frame, schema.input_fields(frame))
    per_record = [prediction_columns(record.predictions, record.rows) for record in records]
    predictions = {name: np.concatenate([np.asarray(columns[name]) for columns in per_record])
                   for name in per_record[0]}
    outputs, more = to_table(pd.DataFrame(predictions), schema.prediction_fields(predictions))
    nulled.update(more)
    columns = {**dict(zip(features.column_names, features.columns, strict=True)),
               **dict(zip(outputs.column_names, outputs.columns, strict=True))}
    if schema.probability:
        columns["probability"] = probability_array(pyfunc, features, schema, nulled)
    sizes = [record.rows for record in records]
    stamps = np.repeat([pd.Timestamp(record.timestamp).tz_convert("UTC").value for record in records], sizes)
    columns["request_id"] = pa.array(np.repeat([record.request_id for record in records], sizes), pa.string())
    columns["timestamp"] = pa.array(stamps, pa.timestamp("ns", tz="UTC"))
    columns["model_version"] = pa.array([first.version] * len(frame), pa.string())
    return pa.table(columns), nulled


def probability_array(pyfunc, features: pa.Table, schema: LogSchema, nulled: dict[str, int]) -> pa.Array:
    """P(positive class) of each row, from the features as the model saw them (typed by the
    signature); nulls, counted, when the model's files are gone or it cannot say."""
    rows = features.num_rows
    try:
        typed = features.select([name for name, _ in schema.features]).to_pandas() if schema.typed_inputs \
            else features.to_pandas()
        values = positive_probability(pyfunc, typed) if pyfunc is not None else None
    except Exception as error:  # the probability is extra: its loss must not cost the rows
        log.warning("prediction log: no probability for %d rows: %s", rows, error)
        values = None
    if values is None:
        nulled["probability"] = nulled.get("probability", 0) + rows
        return pa.nulls(rows, pa.float64())
    return pa.array(np.asarray(values, dtype="float64"), pa.float64())


def encode(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def count_nulled(nulled: dict[str, int], request_ids: list[str]) -> None:
    for column, count in nulled.items():
        metrics.LOG_VALUES_NULLED.labels(column).inc(count)
        log.warning("prediction log: %d values of column %s could not take its type and are logged as null "
                    "(requests %s)", count, column, ", ".join(request_ids[:5]) + (" ..." if len(request_ids) > 5 else ""))


def partition_key(model: str, day: date, writer: str, sequence: int) -> str:
    return f"{model}/dt={day.isoformat()}/{writer}-{sequence:08d}.parquet"


def writer_id() -> str:
    """Unique per writer: time, host (the pod name), PID and a random part."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class LogWriter:
    """Buffers records and writes them through `sink` (an object with `put(key, body)`);
    `waiting` is the rows-accepted-but-not-written counter shared with the worker."""

    def __init__(self, sink, config: WriterConfig, waiting):
        self.sink, self.config, self.waiting = sink, config, waiting
        self.writer = writer_id()
        self.records: list[LogRecord] = []
        self.pending: list[PendingFile] = []
        self.sequence = 0
        self._models: dict[str, Any] = {}

    def _model(self, path: str | None):
        if path is None:
            return None
        if path not in self._models:
            import mlflow.pyfunc

            try:
                self._models = {path: mlflow.pyfunc.load_model(path)}  # one version at a time
            except Exception as error:  # superseded and removed: log without the probability
                log.warning("cannot load %s for the probability column: %s", path, error)
                return None
        return self._models[path]

    def queued_rows(self) -> int:
        return sum(record.rows for record in self.records)

    def cut_files(self) -> None:
        """Turn the queued records into encoded files, one per model version and UTC day."""
        records, self.records = self.records, []
        groups: dict[tuple[str, str | None, date], list[LogRecord]] = {}
        for record in records:
            day = pd.Timestamp(record.timestamp).tz_convert("UTC").date()
            groups.setdefault((record.version, record.model_path, day), []).append(record)
        for (_, path, day), group in groups.items():
            self._cut(group, self._model(path), day)

    def _cut(self, group: list[LogRecord], pyfunc, day: date) -> None:
        try:
            table, nulled = log_table(group, pyfunc)
            body = encode(table)
        except Exception:  # rows that cannot be logged must not cost the others theirs
            if len(group) > 1:
                for record in group:  # find the records at fault: each alone
                    self._cut([record], pyfunc, day)
                return
            log.exception("prediction log: cannot build or encode the %d rows of request %s (version %s): dropped",
                          group[0].rows, group[0].request_id, group[0].version)
            self._dropped(group[0].rows, "unencodable")
            return
        count_nulled(nulled, [record.request_id for record in group])
        self.sequence += 1
        self.pending.append(PendingFile(partition_key(self.config.model, day, self.writer, self.sequence), body,
                                        table.num_rows))

    def flush(self) -> bool:
        """Write everything waiting; True when nothing is left. Failed files stay for a retry."""
        self.cut_files()
        while self.pending:
            file = self.pending[0]
            try:
                self.sink.put(file.key, file.body)
            except Exception as error:
                metrics.LOG_FLUSH_FAILURES.inc()
                log.warning("cannot write %s (%d rows kept for a retry): %s", file.key, file.rows, error)
                return False
            self.pending.pop(0)
            metrics.ROWS_LOGGED.inc(file.rows)
            self._written(file.rows)
        return True

    def _written(self, rows: int) -> None:
        with self.waiting.get_lock():
            self.waiting.value -= rows

    def _dropped(self, rows: int, reason: str) -> None:
        metrics.LOG_ROWS_DROPPED.labels(reason).inc(rows)
        self._written(rows)

    def receive(self, batch: list[tuple[int, bytes]]) -> None:
        """Queue a message's records: (rows, the record pickled by the worker as its request ended)."""
        for rows, pickled in batch:
            try:
                self.records.append(pickle.loads(pickled))
            except Exception:
                log.exception("prediction log: cannot read a record of %d rows", rows)
                self._dropped(rows, "unreadable")

    def run(self, records: queue.Queue, parent: int) -> bool:
        """Receive lists of records and write them until the end marker (None) or the worker's
        death, then drain; True when everything was written."""
        next_flush = time.monotonic() + self.config.flush_seconds
        while True:
            try:
                batch = records.get(timeout=max(0.05, next_flush - time.monotonic()))
            except queue.Empty:
                batch = []
            if batch is None or os.getppid() != parent:
                break
            self.receive(batch)
            if self.queued_rows() >= self.config.flush_rows or time.monotonic() >= next_flush:
                self.flush()
                next_flush = time.monotonic() + self.config.flush_seconds
        return self.drain(records)

    def drain(self, records: queue.Queue) -> bool:
        """Take what is still queued and write it all, retrying until the shutdown deadline."""
        while True:
            try:
                batch = records.get_nowait()
            except (queue.Empty, OSError, EOFError):
                break
            if batch is not None:
                self.receive(batch)
        end = time.monotonic() + self.config.shutdown_seconds
        while not self.flush():
            if time.monotonic() >= end:
                log.error("stopping with %d prediction-log rows unwritten", self.waiting.value)
                return False
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        return True


def s3_sink(config: WriterConfig):
    import boto3
    from botocore.config import Config

    # Short timeouts: a slow store only delays this process, and only a little per attempt.
    client = boto3.client("s3", endpoint_url=config.s3_endpoint, config=Config(
        s3={"addressing_style": "path"}, connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}))

    class Sink:
        def put(self, key: str, body: bytes) -> None:
            client.put_object(Bucket=config.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet")

    return Sink()


def writer_main(config: WriterConfig, records, waiting, ready, parent: int) -> None:
    """The writer process's entry point (spawned by the worker); sets `ready` once it can write."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the worker ends it, after its last request
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(WRITER_NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    writer = LogWriter(s3_sink(config), config, waiting)
    ready.value = 1
    sys.exit(0 if writer.run(records, parent) else UNWRITTEN_EXIT)
