"""The scheduled drift job: one MLflow run per (model version, interval), idempotent.

Order of work, so that nothing is half-written: read the reference profile and the interval's
data, compute the report and render both artifacts; only then create the MLflow run, log
everything, and mark it FINISHED. A rerun finds the FINISHED run and does nothing; an
unfinished run left by a crash is deleted and redone. The retrain hook is called after the run
is finished, at most once per interval (a tag records the call).

A reference column without a single value is a property of the model version: the run is
FINISHED, decided on the other features (the hook is called on their drift), with the column
named in the tag `mlops.untested_columns` and in the report; the job exits 0 ("completed with
untested columns", said in its status line). Bad input that leaves something to compute (an
unreadable file among several, a missing column) is logged too, as a FAILED run holding the report
of what could be computed and the tag `mlops.problems`; the job then exits with the first
problem's code. A rerun, after the data is fixed, deletes that run and redoes the interval. The
hook is not called for such a run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from mlflow.entities import Metric, RunStatus
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from workloads import metric_names as names
from workloads import outcomes
from workloads.drift.data import open_local
from workloads.drift.engine import compare
from workloads.drift.errors import NotFoundError, Problem
from workloads.drift.hook import RetrainHook
from workloads.drift.intervals import DataInterval
from workloads.drift.performance import PENDING, TAG_PERFORMANCE, Performance, measure, prediction_frame, read_labels
from workloads.drift.prediction import TAG_PREDICTION_DRIFT, prediction_drift
from workloads.drift.profile import PROFILE_FORMAT, ReferenceProfile, build_profile
from workloads.drift.report import to_html, to_json
from workloads.drift.results import DriftReport
from workloads.drift.s3data import open_partition, open_s3_uri, s3_error
from workloads.drift.settings import DriftSettings
from workloads.drift.tracking import (
    TAG_DRIFT,
    TAG_END,
    TAG_HOOK,
    TAG_MODEL,
    TAG_START,
    TAG_VERSION,
    metrics_of,
    tags_of,
    trend_of,
)
from workloads.experiments import ensure_experiment
from workloads.tags import ENTITY_KEYS_TAG

log = logging.getLogger("drift.job")

REFERENCE_ARTIFACT = "reference/reference.parquet"
# MLflow error codes a retry cannot fix: the model, version, alias or artifact is not there,
# or the credentials are refused.
NOT_FOUND_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "PERMISSION_DENIED", "UNAUTHENTICATED"}
PROFILE_SETTINGS = ("psi_bins", "mmd", "mmd_sample", "mmd_components", "seed")


@dataclass(frozen=True)
class JobConfig:
    model: str
    model_version: str | None = None  # a registered version number, or ...
    model_alias: str | None = "champion"  # ... the alias that names it
    reference_uri: str | None = None  # s3://... parquet; default: the version's training-run artifact
    reference_artifact: str = REFERENCE_ARTIFACT
    bucket: str = "monitoring"
    settings: DriftSettings = DriftSettings()
    hook: RetrainHook | None = None
    labels_uri: str | None = None  # s3://... outcomes: performance per interval (performance.py)
    label_column: str = "churned"
    label_horizon_days: int = 30
    performance_floor: float | None = None  # an AUC below it calls the hook


@dataclass(frozen=True)
class IntervalOutcome:
    interval: DataInterval
    status: str  # "logged", "already logged" or "logged with problems" (and the untested columns)
    run_id: str
    dataset_drift: bool
    drifted_features: list[str]
    hook_called: bool
    problems: list[Problem] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.problems[0].exit_code if self.problems else 0


def not_found_or_raise(error: MlflowException, what: str) -> NotFoundError:
    if error.error_code in NOT_FOUND_CODES:
        return NotFoundError(f"{what}: {error.message}")
    raise error


class DriftJob:
    def __init__(self, config: JobConfig, client: MlflowClient, s3):
        self.config, self.client, self.s3 = config, client, s3
        self.version, self.reference_run = self._resolve_version()
        self._profile: ReferenceProfile | None = None

    def _resolve_version(self) -> tuple[str, str | None]:
        c = self.config
        what = f"model {c.model!r} " + (f"version {c.model_version}" if c.model_version is not None else f"alias {c.model_alias!r}")
        try:
            if c.model_version is not None:
                version = self.client.get_model_version(c.model, c.model_version)
            else:
                version = self.client.get_model_version_by_alias(c.model, c.model_alias)
        except MlflowException as error:
            raise not_found_or_raise(error, what) from None
        return str(version.version), version.run_id

    @property
    def experiment_name(self) -> str:
        return f"monitoring/{self.config.model}"

    # --- reference ---------------------------------------------------------------------------
    def profile(self) -> ReferenceProfile:
        """Build once per model version and settings; cached as .npz in the monitoring bucket."""
        if self._profile is None:
            relevant = {k: v for k, v in asdict(self.config.settings).items() if k in PROFILE_SETTINGS}
            source = self.config.reference_uri or f"runs:/{self.reference_run}/{self.config.reference_artifact}"
            digest = hashlib.sha256(json.dumps([source, relevant, PROFILE_FORMAT], sort_keys=True).encode()).hexdigest()[:16]
            key = f"{self.config.model}/_profiles/v{self.version}-{digest}.npz"
            self._profile = self._cached_profile(key)
            if self._profile is None:
                self._profile = self._build_profile()
                self._put(key, self._profile.to_bytes())
                log.info("reference profile: built from %s, cached at s3://%s/%s", source, self.config.bucket, key)
        return self._profile

    def _cached_profile(self, key: str) -> ReferenceProfile | None:
        try:
            data = self.s3.get_object(Bucket=self.config.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise s3_error(error, f"s3://{self.config.bucket}/{key}") from None
        except BotoCoreError as error:
            raise s3_error(error, f"s3://{self.config.bucket}/{key}") from None
        log.info("reference profile: cached s3://%s/%s", self.config.bucket, key)
        return ReferenceProfile.from_bytes(data)

    def _put(self, key: str, body: bytes) -> None:
        try:
            self.s3.put_object(Bucket=self.config.bucket, Key=key, Body=body)
        except (ClientError, BotoCoreError) as error:
            raise s3_error(error, f"s3://{self.config.bucket}/{key}") from None

    def _build_profile(self) -> ReferenceProfile:
        if self.config.reference_uri:
            return build_profile(open_s3_uri(self.s3, self.config.reference_uri), self.config.settings)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.client.download_artifacts(self.reference_run, self.config.reference_artifact, tmp)
            except MlflowException as error:
                raise not_found_or_raise(error, f"reference artifact {self.config.reference_artifact} of run "
                                                f"{self.reference_run}") from None
            except OSError as error:  # an artifact store that says "absent" with a file error
                raise NotFoundError(f"reference artifact {self.config.reference_artifact} of run "
                                    f"{self.reference_run}: {error}") from None
            return build_profile(open_local(path), self.config.settings)

    # --- one interval ------------------------------------------------------------------------
    def _existing_runs(self, experiment_id: str, interval: DataInterval):
        query = (f"tags.`{TAG_START}` = '{interval.start.isoformat()}' "
                 f"and tags.`{TAG_VERSION}` = '{self.version}'")
        return self.client.search_runs([experiment_id], filter_string=query, max_results=10)

    def _experiment_id(self) -> str:
        return ensure_experiment(self.client, self.experiment_name)

    def _trend(self, experiment_id: str, interval: DataInterval, report: DriftReport) -> list[dict]:
        runs = self.client.search_runs([experiment_id], filter_string=f"tags.`{TAG_MODEL}` = '{self.config.model}'",
                                       order_by=[f"tags.`{TAG_START}` DESC"], max_results=100)
        return trend_of(runs, interval.start.isoformat(), [f.name for f in report.features])

    def run(self, interval: DataInterval) -> IntervalOutcome:
        experiment_id = self._experiment_id()
        for existing in self._existing_runs(experiment_id, interval):
            if existing.info.status == RunStatus.to_string(RunStatus.FINISHED):
                return self._revisit(existing, interval)
            log.warning("deleting %s run %s of interval %s (left by an earlier attempt)",
                        existing.info.status.lower(), existing.info.run_id, interval)
            self.client.delete_run(existing.info.run_id)

        current = open_partition(self.s3, self.config.bucket, self.config.model, interval)
        report = compare(self.profile(), current, self.config.settings)
        predictions, why = prediction_drift(self.client, self.reference_run, current, self.config.settings)
        report.trend = self._trend(experiment_id, interval, report)
        title = f"Data drift: {self.config.model} v{self.version}, interval {interval}"
        context = {"model": self.config.model, "model_version": self.version,
                   "interval_start": interval.start.isoformat(), "interval_end": interval.end.isoformat()}
        report_json, report_html = to_json(report, context), to_html(report, title)

        performance = self._performance(current)
        self._record(report)

        def also(run: str) -> None:
            self._log_predictions(run, interval, predictions, why, context)
            self._log_performance(run, interval, performance)

        run_id = self._log(experiment_id, interval, report, report_json, report_html, also)
        hook_called = False
        if report.problems:
            log.warning("interval %s: bad input, retrain hook not called: %s", interval, "; ".join(p.message for p in report.problems))
        else:
            hook_called = self._maybe_trigger(run_id, interval, report.dataset_drift or self._below_floor(performance),
                                              {}, report.drifted_features)
        status = "logged with problems" if report.problems else "logged"
        if report.untested_columns:
            status += "; not tested (no value in the reference): " + ", ".join(c["name"] for c in report.untested_columns)
        return IntervalOutcome(interval, status, run_id, report.dataset_drift, report.drifted_features, hook_called, report.problems)

    def _log(self, experiment_id: str, interval: DataInterval, report: DriftReport, report_json: str, report_html: str,
             also: Callable[[str], None]) -> str:
        """Create the interval's run, log the report (and whatever `also` logs), then finish it."""
        tags = {TAG_MODEL: self.config.model, TAG_VERSION: self.version, TAG_START: interval.start.isoformat(),
                TAG_END: interval.end.isoformat(), **tags_of(report),
                "mlflow.runName": f"{self.config.model}-v{self.version}-{interval.start.isoformat()}"}
        run_id = self.client.create_run(experiment_id, tags=tags).info.run_id
        try:
            self.client.log_batch(run_id, metrics=metrics_of(report, int(interval.end_time.timestamp() * 1000)))
            with tempfile.TemporaryDirectory() as tmp:
                for name, text in (("drift_report.json", report_json), ("drift_report.html", report_html)):
                    (Path(tmp) / name).write_text(text)
                    self.client.log_artifact(run_id, str(Path(tmp) / name))
            also(run_id)
        except Exception:
            self.client.set_terminated(run_id, status="FAILED")  # the next run of this interval redoes it
            raise
        # A run with bad input holds what could be computed but stays FAILED, so a rerun redoes it.
        self.client.set_terminated(run_id, status="FAILED" if report.problems else "FINISHED")
        log.info("interval %s: run %s, dataset drift %s, drifted %s", interval, run_id, report.dataset_drift, report.drifted_features or "none")
        return run_id

    def _log_predictions(self, run_id: str, interval: DataInterval, report: DriftReport | None, why: str,
                         context: dict) -> None:
        """Prediction drift into the interval's run (see workloads/drift/prediction.py)."""
        if report is None:
            self.client.set_tag(run_id, TAG_PREDICTION_DRIFT, f"not compared: {why}")
            return
        timestamp = int(interval.end_time.timestamp() * 1000)
        metrics = [Metric(f"prediction.{m.key}", m.value, m.timestamp, m.step) for m in metrics_of(report, timestamp)]
        self.client.log_batch(run_id, metrics=metrics)
        self.client.set_tag(run_id, TAG_PREDICTION_DRIFT, str(report.dataset_drift).lower())
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "prediction_drift_report.json"
            path.write_text(to_json(report, context))
            self.client.log_artifact(run_id, str(path))

    # --- performance with delayed labels (performance.py) -----------------------------------
    def _performance(self, current) -> Performance | None:
        if not self.config.labels_uri:
            return None
        keys = [k for k in self._run_tags().get(ENTITY_KEYS_TAG, "").split(",") if k]
        frame = prediction_frame(current, [*keys, "timestamp", "probability", "prediction"])
        labels = read_labels(self.s3, self.config.labels_uri)
        return measure(frame, labels, keys, self.config.label_column,
                       pd.Timedelta(days=self.config.label_horizon_days))

    def _run_tags(self) -> dict[str, str]:
        return self.client.get_run(self.reference_run).data.tags if self.reference_run else {}

    def _record(self, report: DriftReport) -> None:
        """The interval's result as batch-outcome metrics (workloads/outcomes.py)."""
        tested = [f for f in report.features if f.status == "tested"]
        outcomes.record(names.JOB_ROWS, report.rows_current)
        outcomes.record(names.DRIFT_DATASET_DRIFT, report.dataset_drift)
        outcomes.record(names.DRIFT_DRIFTED_FEATURES, len(report.drifted_features))
        outcomes.record(names.DRIFT_TESTED_FEATURES, len(tested))
        if tested:
            outcomes.record(names.DRIFT_MIN_P_VALUE, min(f.smallest_adjusted_p() for f in tested))
        if self.config.performance_floor is not None:
            outcomes.record(names.DRIFT_PERFORMANCE_FLOOR, self.config.performance_floor)

    def _log_performance(self, run_id: str, interval: DataInterval, performance: Performance | None) -> None:
        if performance is None:
            return
        if performance.auc is not None:  # pending intervals come oldest first: the newest stays
            outcomes.record(names.DRIFT_AUC, performance.auc)
        self.client.set_tag(run_id, TAG_PERFORMANCE, performance.tag)
        stamp = int(interval.end_time.timestamp() * 1000)
        metrics = [Metric("performance.rows", performance.rows, stamp, 0),
                   Metric("performance.labelled_rows", performance.labelled, stamp, 0)]
        if performance.auc is not None:
            metrics.append(Metric("performance.auc", performance.auc, stamp, 0))
        self.client.log_batch(run_id, metrics=metrics)

    def _below_floor(self, performance: Performance | None) -> bool:
        floor = self.config.performance_floor
        return bool(floor is not None and performance is not None and performance.auc is not None
                    and performance.auc < floor)

    def _revisit(self, existing, interval: DataInterval) -> IntervalOutcome:
        """A logged interval: fill in its performance if its labels were pending and have arrived
        (the same run: a backfill never duplicates), then the hook if still due."""
        run_id, tags = existing.info.run_id, existing.data.tags
        log.info("interval %s of %s v%s already logged in run %s", interval, self.config.model, self.version, run_id)
        drift, status, below = tags.get(TAG_DRIFT) == "true", "already logged", False
        if self.config.labels_uri and tags.get(TAG_PERFORMANCE, PENDING) == PENDING:
            performance = self._performance(open_partition(self.s3, self.config.bucket, self.config.model, interval))
            if performance is not None and performance.auc is not None:
                self._log_performance(run_id, interval, performance)
                status, below = "already logged, performance added", self._below_floor(performance)
        hook_called = self._maybe_trigger(run_id, interval, drift or below, tags, [])
        return IntervalOutcome(interval, status, run_id, drift, [], hook_called)

    def pending_intervals(self, before: DataInterval, now: date) -> list[DataInterval]:
        """Earlier intervals of this model version whose runs still say `labels pending` and whose
        predictions can still get labels (started within the label horizon), oldest first; empty
        without `labels_uri`. The nightly `run` revisits them, so late outcomes need no backfill."""
        if not self.config.labels_uri:
            return []
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        if experiment is None:
            return []
        oldest = now - timedelta(days=self.config.label_horizon_days)
        query = (f"tags.`{TAG_VERSION}` = '{self.version}' and tags.`{TAG_PERFORMANCE}` = '{PENDING}' "
                 f"and attributes.status = 'FINISHED'")
        runs = self.client.search_runs([experiment.experiment_id], filter_string=query, max_results=1000)
        starts = {date.fromisoformat(run.data.tags[TAG_START]) for run in runs if TAG_START in run.data.tags}
        return [DataInterval.stamped(day) for day in sorted(starts) if oldest <= day < before.start]

    def _maybe_trigger(self, run_id: str, interval: DataInterval, drift: bool, tags: dict, drifted: list[str]) -> bool:
        if not drift or self.config.hook is None or tags.get(TAG_HOOK) == "true":
            return False
        self.config.hook.trigger({"model": self.config.model, "modelVersion": self.version,
                                  "intervalStart": interval.start.isoformat(), "driftRunId": run_id,
                                  "driftedFeatures": ",".join(drifted)})
        self.client.set_tag(run_id, TAG_HOOK, "true")
        return True
