"""The churn classifier, its evaluation on the holdout window, and the champion as registered."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from workloads.serving.model import positive_probability
from workloads.tags import FEATURE_SERVICE_TAG
from workloads.training.dataset import KEYS, LABEL, historical
from workloads.training.errors import NotFoundError
from workloads.training.gate import Evaluation


def build_pipeline(frame: pd.DataFrame, features: list[str]):
    """Scaled numbers and one-hot categories into a logistic regression."""
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
    return pd.DataFrame({"prediction": pipeline.predict(features), "probability": pipeline.predict_proba(features)[:, 1]})


def input_schema(frame: pd.DataFrame) -> tuple[tuple[str, str], ...]:
    """The signature MLflow infers for these inputs, as (column, type) pairs."""
    from mlflow.models import infer_signature

    return tuple((str(col.name), str(col.type)) for col in infer_signature(frame).inputs.inputs)


def auc(labels: pd.Series, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores))


def evaluate(scores: np.ndarray | None, labels: pd.Series, schema: tuple, feature_service: str | None) -> Evaluation:
    finite = scores is not None and bool(np.isfinite(scores).all())
    metric = auc(labels, scores) if finite else math.nan
    return Evaluation(metric, len(labels), finite, schema, feature_service)


@dataclass(frozen=True)
class Champion:
    version: str
    pyfunc: Any  # None when it cannot be loaded (`problem` says why)
    feature_service: str | None
    problem: str | None = None

    @property
    def schema(self) -> tuple[tuple[str, str], ...]:
        schema = self.pyfunc.metadata.get_input_schema() if self.pyfunc is not None else None
        return tuple((str(col.name), str(col.type)) for col in schema.inputs) if schema is not None else ()


def current_champion(client, model: str) -> Champion | None:
    """The version behind `<model>@champion` with its feature service, or None if there is none.
    A champion whose files are gone or broken comes back without a model, and the reason: the
    gate then lets a good challenger replace it (a broken champion must not block its repair)."""
    import mlflow.pyfunc

    try:
        version = client.get_model_version_by_alias(model, "champion")
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    service = client.get_run(version.run_id).data.tags.get(FEATURE_SERVICE_TAG) if version.run_id else None
    try:
        pyfunc = mlflow.pyfunc.load_model(f"models:/{model}/{version.version}")
    except MlflowException as error:
        if error.error_code in ("PERMISSION_DENIED", "UNAUTHENTICATED"):
            raise NotFoundError(f"champion {model} v{version.version} cannot be read: {error.message}") from None
        return Champion(str(version.version), None, service, f"v{version.version} does not load: {error.message}")
    except (OSError, ValueError, ImportError, AttributeError, EOFError) as error:  # files missing or damaged
        return Champion(str(version.version), None, service,
                        f"v{version.version} does not load: {type(error).__name__}: {error}")
    return Champion(str(version.version), pyfunc, service)


def compare_on_holdout(store, holdout: pd.DataFrame, challenger_scores: np.ndarray, challenger_schema: tuple,
                       feature_service: str, champion: Champion) -> tuple[Evaluation, Evaluation]:
    """(challenger, champion) on the same rows: the holdout rows for which the champion's own
    feature service also has features (all of them when it is the same service)."""
    scored = holdout[list(KEYS)].assign(challenger=challenger_scores, label=holdout[LABEL].to_numpy())
    frame = historical(store, holdout[[*KEYS, LABEL]], champion.feature_service or feature_service)
    names = [name for name, _ in champion.schema] or [c for c in frame.columns if c not in (*KEYS, LABEL)]
    try:
        champion_scores = positive_probability(champion.pyfunc, frame[names]) if champion.pyfunc is not None else None
    except (KeyError, ValueError, TypeError):  # its inputs no longer exist under this service
        champion_scores = None
    both = frame[list(KEYS)].assign(champion=champion_scores if champion_scores is not None else np.nan)
    both = both.merge(scored, on=list(KEYS), how="inner")
    challenger = evaluate(both["challenger"].to_numpy(), both["label"], challenger_schema, feature_service)
    scores = both["champion"].to_numpy() if champion_scores is not None else None
    previous = evaluate(scores, both["label"], champion.schema, champion.feature_service)
    return challenger, replace(previous, problem=champion.problem) if champion.problem else previous
