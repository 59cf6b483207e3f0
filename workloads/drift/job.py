"""The scheduled drift job: one MLflow run per (model version, interval), idempotent.

Order of work, so that nothing is half-written: read the reference profile and the interval's
data, compute the report and render both artifacts; only then create the MLflow run, log
everything, and mark it FINISHED. A rerun finds the FINISHED run and does nothing; an
unfinished run left by a crash is deleted and redone. The retrain hook is called after the run
is finished, at most once per interval (a tag records the call).
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from botocore.exceptions import ClientError
from mlflow.entities import Metric, RunStatus
from mlflow.tracking import MlflowClient

from workloads.drift.data import read_local, read_partition, read_s3_uri
from workloads.drift.engine import DriftReport, compare
from workloads.drift.hook import RetrainHook
from workloads.drift.intervals import DataInterval
from workloads.drift.profile import ReferenceProfile, build_profile
from workloads.drift.report import to_html, to_json
from workloads.drift.settings import DriftSettings

log = logging.getLogger("drift.job")

TAG_MODEL, TAG_VERSION = "mlops.model", "mlops.model_version"
TAG_START, TAG_END = "mlops.interval_start", "mlops.interval_end"
TAG_DRIFT, TAG_HOOK = "mlops.dataset_drift", "mlops.retrain_triggered"
REFERENCE_ARTIFACT = "reference/reference.parquet"


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


@dataclass(frozen=True)
class IntervalOutcome:
    interval: DataInterval
    status: str  # "logged" or "already logged"
    run_id: str
    dataset_drift: bool
    drifted_features: list[str]
    hook_called: bool


class DriftJob:
    def __init__(self, config: JobConfig, client: MlflowClient, s3):
        self.config, self.client, self.s3 = config, client, s3
        self.version, self.reference_run = self._resolve_version()
        self._profile: ReferenceProfile | None = None

    def _resolve_version(self) -> tuple[str, str | None]:
        c = self.config
        if c.model_version is not None:
            version = self.client.get_model_version(c.model, c.model_version)
        else:
            version = self.client.get_model_version_by_alias(c.model, c.model_alias)
        return str(version.version), version.run_id

    @property
    def experiment_name(self) -> str:
        return f"monitoring/{self.config.model}"

    # --- reference ---------------------------------------------------------------------------
    def profile(self) -> ReferenceProfile:
        """Build once per model version and settings; cached as .npz in the monitoring bucket."""
        if self._profile is None:
            relevant = {k: v for k, v in asdict(self.config.settings).items() if k in ("psi_bins", "mmd", "mmd_sample", "mmd_components", "seed")}
            source = self.config.reference_uri or f"runs:/{self.reference_run}/{self.config.reference_artifact}"
            digest = hashlib.sha256(json.dumps([source, relevant], sort_keys=True).encode()).hexdigest()[:16]
            key = f"{self.config.model}/_profiles/v{self.version}-{digest}.npz"
            try:
                data = self.s3.get_object(Bucket=self.config.bucket, Key=key)["Body"].read()
                self._profile = ReferenceProfile.from_bytes(data)
                log.info("reference profile: cached s3://%s/%s", self.config.bucket, key)
            except ClientError as error:
                if error.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                    raise
                self._profile = build_profile(self._reference_frame(), self.config.settings)
                self.s3.put_object(Bucket=self.config.bucket, Key=key, Body=self._profile.to_bytes())
                log.info("reference profile: built from %s, cached at s3://%s/%s", source, self.config.bucket, key)
        return self._profile

    def _reference_frame(self):
        if self.config.reference_uri:
            return read_s3_uri(self.s3, self.config.reference_uri)
        with tempfile.TemporaryDirectory() as tmp:
            path = self.client.download_artifacts(self.reference_run, self.config.reference_artifact, tmp)
            return read_local(path)

    # --- one interval ------------------------------------------------------------------------
    def _existing_runs(self, experiment_id: str, interval: DataInterval):
        query = (f"tags.`{TAG_START}` = '{interval.start.isoformat()}' "
                 f"and tags.`{TAG_VERSION}` = '{self.version}'")
        return self.client.search_runs([experiment_id], filter_string=query, max_results=10)

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(self.experiment_name)
        return experiment.experiment_id if experiment else self.client.create_experiment(self.experiment_name)

    def run(self, interval: DataInterval) -> IntervalOutcome:
        experiment_id = self._experiment_id()
        for existing in self._existing_runs(experiment_id, interval):
            if existing.info.status == RunStatus.to_string(RunStatus.FINISHED):
                log.info("interval %s of %s v%s already logged in run %s", interval, self.config.model, self.version, existing.info.run_id)
                drift = existing.data.tags.get(TAG_DRIFT) == "true"
                hook_called = self._maybe_trigger(existing.info.run_id, interval, drift, existing.data.tags, [])
                return IntervalOutcome(interval, "already logged", existing.info.run_id, drift, [], hook_called)
            log.warning("deleting unfinished run %s of interval %s (left by an earlier attempt)", existing.info.run_id, interval)
            self.client.delete_run(existing.info.run_id)

        current = read_partition(self.s3, self.config.bucket, self.config.model, interval)
        report = compare(self.profile(), current, self.config.settings)
        title = f"Data drift: {self.config.model} v{self.version}, interval {interval}"
        context = {"model": self.config.model, "model_version": self.version,
                   "interval_start": interval.start.isoformat(), "interval_end": interval.end.isoformat()}
        report_json, report_html = to_json(report, context), to_html(report, title)

        run_id = self._log(experiment_id, interval, report, report_json, report_html)
        hook_called = self._maybe_trigger(run_id, interval, report.dataset_drift, {}, report.drifted_features)
        return IntervalOutcome(interval, "logged", run_id, report.dataset_drift, report.drifted_features, hook_called)

    def _log(self, experiment_id: str, interval: DataInterval, report: DriftReport, report_json: str, report_html: str) -> str:
        tags = {TAG_MODEL: self.config.model, TAG_VERSION: self.version, TAG_START: interval.start.isoformat(),
                TAG_END: interval.end.isoformat(), TAG_DRIFT: str(report.dataset_drift).lower(),
                "mlflow.runName": f"{self.config.model}-v{self.version}-{interval.start.isoformat()}"}
        run_id = self.client.create_run(experiment_id, tags=tags).info.run_id
        try:
            self.client.log_batch(run_id, metrics=metrics_of(report, int(interval.end_time.timestamp() * 1000)))
            with tempfile.TemporaryDirectory() as tmp:
                for name, text in (("drift_report.json", report_json), ("drift_report.html", report_html)):
                    (Path(tmp) / name).write_text(text)
                    self.client.log_artifact(run_id, str(Path(tmp) / name))
        except Exception:
            self.client.set_terminated(run_id, status="FAILED")  # the next run of this interval redoes it
            raise
        self.client.set_terminated(run_id)
        log.info("interval %s: run %s, dataset drift %s, drifted %s", interval, run_id, report.dataset_drift, report.drifted_features or "none")
        return run_id

    def _maybe_trigger(self, run_id: str, interval: DataInterval, drift: bool, tags: dict, drifted: list[str]) -> bool:
        if not drift or self.config.hook is None or tags.get(TAG_HOOK) == "true":
            return False
        self.config.hook.trigger({"model": self.config.model, "modelVersion": self.version,
                                  "intervalStart": interval.start.isoformat(), "driftRunId": run_id,
                                  "driftedFeatures": ",".join(drifted)})
        self.client.set_tag(run_id, TAG_HOOK, "true")
        return True


def metrics_of(report: DriftReport, timestamp_ms: int) -> list[Metric]:
    values: dict[str, float] = {
        "dataset_drift": float(report.dataset_drift),
        "share_drifted": report.share_drifted,
        "drifted_features": float(len(report.drifted_features)),
        "rows_current": float(report.rows_current),
    }
    for feature in report.features:
        values[f"{feature.name}.drifted"] = float(feature.drifted)
        values[f"{feature.name}.psi"] = feature.psi
        for test in feature.tests:
            values[f"{feature.name}.{test.test}_statistic"] = test.statistic
            values[f"{feature.name}.{test.test}_p_value"] = test.p_value
    if report.multivariate is not None:
        values["mmd_statistic"] = report.multivariate.statistic
        values["mmd_p_value"] = report.multivariate.p_value
    return [Metric(key, float(value), timestamp_ms, 0) for key, value in values.items()]
