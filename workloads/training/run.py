"""One training run: challenger trained, judged against the champion on the same fresh window,
registered, and the decision recorded in MLflow.

Before any alias moves, the registered version is downloaded from the registry and checked as
a model server would load it (verify.py): one that does not serve is refused (exit 4), its run's
decision recorded as `kept` with the reason, and the version tagged `mlops.verification`.

The run (experiment `training/<model>`) holds both metrics, the margin and floor, the data window,
the feature service and the decision with its reason (tags `gate.decision`, `gate.reason`); the
registered version carries lineage tags (training run, data window, source environment, feature
service). The challenger always gets the alias `challenger`; `champion` moves only on promotion.
Every version is logged with its reference data (`reference/reference.parquet`, the training
features the drift monitor compares against) and its own predictions on them
(`reference/predictions.parquet`, the baseline of prediction drift).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from workloads.experiments import ensure_experiment
from workloads.tags import ENTITY_KEY_TYPES_TAG, ENTITY_KEYS_TAG, FEATURE_SERVICE_TAG
from workloads.training.dataset import LABEL, TrainingSet, service_entity_keys, training_set
from workloads.training.errors import BrokenModelError
from workloads.training.gate import KEPT, Decision, Evaluation, decide
from workloads.training.model import (
    build_pipeline,
    compare_on_holdout,
    current_champion,
    evaluate,
    input_schema,
    reference_predictions,
)
from workloads.training.verify import VERIFICATION_TAG, verify_registered

REFERENCE_ARTIFACT = "reference/reference.parquet"
REFERENCE_PREDICTIONS_ARTIFACT = "reference/predictions.parquet"


@dataclass(frozen=True)
class TrainingConfig:
    model: str
    data_uri: str
    feature_service: str = "churn_model_v1"
    min_metric: float = 0.6  # AUC floor
    margin: float = 0.01  # AUC the challenger must gain over the champion
    holdout_fraction: float = 0.2
    environment: str = ""  # recorded as the source environment (MLOPS_ENVIRONMENT)
    seed: int = 0


@dataclass(frozen=True)
class TrainingOutcome:
    model: str
    decision: Decision
    run_id: str
    version: str  # the challenger's registered version
    champion: str  # the champion's version after the decision
    challenger: Evaluation
    previous: Evaluation | None  # the champion before, on the same rows
    data: TrainingSet

    def summary(self) -> str:
        alias = "champion" if self.decision.promoted else "challenger"
        window = " .. ".join(stamp.isoformat() for stamp in self.data.window)
        line = (f"registered {self.model} v{self.version} (alias {alias}) from run {self.run_id}: AUC {self.challenger.metric:.3f} "
                f"on {self.challenger.rows} holdout rows ({window}), trained on {len(self.data.train)} "
                f"({self.data.dropped} labels without fresh features left out)")
        if not self.decision.promoted:
            line += f"; champion stays v{self.champion}"
        return f"{line}\n{self.decision.outcome}: {self.decision.reason}"


def run_training(store, config: TrainingConfig) -> TrainingOutcome:
    """Train, judge, register and record; raises TrainingDataError before registering anything."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    data = training_set(store, config.data_uri, config.feature_service, config.holdout_fraction)
    pipeline = build_pipeline(data.train, data.features).fit(data.train[data.features], data.train[LABEL])
    scores = pipeline.predict_proba(data.holdout[data.features])[:, 1]
    schema = input_schema(data.train[data.features])
    champion = current_champion(client, config.model)
    if champion is None:
        challenger, previous = evaluate(scores, data.holdout[LABEL], schema, config.feature_service), None
    else:
        challenger, previous = compare_on_holdout(store, data.holdout, scores, schema, config.feature_service, champion)
    decision = decide(challenger, previous, min_metric=config.min_metric, margin=config.margin)
    run_id, version = record(client, store, config, data, pipeline, decision, challenger, previous)
    champion_version = version if decision.promoted else (champion.version if champion else "none")
    return TrainingOutcome(config.model, decision, run_id, version, champion_version, challenger, previous, data)


def refuse(client, run_id: str, model: str, version: str, error: BrokenModelError) -> None:
    """Record that a registered version failed its check: the run's decision becomes `kept`, with
    the reason, and the version is tagged; no alias points at it."""
    reason = f"refused: the registered version does not serve: {error}"[:5000]
    client.set_tag(run_id, "gate.decision", KEPT)
    client.set_tag(run_id, "gate.reason", reason)
    client.set_model_version_tag(model, version, "gate.decision", KEPT)
    client.set_model_version_tag(model, version, VERIFICATION_TAG, f"failed: {error}"[:5000])


def record(client, store, config: TrainingConfig, data: TrainingSet, pipeline, decision: Decision,
           challenger: Evaluation, previous: Evaluation | None) -> tuple[str, str]:
    """Log the run (decision, metrics, reference data, model), register the version, set aliases."""
    import mlflow

    start, end = (stamp.isoformat() for stamp in data.window)
    keys = service_entity_keys(store, config.feature_service)
    mlflow.set_experiment(experiment_id=ensure_experiment(client, f"training/{config.model}"))
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({
            FEATURE_SERVICE_TAG: config.feature_service, "feast.project": store.project,
            ENTITY_KEYS_TAG: ",".join(keys),
            ENTITY_KEY_TYPES_TAG: ",".join(f"{key}:{kind}" for key, kind in keys.items()),
            "gate.decision": decision.outcome, "gate.reason": decision.reason,
            "mlops.data_window_start": start, "mlops.data_window_end": end,
            "mlops.environment": config.environment,
        })
        mlflow.log_params({"features": ",".join(data.features), "holdout_fraction": config.holdout_fraction,
                           "seed": config.seed, "margin": config.margin, "min_metric": config.min_metric})
        metrics = {"challenger_auc": challenger.metric, "holdout_rows": challenger.rows, "train_rows": len(data.train),
                   "dropped_rows": data.dropped}
        if previous is not None and previous.finite:
            metrics["champion_auc"] = previous.metric
        mlflow.log_metrics(metrics)
        reference = data.train[data.features]
        for artifact, frame in ((REFERENCE_ARTIFACT, reference),
                                (REFERENCE_PREDICTIONS_ARTIFACT, reference_predictions(pipeline, reference))):
            path = Path(tmp) / Path(artifact).name
            frame.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), artifact_path=str(Path(artifact).parent))
        mlflow.sklearn.log_model(pipeline, name="model", input_example=reference.head(5))
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", config.model, tags={
        "mlops.training_run": run.info.run_id, "mlops.data_window_start": start, "mlops.data_window_end": end,
        "mlops.source_environment": config.environment, "mlops.feature_service": config.feature_service,
        "gate.decision": decision.outcome,
    }).version
    # The run list tells decisions apart at a glance: `churn-v3-promoted`, `churn-v4-kept`.
    client.set_tag(run.info.run_id, "mlops.model_version", str(version))
    client.set_tag(run.info.run_id, "mlflow.runName", f"{config.model}-v{version}-{decision.outcome}")
    try:  # as a model server will get it: no alias moves to a version that cannot be served
        verify_registered(mlflow.get_tracking_uri(), config.model, str(version), f"{config.model} v{version} as registered")
    except BrokenModelError as error:
        refuse(client, run.info.run_id, config.model, str(version), error)
        client.set_tag(run.info.run_id, "mlflow.runName", f"{config.model}-v{version}-{KEPT}")
        raise
    client.set_registered_model_alias(config.model, "challenger", version)
    if decision.promoted:
        client.set_registered_model_alias(config.model, "champion", version)
    return run.info.run_id, str(version)

