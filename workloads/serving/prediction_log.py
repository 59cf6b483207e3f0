"""The prediction log ("inference table"): every scored row, appended to the object store off the
request path, in the daily partitions the drift monitor reads.

Rows go to `s3://<bucket>/<model>/dt=YYYY-MM-DD/<writer>-<sequence>.parquet`, partitioned by the
UTC date of the prediction, so the drift job's interval [D, D+1) reads exactly the predictions of
day D. Each row holds the features the model saw (cast to its signature's dtypes, the reference
data's), `prediction` (and `probability` of the positive class for binary classifiers),
`request_id`, UTC `timestamp` and `model_version`.

Guarantees:
- Never on the request path: `append` only takes a lock and queues the batch; a background
  thread turns batches into parquet and uploads them, by size (`flush_rows`) or time
  (`flush_seconds`). A slow or unreachable object store never delays or fails a prediction.
- Bounded memory: past `max_rows` rows waiting (queued or failed uploads), new rows are dropped,
  counted (`mlops_serving_rows_dropped_total`) and reported once per `flush_seconds` in the log.
- Whole files only: a file is one S3 PutObject of the complete parquet body, and S3 makes an
  object visible only once fully written. A failed upload is retried under the same name, so a
  retry after a lost response overwrites rather than duplicates.
- Distinct writers: file names carry the host, the process ID and a random writer ID, and a
  sequence number per file, so no two workers or replicas ever write the same object.
- Nothing acknowledged is lost on a clean stop: `close` flushes everything within its deadline
  (the server calls it on SIGTERM, inside the pod's termination grace period).
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

import numpy as np
import pandas as pd

from workloads.serving import metrics
from workloads.serving.model import LoadedModel

log = logging.getLogger("serving.prediction_log")
METADATA_COLUMNS = ("request_id", "timestamp", "model_version")


class ObjectSink(Protocol):
    def put(self, key: str, body: bytes) -> None: ...


@dataclass(frozen=True)
class S3Sink:
    """Uploads to one bucket with a boto3 client (its retries and timeouts apply)."""

    client: Any
    bucket: str

    def put(self, key: str, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/vnd.apache.parquet")


@dataclass(frozen=True)
class ScoredBatch:
    """One request's rows as scored: what the model saw, what it answered, and when."""

    features: pd.DataFrame
    predictions: Any
    request_id: str
    timestamp: datetime
    model: LoadedModel

    @property
    def rows(self) -> int:
        return len(self.features)


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


def log_rows(batches: list[ScoredBatch]) -> pd.DataFrame:
    """The log's rows for batches scored by one model version, computed together (one cast, one
    probability call) by the flusher, not the requests."""
    model = batches[0].model
    features = pd.concat([batch.features for batch in batches], ignore_index=True)
    dtypes = model.feature_dtypes()
    frame = features.astype({c: t for c, t in dtypes.items() if c in features.columns}, errors="ignore")
    per_batch = [prediction_columns(batch.predictions, batch.rows) for batch in batches]
    for name in per_batch[0]:
        frame[name] = np.concatenate([np.asarray(columns[name]) for columns in per_batch])
    probability = model.positive_probability(features)
    if probability is not None:
        frame["probability"] = probability
    sizes = [batch.rows for batch in batches]
    frame["request_id"] = np.repeat([batch.request_id for batch in batches], sizes)
    frame["timestamp"] = pd.DatetimeIndex(np.repeat([pd.Timestamp(b.timestamp).tz_convert("UTC") for b in batches],
                                                    sizes))
    frame["model_version"] = model.version
    return frame


def partition_key(model: str, day: date, writer: str, sequence: int) -> str:
    return f"{model}/dt={day.isoformat()}/{writer}-{sequence:08d}.parquet"


