"""The prediction log ("inference table"): every scored row, appended to the object store off the
request path, in the daily partitions the drift monitor reads.

Rows go to `s3://<bucket>/<model>/dt=YYYY-MM-DD/<writer>-<sequence>.parquet`, partitioned by the
UTC date of the prediction, so the drift job's interval [D, D+1) reads exactly the predictions of
day D. Each row holds the features the model saw (cast to its signature's dtypes, the reference
data's), `prediction` (and `probability` of the positive class for binary classifiers),
`request_id`, UTC `timestamp` and `model_version`.

Guarantees:
- Never on the request path: the server calls `append` after the response is sent; it counts the
  rows, pickles them (tens of microseconds) and adds the bytes to a list. Every `SHIP_SECONDS` a
  thread sends the list as one message to the worker's writer process (log_writer.py), which
  builds, encodes and uploads the files. Neither a slow object store nor the work of logging
  delays or fails a prediction. Pickling each record as it comes, rather than the whole batch in
  the queue's feeder thread, spreads that work: a batch of DataFrames held the interpreter's lock
  for milliseconds five times a second, which showed in the p99 of single-client requests.
- Bounded memory: past `max_rows` rows waiting (queued, or in files whose upload failed), new rows
  are dropped, counted (`mlops_serving_rows_dropped_total`) and reported once per `flush_seconds`.
- Whole files only: a file is one S3 PutObject of the complete parquet body, and S3 makes an
  object visible only once fully written. A failed upload is retried under the same name, so a
  retry after a lost response overwrites rather than duplicates.
- Distinct writers: file names carry the host, the writer's process ID and a random writer ID, and
  a sequence number per file, so no two workers or replicas ever write the same object.
- Nothing acknowledged is lost on a clean stop: `close` sends the writer its end marker after the
  last request and waits while it writes everything (the server calls it on SIGTERM).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import threading
import time
from datetime import datetime

import pandas as pd

from workloads.serving import metrics
from workloads.serving.log_writer import LogRecord, WriterConfig, writer_main
from workloads.serving.model import LoadedModel

log = logging.getLogger("serving.prediction_log")
SHIP_SECONDS = 0.2  # how long rows wait in the worker before going to its writer, at most


class PredictionLog:
    """The worker's side: a bounded count of waiting rows, a queue, and the writer process."""

    def __init__(self, config: WriterConfig, *, max_rows: int = 100_000):
        context = multiprocessing.get_context("spawn")
        self.config, self.max_rows = config, max_rows
        self._records = context.Queue()
        self._waiting = context.Value("q", 0)  # rows accepted and not yet written, shared with the writer
        self._process = context.Process(target=writer_main, args=(config, self._records, self._waiting, os.getpid()),
                                        name="prediction-log", daemon=False)
        self._dropped_since_warning, self._last_warning = 0, 0.0
        self._batch: list[bytes] = []  # pickled LogRecords
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._shipper = threading.Thread(target=self._ship_every, name="prediction-log-shipper", daemon=True)

    @property
    def waiting_rows(self) -> int:
        return self._waiting.value

    def append(self, features: pd.DataFrame, predictions, request_id: str, timestamp: datetime,
               model: LoadedModel) -> bool:
        """Queue a request's rows; False (and counted as dropped) when `max_rows` already wait."""
        rows = len(features)
        with self._waiting.get_lock():
            full = self._waiting.value + rows > self.max_rows
            if not full:
                self._waiting.value += rows
        if full:
            self._dropped(rows)
            return False
        record = pickle.dumps(LogRecord(features, predictions, request_id, timestamp, model.version, model.path,
                                        model.dtypes), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if not self._closing.is_set():
                self._batch.append(record)
                return True
        with self._waiting.get_lock():  # after close: nothing will send it
            self._waiting.value -= rows
        self._dropped(rows)
        return False

    def _ship(self) -> None:
        """Send what the requests added since the last time, as one message."""
        with self._lock:
            batch, self._batch = self._batch, []
        if batch:
            self._records.put(batch)

    def _ship_every(self) -> None:
        while not self._closing.wait(SHIP_SECONDS):
            self._ship()

    def _dropped(self, rows: int) -> None:
        metrics.ROWS_DROPPED.inc(rows)
        self._dropped_since_warning += rows
        now = time.monotonic()
        if now - self._last_warning >= self.config.flush_seconds:
            log.warning("prediction log full (%d rows waiting, the object store is slow or down): dropped %d rows",
                        self._waiting.value, self._dropped_since_warning)
            self._dropped_since_warning, self._last_warning = 0, now

    def start(self) -> None:
        self._process.start()
        self._shipper.start()

    def close(self) -> bool:
        """Send the last rows and the end marker, and wait for the writer to write everything (or
        its deadline)."""
        with self._lock:
            self._closing.set()
        if self._shipper.is_alive():
            self._shipper.join()
        self._ship()
        self._records.put(None)
        self._process.join(self.config.shutdown_seconds + 10)
        if self._process.is_alive():
            log.error("the prediction-log writer did not stop in time; %d rows unwritten", self._waiting.value)
            self._process.terminate()
            return False
        return self._waiting.value == 0
