"""Scoring one request: MLflow's own scoring protocol, plus entity-keyed feature lookup.

Feature rows go through `mlflow.pyfunc.scoring_server.invocations`, the function `mlflow models
serve` runs for `/invocations`: the same JSON (`dataframe_split`, `dataframe_records`,
`instances`, `inputs`), CSV and parquet parsing, schema enforcement, responses and errors. A
`Recorder` stands in for the model to keep what it scored, for the prediction log.

A JSON request whose columns are exactly the model's entity keys (`{"dataframe_records":
[{"customer_id": 17}]}`) is entity-keyed: its keys are checked against their Feast types
(entities.py), the features come from the feature store, and the response and errors are
MLflow's (`{"predictions": [...]}`).
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from io import StringIO
from typing import Any

import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import BAD_REQUEST, INVALID_PARAMETER_VALUE
from mlflow.pyfunc import scoring_server

from workloads.serving.entities import entity_rows
from workloads.serving.features import FeatureLookup
from workloads.serving.model import LoadedModel

JSON_FORMATS = ("dataframe_records", "dataframe_split", "instances", "inputs")
# MLflow's scoring server's words for a model that raised (mlflow.pyfunc.scoring_server.invocations).
UNEXPECTED_PREDICT_ERROR = ("Encountered an unexpected error while evaluating the model. Verify that the serialized "
                            "input Dataframe is compatible with the model for inference.")


class Recorder:
    """The PyFuncModel as MLflow's scoring function sees it, remembering its input and output."""

    def __init__(self, pyfunc):
        self._pyfunc = pyfunc
        self.metadata = pyfunc.metadata
        self.data: Any = None
        self.predictions: Any = None

    def predict(self, data, params=None):
        predictions = self._pyfunc.predict(data, params=params)
        self.data, self.predictions = data, predictions
        return predictions


@dataclass(frozen=True)
class Scored:
    response: str
    status: int
    mimetype: str
    features: pd.DataFrame | None = None  # what the model scored (None: nothing scored)
    predictions: Any = None


def request_columns(payload: Any) -> set[str] | None:
    """The column names of a JSON scoring request, without building a frame (None: not tabular)."""
    if not isinstance(payload, dict):
        return None
    data = next((payload[key] for key in JSON_FORMATS if key in payload), None)
    if isinstance(data, dict):
        return set(data.get("columns", [])) if "data" in data else set(data)
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        return set().union(*data)
    return None


def entity_request(body: bytes, content_type: str | None, model: LoadedModel) -> pd.DataFrame | None:
    """The entity rows of an entity-keyed request, or None for any other request."""
    if not model.entity_keys or not (content_type or "").startswith("application/json"):
        return None
    if model.feature_names and f'"{model.feature_names[0]}"'.encode() in body:
        return None  # it names a feature: not keys only (skips parsing a large request twice)
    try:
        payload = json.loads(body)
    except ValueError:
        return None  # MLflow's parser reports it
    if request_columns(payload) != set(model.entity_keys):
        return None
    return entity_rows(payload, model.entity_keys, model.entity_key_types)


def predict(pyfunc, features: pd.DataFrame):
    """`pyfunc.predict`, failing as MLflow's scoring server does: its own errors as they are, any
    other as BAD_REQUEST with the traceback kept for the server's log (app.error_response)."""
    try:
        return pyfunc.predict(features)
    except MlflowException:
        raise
    except Exception:
        raise MlflowException(UNEXPECTED_PREDICT_ERROR, error_code=BAD_REQUEST, stack_trace=traceback.format_exc()) \
            from None


def score(body: bytes, content_type: str | None, model: LoadedModel, lookup: FeatureLookup | None) -> Scored:
    """Score a request as `mlflow models serve` would; raises MlflowException for a bad request."""
    entities = entity_request(body, content_type, model)
    if entities is not None:
        if lookup is None or not model.feature_service:
            raise MlflowException(
                f"entity-keyed requests need the feature server and the model's feature service (tag "
                f"feast.feature_service on its training run); send the features {model.feature_names} instead",
                error_code=INVALID_PARAMETER_VALUE)
        features = lookup.features_for(model.feature_service, entities, model.entity_keys, model.feature_names)
        predictions = predict(model.pyfunc, features)
        out = StringIO()
        scoring_server.predictions_to_json(predictions, out)
        # Logged with the entity keys, so late labels can be joined to these predictions.
        logged = pd.concat([entities.reset_index(drop=True), features.reset_index(drop=True)], axis=1)
        return Scored(out.getvalue(), 200, "application/json", logged, predictions)
    recorder = Recorder(model.pyfunc)
    result = scoring_server.invocations(body, content_type, recorder, model.input_schema)
    features = recorder.data if isinstance(recorder.data, pd.DataFrame) else None
    if result.status != 200:
        return Scored(result.response, result.status, result.mimetype)
    return Scored(result.response, result.status, result.mimetype, features, recorder.predictions)
