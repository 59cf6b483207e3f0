"""Model performance with delayed labels: the interval's predictions joined with the outcomes that
arrived since, and the model's metric on them.

Outcomes (labels) arrive after the predictions they judge (the delayed-outcome problem): a churn
label is known weeks after the prediction. Each prediction row of the interval is joined with the
first label of the same entity observed at or after the prediction, within `horizon`
(`pandas.merge_asof`, direction forward, by the entity keys). With labels for enough rows of
both classes the interval gets the AUC of the logged `probability` (or `prediction`) and the
number of labelled rows; otherwise it is "labels pending", and a later run of the same interval
(the CronJob's next day, or `backfill`) fills the metric into the same MLflow run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
from botocore.exceptions import BotoCoreError, ClientError

from workloads.drift.s3data import s3_error
from workloads.drift.sources import Source

TAG_PERFORMANCE = "mlops.performance"
PENDING = "labels pending"
MIN_LABELLED = 20  # fewer labelled rows say nothing about a metric


@dataclass(frozen=True)
class Performance:
    status: str  # "measured" or PENDING
    rows: int  # prediction rows of the interval
    labelled: int
    auc: float | None = None

    @property
    def tag(self) -> str:
        return f"auc {self.auc:.4f} on {self.labelled:,} labelled rows" if self.auc is not None else PENDING


def prediction_frame(source: Source, columns: list[str]) -> pd.DataFrame:
    """The named columns of every part as one frame (rows of parts lacking a column are missing)."""
    frames = []
    for part in source.parts:
        present = part.kinds()
        frames.append(pd.DataFrame({
            column: pa.chunked_array(list(part.chunks(column))).to_pandas() if column in present
            else pd.Series([None] * part.rows, dtype="object")
            for column in columns
        }))
    return pd.concat(frames, ignore_index=True)


def read_labels(s3, uri: str) -> pd.DataFrame:
    """Every parquet file under `uri` (s3://bucket/prefix/) as one frame."""
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = sorted(o["Key"] for page in pages for o in page.get("Contents", []) if o["Key"].endswith(".parquet"))
        frames = [pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) for key in keys]
    except (ClientError, BotoCoreError) as error:
        raise s3_error(error, f"labels at {uri}") from None
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def measure(predictions: pd.DataFrame, labels: pd.DataFrame, entity_keys: list[str], label: str,
            horizon: pd.Timedelta) -> Performance:
    """Join each prediction with its entity's first label at or after it (within `horizon`)."""
    from sklearn.metrics import roc_auc_score

    score = "probability" if "probability" in predictions and predictions["probability"].notna().any() else "prediction"
    needed = [*entity_keys, "timestamp", score]
    rows = len(predictions)
    if labels.empty or any(key not in labels for key in (*entity_keys, "event_timestamp", label)) \
            or any(column not in predictions for column in needed):
        return Performance(PENDING, rows, 0)
    left = predictions[needed].dropna().copy()
    left["timestamp"] = pd.to_datetime(left["timestamp"], utc=True)
    right = labels[[*entity_keys, "event_timestamp", label]].dropna().copy()
    right["event_timestamp"] = pd.to_datetime(right["event_timestamp"], utc=True)
    for key in entity_keys:  # one dtype on both sides for the join
        left[key], right[key] = left[key].astype("int64", errors="ignore"), right[key].astype("int64", errors="ignore")
    joined = pd.merge_asof(left.sort_values("timestamp"), right.sort_values("event_timestamp"), left_on="timestamp",
                           right_on="event_timestamp", by=entity_keys, direction="forward", tolerance=horizon)
    labelled = joined.dropna(subset=[label])
    if len(labelled) < MIN_LABELLED or labelled[label].nunique() < 2:
        return Performance(PENDING, rows, len(labelled))
    auc = float(roc_auc_score(labelled[label].astype(int), labelled[score].astype(float)))
    return Performance("measured", rows, len(labelled), auc)
