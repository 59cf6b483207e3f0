"""The platform's MLflow experiments, created as classic machine-learning experiments.

MLflow 3's UI opens an experiment in the view its `mlflow.experimentKind` tag names: without
one it infers a kind, and the platform's (runs with metrics and tags, no traces) opened in the
GenAI view (traces, token usage, an assistant panel). `custom_model_development` is the kind its
UI calls "Machine learning" (mlflow/server/js: ExperimentKind.CUSTOM_MODEL_DEVELOPMENT), which
lists runs with their metrics and tags as columns.
"""

from __future__ import annotations

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
CLASSIC_ML = "custom_model_development"


def ensure_experiment(client, name: str) -> str:
    """The id of experiment `name` (an MlflowClient's), created as a classic ML experiment when
    missing; another process creating it at the same time is no error."""
    from mlflow.exceptions import MlflowException

    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    try:
        return client.create_experiment(name, tags={EXPERIMENT_KIND_TAG: CLASSIC_ML})
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        return client.get_experiment_by_name(name).experiment_id


def mark_classic(client, experiment) -> None:
    """Give an existing experiment without a kind (created before this) the classic ML kind."""
    if EXPERIMENT_KIND_TAG not in (experiment.tags or {}):
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, CLASSIC_ML)
