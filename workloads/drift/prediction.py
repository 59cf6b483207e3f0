"""Prediction drift: the served predictions of an interval against what the model answered on its
reference data at training time (`reference/predictions.parquet`, logged with every version).

A change of the model's output distribution is often the first sign of trouble, visible before
labels arrive and even when no single input drifted beyond its test. The columns compared are
those both sides have (`prediction`, and `probability` for binary classifiers), with the same
per-column tests as the features (no joint MMD test: they are one or two columns). The result
goes into the interval's MLflow run: metrics prefixed `prediction.`, the tag
`mlops.prediction_drift`, and `prediction_drift_report.json`.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import replace

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from workloads.drift.data import open_local
from workloads.drift.engine import compare
from workloads.drift.profile import build_profile
from workloads.drift.results import DriftReport
from workloads.drift.settings import DriftSettings
from workloads.drift.sources import Source

log = logging.getLogger("drift.prediction")
PREDICTIONS_ARTIFACT = "reference/predictions.parquet"
PREDICTION_COLUMNS = ("prediction", "probability")
TAG_PREDICTION_DRIFT = "mlops.prediction_drift"


def prediction_drift(client: MlflowClient, run_id: str | None, current: Source,
                     settings: DriftSettings) -> tuple[DriftReport | None, str]:
    """(report, why) — the report is None when there is nothing to compare, `why` says what."""
    served = [column for column in PREDICTION_COLUMNS if column in current.kinds()]
    if not served:
        return None, "no prediction columns in the prediction log"
    if run_id is None:
        return None, "the model version has no training run"
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = client.download_artifacts(run_id, PREDICTIONS_ARTIFACT, tmp)
        except (MlflowException, OSError) as error:
            log.info("no reference predictions for run %s: %s", run_id, error)
            return None, f"no {PREDICTIONS_ARTIFACT} logged with the model"
        reference = open_local(path)
        common = [column for column in served if column in reference.kinds()]
        if not common:
            return None, f"{PREDICTIONS_ARTIFACT} has none of the columns {served}"
        per_column = replace(settings, mmd=False)
        profile = build_profile(reference.select(common), per_column)
    return compare(profile, current.select(common), per_column), "compared"
