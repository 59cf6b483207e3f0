"""The prediction log ("inference table"): every scored row, appended to the object store off the
request path, in the daily partitions the drift monitor reads.

Rows go to `s3://<bucket>/<model>/dt=YYYY-MM-DD/<writer>-<sequence>.parquet`, partitioned by the
UTC date of the prediction, so the drift job's interval [D, D+1) reads exactly the predictions of
day D. Each row holds the features the model saw and its entity keys, `prediction` (and
`probability` of the positive class for binary classifiers), `request_id`, UTC `timestamp` and
`model_version`, with the types of the version's log schema (log_schema.py): every file of a
version has the same columns and types.

Guarantees:
- Never on the request path: the server calls `append` after the response is sent; it counts the
  rows, pickles them (tens of microseconds) and adds the bytes to a list. Every `SHIP_SECONDS` a
  thread sends the list as one message to the worker's writer process (log_writer.py), which
  builds, encodes and uploads the files. Neither a slow object store nor the work of logging
  delays or fails a prediction. Pickling each record as it comes, rather than the whole batch in
  the queue's feeder thread, spreads that work: a batch of DataFrames held the interpreter's lock
  for milliseconds five times a second, which showed in the p99 of single-client requests.
- Bounded memory: past `max_rows` rows waiting (queued, or in files whose upload failed), new rows
  are dropped, counted (`mlops_serving_log_rows_dropped_total{reason="buffer_full"}`) and
  reported once per `flush_seconds`.
- Supervised: a writer that dies (killed, out of memory, a bug) is replaced at once; its death is
  counted (`mlops_serving_log_writer_restarts_total`) and the rows it held are counted as dropped
  (`reason="writer_died"`). While no writer can take rows, `accepting` is False and the server is
  not ready. After `MAX_RESTARTS` deaths within `RESTART_WINDOW_SECONDS` the log gives up: it
  refuses rows (counted, `reason="writer_down"`) and calls `on_give_up` (the server then stops the
  worker, so that uvicorn or Kubernetes starts a fresh one).
- Whole files only: a file is one S3 PutObject of the complete parquet body, and S3 makes an
  object visible only once fully written. A failed upload is retried under the same name, so a
  retry after a lost response overwrites rather than duplicates.
- Distinct writers: file names carry the host, the writer's process ID and a random writer ID, and
  a sequence number per file, so no two workers or replicas ever write the same object.
- Nothing acknowledged is lost on a clean stop: `close` sends the writer its end marker after the
  last request and waits while it writes everything (the server calls it on SIGTERM).
"""

from __future__ import annotations

import collections
import logging
import multiprocessing
import os
import pickle
import threading
import time
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from workloads.serving import metrics
from workloads.serving.log_writer import UNWRITTEN_EXIT, LogRecord, WriterConfig, writer_main
from workloads.serving.model import LoadedModel

log = logging.getLogger("serving.prediction_log")
SHIP_SECONDS = 0.2  # how long rows wait in the worker before going to its writer, at most
MAX_RESTARTS, RESTART_WINDOW_SECONDS = 5, 600.0  # a writer dying more often than this is crash-looping


