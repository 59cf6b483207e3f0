"""The prediction log's writer: a process of its own that turns scored rows into parquet files.

Each worker of the model server starts one (`prediction_log.PredictionLog`), so building the
rows (casting to the signature's dtypes, the positive class's probability), encoding parquet and
uploading never competes with requests for the worker's interpreter. It receives lists of
pickled `LogRecord`s on a queue and writes `s3://<bucket>/<model>/dt=YYYY-MM-DD/<writer>-<sequence>.parquet` when
`flush_rows` rows wait or every `flush_seconds`; a failed upload is retried under the same name.
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
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from workloads.serving import metrics
from workloads.serving.model import positive_probability

log = logging.getLogger("serving.prediction_log")
WRITER_NICENESS = 10  # added to the worker's; raising it needs no privilege (restricted pods may)


@dataclass(frozen=True)
class LogRecord:
    """One request's scored rows, as sent to the writer (pickled: plain data only)."""

    features: pd.DataFrame
    predictions: Any
    request_id: str
    timestamp: datetime
    version: str
    model_path: str | None  # the worker's local copy of the version, for the probability
    dtypes: dict[str, Any]  # the signature's: the reference data's dtypes

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
    frame: pd.DataFrame


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


def log_rows(records: list[LogRecord], pyfunc) -> pd.DataFrame:
    """The log's rows for records of one model version, in one pass (one cast, one probability
    call); `pyfunc` is that version's model, or None when its files are gone (no probability)."""
    first = records[0]
    features = pd.concat([record.features for record in records], ignore_index=True)
    frame = features.astype({c: t for c, t in first.dtypes.items() if c in features.columns}, errors="ignore")
    per_record = [prediction_columns(record.predictions, record.rows) for record in records]
    for name in per_record[0]:
        frame[name] = np.concatenate([np.asarray(columns[name]) for columns in per_record])
    probability = positive_probability(pyfunc, features) if pyfunc is not None else None
    if probability is not None:
        frame["probability"] = probability
    sizes = [record.rows for record in records]
    frame["request_id"] = np.repeat([record.request_id for record in records], sizes)
    frame["timestamp"] = pd.DatetimeIndex(np.repeat([pd.Timestamp(r.timestamp).tz_convert("UTC") for r in records],
                                                    sizes))
    frame["model_version"] = first.version
    return frame


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
        """Turn the queued records into named files, one per model version and UTC day."""
        records, self.records = self.records, []
        by_version: dict[tuple[str, str | None], list[LogRecord]] = {}
        for record in records:
            by_version.setdefault((record.version, record.model_path), []).append(record)
        for (version, path), group in by_version.items():
            try:
                frame = log_rows(group, self._model(path))
            except Exception:  # unloggable rows must not cost the others theirs
                rows = sum(record.rows for record in group)
                log.exception("cannot log %d rows of version %s (dropped)", rows, version)
                metrics.ROWS_DROPPED.inc(rows)
                self._written(rows)
                continue
            for day, rows in frame.groupby(frame["timestamp"].dt.date, sort=True):
                self.sequence += 1
                key = partition_key(self.config.model, day, self.writer, self.sequence)
                self.pending.append(PendingFile(key, rows.reset_index(drop=True)))

    def flush(self) -> bool:
        """Write everything waiting; True when nothing is left. Failed files stay for a retry."""
        self.cut_files()
        while self.pending:
            file = self.pending[0]
            buffer = io.BytesIO()
            file.frame.to_parquet(buffer, index=False)
            try:
                self.sink.put(file.key, buffer.getvalue())
            except Exception as error:
                metrics.LOG_FLUSH_FAILURES.inc()
                log.warning("cannot write %s (%d rows kept for a retry): %s", file.key, len(file.frame), error)
                return False
            self.pending.pop(0)
            metrics.ROWS_LOGGED.inc(len(file.frame))
            self._written(len(file.frame))
        return True

    def _written(self, rows: int) -> None:
        with self.waiting.get_lock():
            self.waiting.value -= rows

    def receive(self, batch: list[bytes]) -> None:
        """Queue a message's records (each pickled by the worker as its request ended)."""
        self.records.extend(pickle.loads(record) for record in batch)

    def run(self, records: queue.Queue, parent: int) -> None:
        """Receive lists of records and write them until the end marker (None) or the worker's
        death, then drain."""
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
        self.drain(records)

    def drain(self, records: queue.Queue) -> None:
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
                return
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))


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


def writer_main(config: WriterConfig, records, waiting, parent: int) -> None:
    """The writer process's entry point (spawned by the worker)."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the worker ends it, after its last request
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(WRITER_NICENESS)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    LogWriter(s3_sink(config), config, waiting).run(records, parent)
