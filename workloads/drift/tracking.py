"""What a drift run records in MLflow (metrics, tags) and the trend read back from earlier runs.

Metric keys carry feature names, so they are made safe for MLflow (letters, digits, `_ - . `
and spaces; at most 250 characters) rather than letting one odd column name fail the run. The
tag `mlops.drifted_features` lists the drifted features, comma-separated, so the MLflow UI can
filter runs: tags.`mlops.drifted_features` LIKE '%monthly_charges%'.
"""

from __future__ import annotations

import re

from mlflow.entities import Metric, RunStatus

from workloads.drift.results import DriftReport

TAG_MODEL, TAG_VERSION = "mlops.model", "mlops.model_version"
TAG_START, TAG_END = "mlops.interval_start", "mlops.interval_end"
TAG_DRIFT, TAG_HOOK = "mlops.dataset_drift", "mlops.retrain_triggered"
TAG_DRIFTED, TAG_PROBLEMS = "mlops.drifted_features", "mlops.problems"
TAG_UNTESTED = "mlops.untested_columns"  # features the reference gives nothing to test against
MAX_TAG_VALUE = 5_000  # MLflow allows 8,000
TREND_INTERVALS = 14
UNSAFE = re.compile(r"[^\w.\- ]")


def metric_key(*parts: str) -> str:
    key = ".".join(UNSAFE.sub("_", part) for part in parts)
    key = "_" + key if key.startswith(".") else key
    return key[:250]


def joined(names: list[str], limit: int = MAX_TAG_VALUE) -> str:
    """Comma-separated names, cut to `limit` characters with a count of those left out."""
    text = ",".join(names)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for name in names:
        if len(",".join([*kept, name])) > limit - 20:
            break
        kept.append(name)
    return ",".join(kept) + f",... (+{len(names) - len(kept)} more)"


def tags_of(report: DriftReport) -> dict[str, str]:
    tags = {TAG_DRIFT: str(report.dataset_drift).lower(), TAG_DRIFTED: joined(report.drifted_features)}
    if report.problems:
        tags[TAG_PROBLEMS] = joined([f"{p.error} (exit {p.exit_code})" for p in report.problems])
    if report.untested_columns:
        tags[TAG_UNTESTED] = joined([f"{c['name']}: {c['reason']}" for c in report.untested_columns])
    return tags


def metrics_of(report: DriftReport, timestamp_ms: int) -> list[Metric]:
    values: dict[str, float | None] = {
        "dataset_drift": float(report.dataset_drift),
        "share_drifted": report.share_drifted,
        "drifted_features": float(len(report.drifted_features)),
        "rows_current": float(report.rows_current),
        "family_size": float(report.family_size),
        "untested_columns": float(len(report.untested_columns)),
    }
    for feature in report.features:
        values[metric_key(feature.name, "drifted")] = float(feature.drifted)
        values[metric_key(feature.name, "psi")] = feature.psi
        values[metric_key(feature.name, "missing_share")] = feature.missing_share_current
        if feature.nonfinite_current or feature.nonfinite_reference:
            values[metric_key(feature.name, "nonfinite_share")] = feature.nonfinite_share_current
        for name in ("mean_shift_sd", "median_shift_sd", "std_ratio"):
            values[metric_key(feature.name, name)] = feature.change.get(name)
        for test in feature.tests:
            values[metric_key(feature.name, f"{test.test}_statistic")] = test.statistic
            values[metric_key(feature.name, f"{test.test}_p_value")] = test.p_value
    if report.multivariate is not None:
        values["mmd_statistic"] = report.multivariate.statistic
        values["mmd_p_value"] = report.multivariate.p_value
    return [Metric(key, float(value), timestamp_ms, 0) for key, value in values.items() if value is not None]


def trend_of(runs, before: str, features: list[str], limit: int = TREND_INTERVALS) -> list[dict]:
    """The latest `limit` finished intervals stamped before `before` (oldest first), one run each:
    dataset drift and, per feature, whether it drifted and its PSI."""
    latest: dict[str, object] = {}
    for run in runs:
        start = run.data.tags.get(TAG_START, "")
        if run.info.status == RunStatus.to_string(RunStatus.FINISHED) and start < before and start not in latest:
            latest[start] = run
    trend = []
    for start in sorted(latest)[-limit:]:
        metrics = latest[start].data.metrics
        trend.append({"interval_start": start, "dataset_drift": metrics.get("dataset_drift") == 1.0,
                      "share_drifted": metrics.get("share_drifted"),
                      "features": {name: {"drifted": metrics.get(metric_key(name, "drifted")) == 1.0,
                                          "psi": metrics.get(metric_key(name, "psi"))} for name in features}})
    return trend