class RestartBudget:
    """At most `limit` restarts within any `window` seconds."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self._times: collections.deque[float] = collections.deque()

    def allow(self, now: float) -> bool:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        if len(self._times) >= self.limit:
            return False
        self._times.append(now)
        return True


@dataclass(frozen=True)
class Writer:
    """One writer process and what it reads: its own queue, and the flag it sets once it can write."""

    process: multiprocessing.process.BaseProcess
    records: multiprocessing.queues.Queue
    ready: object  # a shared byte, 1 once the writer is set up

    def abandon(self) -> None:
        """Forget the queue of a dead writer: what is in it is lost (and counted by the caller);
        our feeder thread must not wait at exit for a reader that is gone."""
        self.records.cancel_join_thread()
        self.records.close()


class PredictionLog:
    """The worker's side: a bounded count of waiting rows, and the supervised writer process."""

    def __init__(self, config: WriterConfig, *, max_rows: int = 100_000, on_give_up=None):
        self._context = multiprocessing.get_context("spawn")
        self.config, self.max_rows, self.on_give_up = config, max_rows, on_give_up
        self._waiting = self._context.Value("q", 0)  # rows accepted and not yet written, shared with the writer
        self._writer: Writer | None = None
        self._restarts = RestartBudget(MAX_RESTARTS, RESTART_WINDOW_SECONDS)
        self._given_up = False
        self._dropped_since_warning, self._last_warning = 0, 0.0
        self._batch: list[tuple[int, bytes]] = []  # (rows, pickled LogRecord)
        self._batch_rows = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._shipper = threading.Thread(target=self._ship_every, name="prediction-log-shipper", daemon=True)

    @property
    def waiting_rows(self) -> int:
        return self._waiting.value

    @property
    def writer_pid(self) -> int | None:
        return self._writer.process.pid if self._writer else None

    @property
    def accepting(self) -> bool:
        """Whether rows reach a live writer: the server's readiness includes it."""
        writer = self._writer
        return (writer is not None and not self._given_up and not self._closing.is_set() and writer.ready.value == 1
                and writer.process.is_alive())

    def append(self, features: pd.DataFrame, predictions, request_id: str, timestamp: datetime,
               model: LoadedModel) -> bool:
        """Queue a request's rows; False (and counted as dropped) when they cannot be taken."""
        rows = len(features)
        if self._given_up:
            self._dropped(rows, "writer_down")
            return False
        with self._waiting.get_lock():
            full = self._waiting.value + rows > self.max_rows
            if not full:
                self._waiting.value += rows
        if full:
            self._dropped(rows, "buffer_full")
            return False
        record = pickle.dumps(LogRecord(features, predictions, request_id, timestamp, model.version, model.path,
                                        model.log_schema), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            if not self._closing.is_set():
                self._batch.append((rows, record))
                self._batch_rows += rows
                return True
        self._forget(rows)  # after close: nothing will send it
        self._dropped(rows, "closed")
        return False

    def _forget(self, rows: int) -> None:
        with self._waiting.get_lock():
            self._waiting.value -= rows

    def _ship(self) -> None:
        """Send what the requests added since the last time, as one message."""
        with self._lock:
            batch, self._batch, self._batch_rows = self._batch, [], 0
        if not batch:
            return
        if self._writer is None or self._given_up:
            rows = sum(rows for rows, _ in batch)
            self._forget(rows)
            self._dropped(rows, "writer_down")
            return
        self._writer.records.put(batch)

    def _ship_every(self) -> None:
        while not self._closing.wait(SHIP_SECONDS):
            self.supervise()
            self._ship()

    def _spawn(self) -> None:
        records, ready = self._context.Queue(), self._context.Value("b", 0)
        process = self._context.Process(target=writer_main, name="prediction-log", daemon=False,
                                        args=(self.config, records, self._waiting, ready, os.getpid()))
        process.start()
        self._writer = Writer(process, records, ready)

    def supervise(self) -> None:
        """Replace a writer that died: count its death and the rows it held, and start another
        (or give up past the restart budget). Called by the shipper thread, and by `close`."""
        writer = self._writer
        if writer is None or self._given_up or writer.process.is_alive():
            return
        # Rows not yet shipped go to the next writer; the rest died with this one.
        with self._lock, self._waiting.get_lock():
            lost = max(0, self._waiting.value - self._batch_rows)
            self._waiting.value -= lost
        writer.abandon()
        metrics.LOG_WRITER_RESTARTS.inc()
        if lost:
            metrics.LOG_ROWS_DROPPED.labels("writer_died").inc(lost)
        log.error("the prediction-log writer (pid %s) died with exit code %s: %d rows it held are lost",
                  writer.process.pid, writer.process.exitcode, lost)
        if self._restarts.allow(time.monotonic()):
            self._spawn()
            log.warning("prediction-log writer restarted (pid %s)", self._writer.process.pid)
            return
        self._given_up = True
        log.error("the prediction-log writer died %d times within %.0f s: giving up; rows are refused (counted) "
                  "and the worker stops so that a fresh one is started", MAX_RESTARTS, RESTART_WINDOW_SECONDS)
        if self.on_give_up is not None:
            self.on_give_up()

    def _dropped(self, rows: int, reason: str) -> None:
        metrics.LOG_ROWS_DROPPED.labels(reason).inc(rows)
        self._dropped_since_warning += rows
        now = time.monotonic()
        if now - self._last_warning >= self.config.flush_seconds:
            why = {"buffer_full": f"{self._waiting.value} rows waiting, the object store is slow or down",
                   "writer_down": "no prediction-log writer"}.get(reason, reason)
            log.warning("prediction log (%s): dropped %d rows", why, self._dropped_since_warning)
            self._dropped_since_warning, self._last_warning = 0, now

    def start(self) -> None:
        self._spawn()
        self._shipper.start()

    def close(self) -> bool:
        """Send the last rows and the end marker, and wait for the writer to write everything (or
        its deadline); True when every accepted row was written. What could not be is counted and
        said in the server's log."""
        with self._lock:
            self._closing.set()
        if self._shipper.is_alive():
            self._shipper.join()
        self.supervise()  # a writer found dead now is replaced, so the last rows are still written
        self._ship()
        writer = self._writer
        if writer is None or self._given_up:
            return self._closed(0)
        writer.records.put(None)
        writer.process.join(self.config.shutdown_seconds + 10)
        if writer.process.is_alive():
            log.error("the prediction-log writer did not stop in time")
            writer.process.terminate()
            writer.process.join(5)
        timed_out = writer.process.exitcode in (UNWRITTEN_EXIT, -15)
        return self._closed(self._waiting.value, "shutdown_timeout" if timed_out else "writer_died")

    def _closed(self, unwritten: int, reason: str = "writer_down") -> bool:
        if unwritten > 0:
            self._forget(unwritten)
            metrics.LOG_ROWS_DROPPED.labels(reason).inc(unwritten)
            log.error("prediction log closed: %d accepted rows were not written (%s)", unwritten, reason)
            return False
        log.info("prediction log closed: every accepted row was written")
        return True
