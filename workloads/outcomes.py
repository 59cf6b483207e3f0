"""Batch Jobs' outcomes as Prometheus metrics, pushed to a Pushgateway when the run ends.

A CronJob's pod is gone before Prometheus could scrape it, so each run pushes its result once
(Prometheus' documented use of the Pushgateway: service-level batch jobs,
https://prometheus.io/docs/practices/pushing/). Grouping key {job, model}: `job` one of
`metric_names.BATCH_JOBS`, `model` the registered model (no other labels: one series per job and
model, never per run). The push is a POST (`pushadd`), which replaces only the metrics it carries,
so the last success's timestamp survives a failed run and a stale-success alert can fire.

The job's code records what it learnt with `record(name, value)` while it runs; `cli.main` calls
`report` with the exit code when the command returns. Without `MLOPS_PUSHGATEWAY_URL` nothing is
pushed; a push that fails is logged to stderr and never changes the job's exit code.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field

from workloads import metric_names as names

GATEWAY_ENV = "MLOPS_PUSHGATEWAY_URL"
PUSH_TIMEOUT_SECONDS = 5.0

HELP = {
    names.JOB_LAST_RUN: "When the job's last run ended (Unix time).",
    names.JOB_LAST_SUCCESS: "When the job last succeeded (Unix time).",
    names.JOB_LAST_FAILURE: "When the job last failed (Unix time).",
    names.JOB_SUCCEEDED: "1 if the last run succeeded, else 0.",
    names.JOB_EXIT_CODE: "Exit code of the last run.",
    names.JOB_DURATION: "Duration of the last run in seconds.",
    names.JOB_ROWS: "Rows the last run read.",
    names.DRIFT_DATASET_DRIFT: "1 if the last interval showed dataset drift, else 0.",
    names.DRIFT_DRIFTED_FEATURES: "Features that drifted in the last interval.",
    names.DRIFT_TESTED_FEATURES: "Features tested in the last interval.",
    names.DRIFT_MIN_P_VALUE: "Smallest corrected p-value of the last interval's family of tests.",
    names.DRIFT_AUC: "AUC of the newest interval whose labels have landed.",
    names.DRIFT_PERFORMANCE_FLOOR: "The AUC under which the model counts as degraded.",
    names.TRAINING_PROMOTED: "1 if the last run's challenger became champion, 0 if the champion stayed.",
    names.TRAINING_CHAMPION_VERSION: "Registered version holding the champion alias after the last run.",
    names.BACKUP_NEWEST: "When the newest backup was written (Unix time).",
    names.BACKUP_NEWEST_VERIFIED: "When the newest backup that restored and checked out was written (Unix time).",
}


@dataclass
class _Run:
    started: float = field(default_factory=time.time)
    values: dict[str, float] = field(default_factory=dict)


_run = _Run()


def start() -> None:
    """Forget what an earlier command in this process recorded (cli.main calls it first)."""
    global _run
    _run = _Run()


def record(name: str, value: float | int | bool) -> None:
    """Remember one of the run's results (a `metric_names` constant with an entry in HELP)."""
    if name not in HELP:
        raise KeyError(f"{name} is not a batch outcome metric (workloads/metric_names.py)")
    _run.values[name] = float(value)


def recorded() -> dict[str, float]:
    return dict(_run.values)


def outcome_values(exit_code: int, started: float, ended: float, values: dict[str, float], *,
                   succeeded: bool | None = None) -> dict[str, float]:
    """Every metric of one run: the recorded values plus the run's status, times and duration.
    `succeeded` defaults to exit code 0."""
    succeeded = exit_code == 0 if succeeded is None else succeeded
    status = {names.JOB_LAST_RUN: ended, names.JOB_SUCCEEDED: float(succeeded), names.JOB_EXIT_CODE: float(exit_code),
              names.JOB_DURATION: max(ended - started, 0.0),
              (names.JOB_LAST_SUCCESS if succeeded else names.JOB_LAST_FAILURE): ended}
    return {**values, **status}


def report(job: str, model: str | None, exit_code: int, *, succeeded: bool | None = None,
           gateway: str | None = None) -> bool:
    """Push the run's outcome under {job, model}; True if pushed. Never raises: a monitoring outage
    must not fail (or retry) the job whose work is already done."""
    gateway = gateway or os.environ.get(GATEWAY_ENV)
    if not gateway:
        return False
    try:
        from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

        registry = CollectorRegistry()
        for name, value in outcome_values(exit_code, _run.started, time.time(), _run.values,
                                                   succeeded=succeeded).items():
            Gauge(name, HELP[name], registry=registry).set(value)
        grouping = {"model": model} if model else {}
        pushadd_to_gateway(gateway, job=job, registry=registry, grouping_key=grouping, timeout=PUSH_TIMEOUT_SECONDS)
        return True
    except Exception as error:  # noqa: BLE001 - any failure: say so, keep the job's own result
        print(f"outcome of {job}{f' ({model})' if model else ''} not pushed to {gateway}: "
              f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
        return False
