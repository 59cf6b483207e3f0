"""Train the churn model on point-in-time-correct features and register it in MLflow.

Labels (customer, timestamp, churned) come from <data_uri>/labels/; Feast joins each label with
the feature values as they were at its timestamp (`get_historical_features`), so no future value
leaks into training. The run logs the model, its metrics and the training features as
`reference/reference.parquet`, the dataset the drift monitor compares prediction logs against.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from workloads.drift.job import REFERENCE_ARTIFACT
from workloads.features.errors import SourceDataError

LABEL = "churned"
REFERENCE_PREDICTIONS_ARTIFACT = "reference/predictions.parquet"


@dataclass(frozen=True)
class TrainingResult:
    run_id: str
    model_version: str
    test_auc: float
    train_rows: int
    test_rows: int
    dropped_rows: int


def read_labels(data_uri: str) -> pd.DataFrame:
    """Every parquet file under <data_uri>/labels/ (S3 endpoint from AWS_ENDPOINT_URL)."""
    location = f"{data_uri.rstrip('/')}/labels/"
    try:
        filesystem, path = pafs.FileSystem.from_uri(location)
        frame = ds.dataset(path, filesystem=filesystem, format="parquet").to_table().to_pandas()
    except (OSError, pa.ArrowException) as error:
        raise SourceDataError(f"{location}: cannot read the training labels: {error}") from None
    missing = {"customer_id", "event_timestamp", LABEL} - set(frame.columns)
    if missing:
        raise SourceDataError(f"{location}: labels lack column(s) {sorted(missing)}")
    if frame.empty:
        raise SourceDataError(f"{location}: no label rows")
    return frame[["customer_id", "event_timestamp", LABEL]]


def service_features(store, feature_service: str) -> list[str]:
    service = store.get_feature_service(feature_service)
    return [feature.name for view in service.feature_view_projections for feature in view.features]


def service_entity_keys(store, feature_service: str) -> list[str]:
    """The join keys of the service's entities: what a model server looks its features up by."""
    service = store.get_feature_service(feature_service)
    keys: dict[str, None] = {}
    for projection in service.feature_view_projections:
        for entity in store.get_feature_view(projection.name).entities:
            keys[store.get_entity(entity).join_key] = None
    return list(keys)


def build_pipeline(frame: pd.DataFrame, features: list[str]):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in features if pd.api.types.is_numeric_dtype(frame[f])]
    categorical = [f for f in features if f not in numeric]
    prepare = ColumnTransformer([
        ("numeric", StandardScaler(), numeric),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])
    return Pipeline([("prepare", prepare), ("classifier", LogisticRegression(max_iter=1000))])


def reference_predictions(pipeline, features: pd.DataFrame) -> pd.DataFrame:
    """`prediction` and the positive class's `probability`, as the model server logs them."""
    return pd.DataFrame({"prediction": pipeline.predict(features),
                         "probability": pipeline.predict_proba(features)[:, 1]})


def train(store, data_uri: str, model_name: str, *, feature_service: str = "churn_model_v1",
          alias: str = "champion", test_fraction: float = 0.2, seed: int = 0) -> TrainingResult:
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.metrics import roc_auc_score

    labels = read_labels(data_uri)
    features = service_features(store, feature_service)
    joined = store.get_historical_features(entity_df=labels, features=store.get_feature_service(feature_service)).to_df()
    # A label without features inside their TTL cannot be trained on (and is not imputed); Feast's
    # file offline store already leaves such labels out of `joined`, other stores return nulls.
    complete = joined.dropna(subset=features)
    if complete.empty:
        raise SourceDataError(f"no label in {data_uri}/labels/ has features within their TTL; materialised data is too old?")
    test = np.random.default_rng(seed).random(len(complete)) < test_fraction
    train_set, test_set = complete[~test], complete[test]
    pipeline = build_pipeline(complete, features).fit(train_set[features], train_set[LABEL])
    auc = float(roc_auc_score(test_set[LABEL], pipeline.predict_proba(test_set[features])[:, 1]))

    mlflow.set_experiment(f"training/{model_name}")
    client = MlflowClient()
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({"feast.feature_service": feature_service, "feast.project": store.project,
                         "feast.entity_keys": ",".join(service_entity_keys(store, feature_service))})
        mlflow.log_params({"features": ",".join(features), "test_fraction": test_fraction, "seed": seed})
        mlflow.log_metrics({"test_auc": auc, "train_rows": len(train_set), "test_rows": len(test_set),
                            "dropped_rows": len(labels) - len(complete)})
        reference = Path(tmp) / Path(REFERENCE_ARTIFACT).name
        train_set[features].to_parquet(reference, index=False)
        client.log_artifact(run.info.run_id, str(reference), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
        # What the model answers on its reference data: the baseline of prediction drift.
        predictions = Path(tmp) / Path(REFERENCE_PREDICTIONS_ARTIFACT).name
        reference_predictions(pipeline, train_set[features]).to_parquet(predictions, index=False)
        client.log_artifact(run.info.run_id, str(predictions), artifact_path=str(Path(REFERENCE_ARTIFACT).parent))
        mlflow.sklearn.log_model(pipeline, name="model", input_example=train_set[features].head(5))
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", model_name)
    client.set_registered_model_alias(model_name, alias, version.version)
    return TrainingResult(run.info.run_id, str(version.version), auc, len(train_set), len(test_set),
                          len(labels) - len(complete))
