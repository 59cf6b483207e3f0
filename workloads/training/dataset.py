"""The training set: labels joined point-in-time with the feature service, split by time.

Labels (`customer_id`, `event_timestamp`, `churned`) are read from `<data_uri>/labels/`; Feast joins
each label with the feature values as they were at its timestamp (`get_historical_features`), so
no future value leaks in. The holdout is the most recent labelled window (the latest
`holdout_fraction` of labels by time, rows at the boundary time all on the same side), not a
random split of old data: the gate judges both models on the data closest to what they will serve.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from workloads.training.errors import TrainingDataError

LABEL = "churned"
KEYS = ("customer_id", "event_timestamp")


@dataclass(frozen=True)
class TrainingSet:
    train: pd.DataFrame
    holdout: pd.DataFrame
    features: list[str]
    labels: int  # labels read
    dropped: int  # labels without features within their TTL

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The holdout window: [first, last] label time in it."""
        return self.holdout["event_timestamp"].min(), self.holdout["event_timestamp"].max()


def read_labels(data_uri: str) -> pd.DataFrame:
    """Every parquet file under <data_uri>/labels/ (S3 endpoint from AWS_ENDPOINT_URL)."""
    location = f"{data_uri.rstrip('/')}/labels/"
    try:
        filesystem, path = pafs.FileSystem.from_uri(location)
        frame = ds.dataset(path, filesystem=filesystem, format="parquet").to_table().to_pandas()
    except (OSError, pa.ArrowException) as error:
        raise TrainingDataError(f"{location}: cannot read the training labels: {error}") from None
    missing = {*KEYS, LABEL} - set(frame.columns)
    if missing:
        raise TrainingDataError(f"{location}: labels lack column(s) {sorted(missing)}")
    if frame.empty:
        raise TrainingDataError(f"{location}: no label rows")
    return frame[[*KEYS, LABEL]]


def service_features(store, feature_service: str) -> list[str]:
    service = store.get_feature_service(feature_service)
    return [feature.name for view in service.feature_view_projections for feature in view.features]


def service_entity_keys(store, feature_service: str) -> dict[str, str]:
    """The join keys of the service's entities, in order, with their Feast value type names
    (`{"customer_id": "INT64"}`): what a model server looks its features up by, and checks."""
    service = store.get_feature_service(feature_service)
    keys: dict[str, str] = {}
    for projection in service.feature_view_projections:
        view = store.get_feature_view(projection.name)
        columns = {column.name: column for column in getattr(view, "entity_columns", [])}
        for name in view.entities:
            entity = store.get_entity(name)
            keys[entity.join_key] = entity_type_name(entity, columns.get(entity.join_key))
    return keys


def entity_type_name(entity, column) -> str:
    """The entity's declared ValueType name; when left UNKNOWN, the view's column type's."""
    declared = getattr(entity.value_type, "name", "UNKNOWN")
    if declared != "UNKNOWN" or column is None:
        return declared
    return getattr(column.dtype.to_value_type(), "name", "UNKNOWN")


def historical(store, entities: pd.DataFrame, feature_service: str) -> pd.DataFrame:
    """`entities` joined point in time with the service's features; rows without all of them out
    (a label without features inside their TTL cannot be trained on, and is not imputed)."""
    joined = store.get_historical_features(entity_df=entities, features=store.get_feature_service(feature_service)).to_df()
    return joined.dropna(subset=service_features(store, feature_service))


def time_split(frame: pd.DataFrame, holdout_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older rows, the most recent `holdout_fraction` of rows by time); ties stay together."""
    ordered = frame.sort_values("event_timestamp", kind="stable", ignore_index=True)
    boundary = ordered["event_timestamp"].iloc[min(len(ordered) - 1, int(len(ordered) * (1 - holdout_fraction)))]
    return ordered[ordered["event_timestamp"] < boundary], ordered[ordered["event_timestamp"] >= boundary]


def training_set(store, data_uri: str, feature_service: str, holdout_fraction: float) -> TrainingSet:
    labels = read_labels(data_uri)
    complete = historical(store, labels, feature_service)
    if complete.empty:
        raise TrainingDataError(f"no label in {data_uri}/labels/ has features within their TTL; "
                                "is the materialised or source data too old?")
    train, holdout = time_split(complete, holdout_fraction)
    for name, part in (("training", train), ("holdout", holdout)):
        if part[LABEL].nunique() < 2:
            raise TrainingDataError(
                f"the {name} part ({len(part)} labels up to {part['event_timestamp'].max()}) does not hold both classes; "
                f"more labels, spread over time, are needed (labels at {labels['event_timestamp'].nunique()} distinct times)")
    return TrainingSet(train, holdout, service_features(store, feature_service), len(labels), len(labels) - len(complete))
