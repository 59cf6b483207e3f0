"""The model server's Prometheus metrics (`/metrics`), shared by every worker process.

With several workers (uvicorn processes) each keeps its own counters; prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the CLI before workers start) writes them to
files that `/metrics` aggregates, so any worker answers for all of them.
Ref: https://prometheus.github.io/client_python/multiprocess/
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds; the scoring of a small request is milliseconds, a cold or overloaded one seconds.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("mlops_serving_requests_total", "Scoring requests by outcome.", ["endpoint", "status"])
LATENCY = Histogram("mlops_serving_request_duration_seconds", "Time to answer a scoring request.", ["endpoint"],
                    buckets=LATENCY_BUCKETS)
ROWS_SCORED = Counter("mlops_serving_rows_scored_total", "Rows the model scored.")
ROWS_LOGGED = Counter("mlops_serving_rows_logged_total", "Scored rows written to the prediction log.")
# Reasons: buffer_full (object store slow or down), writer_died (rows a dead writer held),
# writer_down (no writer after too many deaths), closed (after shutdown began), unencodable,
# unreadable, shutdown_timeout (still unwritten at the shutdown deadline).
LOG_ROWS_DROPPED = Counter("mlops_serving_log_rows_dropped_total", "Scored rows not written to the prediction log.",
                           ["reason"])
LOG_VALUES_NULLED = Counter("mlops_serving_log_values_nulled_total",
                            "Logged values that could not take their column's type and were logged as null.",
                            ["column"])
LOG_WRITER_RESTARTS = Counter("mlops_serving_log_writer_restarts_total",
                              "Prediction-log writer processes that died (each is replaced).")
LOG_FLUSH_FAILURES = Counter("mlops_serving_log_flush_failures_total", "Failed writes of a prediction-log file.")
# Labelled, so a process that never loads a model (the prediction log's writer) exports no sample.
MODEL_VERSION = Gauge("mlops_serving_model_version", "The registered model version this worker serves.", ["model"],
                      multiprocess_mode="liveall")
MODEL_LOADS = Counter("mlops_serving_model_loads_total", "Model versions loaded, by outcome.", ["outcome"])


def exposition() -> bytes:
    """The text exposition of every worker's metrics (or this process's, with one worker)."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
