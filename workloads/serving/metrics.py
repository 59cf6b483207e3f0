"""The model server's Prometheus metrics (`/metrics`), shared by every worker process.

With several workers (uvicorn processes) each keeps its own counters; prometheus_client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the CLI before workers start) writes them to
files that `/metrics` aggregates, so any worker answers for all of them.
Ref: https://prometheus.github.io/client_python/multiprocess/
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from workloads import metric_names as names

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "mlops_serving_"  # only these families are exported (see `exposition`)

REQUESTS = Counter(names.SERVING_REQUESTS, "Scoring requests by outcome.", ["endpoint", "status"])
LATENCY = Histogram(names.SERVING_LATENCY, "Time to answer a scoring request.", ["endpoint"],
                    buckets=names.LATENCY_BUCKETS)
ROWS_SCORED = Counter(names.SERVING_ROWS_SCORED, "Rows the model scored.")
ROWS_LOGGED = Counter(names.SERVING_ROWS_LOGGED, "Scored rows written to the prediction log.")
# Reasons (names.LOG_DROP_REASONS): buffer_full (object store slow or down), writer_died (rows a
# dead writer held), writer_down (no writer after too many deaths), closed (after shutdown began),
# unencodable, unreadable, shutdown_timeout (still unwritten at the shutdown deadline).
LOG_ROWS_DROPPED = Counter(names.SERVING_LOG_ROWS_DROPPED, "Scored rows not written to the prediction log.",
                           ["reason"])
LOG_VALUES_NULLED = Counter(names.SERVING_LOG_VALUES_NULLED,
                            "Logged values that could not take their column's type and were logged as null.",
                            ["column"])
LOG_WRITER_RESTARTS = Counter(names.SERVING_LOG_WRITER_RESTARTS,
                              "Prediction-log writer processes that died (each is replaced).")
LOG_FLUSH_FAILURES = Counter(names.SERVING_LOG_FLUSH_FAILURES, "Failed writes of a prediction-log file.")
# Labelled, so a process that never loads a model (the prediction log's writer) exports no sample.
MODEL_VERSION = Gauge(names.SERVING_MODEL_VERSION, "The registered model version this worker serves.", ["model"],
                      multiprocess_mode="liveall")
MODEL_LOADS = Counter(names.SERVING_MODEL_LOADS, "Model versions loaded, by outcome.", ["outcome"])


def initialise_labels() -> None:
    """Export every known label value at 0 from the start: Prometheus' `increase()` cannot see the
    first increment of a series that appears at 1, so an alert on the first dropped row would miss
    it (https://prometheus.io/docs/practices/instrumentation/#avoid-missing-metrics)."""
    for reason in names.LOG_DROP_REASONS:
        LOG_ROWS_DROPPED.labels(reason)
    for outcome in names.MODEL_LOAD_OUTCOMES:
        MODEL_LOADS.labels(outcome)
    REQUESTS.labels("invocations", "200")
    REQUESTS.labels("invocations", "500")


class _OwnFamilies:
    """A collector that passes on only the model server's own families: a library that registers
    metrics in a worker (Feast's client registers feature-server metrics at import) would otherwise
    export zeros that look like a feature server's."""

    def __init__(self, source) -> None:
        self._source = source

    def collect(self):
        return (family for family in self._source.collect() if family.name.startswith(PREFIX))


def exposition() -> bytes:
    """The text exposition of every worker's metrics (or this process's, with one worker)."""
    if os.environ.get(MULTIPROC_ENV):
        source = CollectorRegistry()
        MultiProcessCollector(source)
    else:
        source = REGISTRY
    registry = CollectorRegistry()
    registry.register(_OwnFamilies(source))
    return generate_latest(registry)