def writer_id() -> str:
    """Unique per process: time, host (the pod name), PID and a random part."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class PredictionLog:
    """Buffers scored batches and writes them as parquet files through `sink`."""

    def __init__(self, sink: ObjectSink, model: str, *, flush_rows: int = 1000, flush_seconds: float = 10.0,
                 max_rows: int = 100_000):
        self.sink, self.model = sink, model
        self.flush_rows, self.flush_seconds, self.max_rows = flush_rows, flush_seconds, max_rows
        self.writer = writer_id()
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._batches: deque[ScoredBatch] = deque()
        self._pending: list[PendingFile] = []
        self._waiting_rows = 0
        self._sequence = 0
        self._dropped_since_warning, self._last_warning = 0, 0.0
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def waiting_rows(self) -> int:
        """Rows accepted but not yet written (queued, or in files whose upload failed)."""
        return self._waiting_rows

    def append(self, batch: ScoredBatch) -> bool:
        """Queue a request's rows; False (and counted as dropped) when the buffer is full."""
        with self._lock:
            if self._waiting_rows + batch.rows > self.max_rows:
                self._dropped(batch.rows)
                return False
            self._batches.append(batch)
            self._waiting_rows += batch.rows
            full = self._waiting_rows >= self.flush_rows
        if full:
            self._wake.set()
        return True

    def _dropped(self, rows: int) -> None:
        metrics.ROWS_DROPPED.inc(rows)
        self._dropped_since_warning += rows
        now = time.monotonic()
        if now - self._last_warning >= self.flush_seconds:
            log.warning("prediction log full (%d rows waiting, the object store is slow or down): dropped %d rows",
                        self._waiting_rows, self._dropped_since_warning)
            self._dropped_since_warning, self._last_warning = 0, now

    def _cut_files(self) -> None:
        """Turn the queued batches into named files, one per UTC day."""
        with self._lock:
            batches, self._batches = list(self._batches), deque()
        by_model: dict[int, list[ScoredBatch]] = {}
        for batch in batches:
            by_model.setdefault(id(batch.model), []).append(batch)
        frames = []
        for group in by_model.values():
            try:
                frames.append(log_rows(group))
            except Exception:  # unloggable requests must not cost the other versions' their rows
                rows = sum(batch.rows for batch in group)
                log.exception("cannot log %d rows of model version %s (dropped)", rows, group[0].model.version)
                metrics.ROWS_DROPPED.inc(rows)
                with self._lock:
                    self._waiting_rows -= rows
        if not frames:
            return
        frame = pd.concat(frames, ignore_index=True)
        for day, rows in frame.groupby(frame["timestamp"].dt.date, sort=True):
            self._sequence += 1
            self._pending.append(PendingFile(partition_key(self.model, day, self.writer, self._sequence),
                                             rows.reset_index(drop=True)))

    def flush(self) -> bool:
        """Write everything waiting; True when nothing is left. Failed files stay for a retry."""
        with self._flushing:
            self._cut_files()
            while self._pending:
                file = self._pending[0]
                buffer = io.BytesIO()
                file.frame.to_parquet(buffer, index=False)
                try:
                    self.sink.put(file.key, buffer.getvalue())
                except Exception as error:
                    metrics.LOG_FLUSH_FAILURES.inc()
                    log.warning("cannot write %s (%d rows kept for a retry): %s", file.key, len(file.frame), error)
                    return False
                self._pending.pop(0)
                with self._lock:
                    self._waiting_rows -= len(file.frame)
                metrics.ROWS_LOGGED.inc(len(file.frame))
            return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a bug must not kill the flusher: the rows stay queued
                log.exception("prediction log flush failed")

    def close(self, deadline_seconds: float = 20.0) -> bool:
        """Stop the flusher and write what is left, retrying until the deadline; True if all written."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=deadline_seconds)
        end = time.monotonic() + deadline_seconds
        while not self.flush():
            if time.monotonic() >= end:
                log.error("stopping with %d prediction-log rows unwritten", self._waiting_rows)
                return False
            time.sleep(min(1.0, max(0.0, end - time.monotonic())))
        return True
