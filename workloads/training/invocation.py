"""`python -m workloads.training run` and `promote`'s options, typed (workloads/invocation.py): what
the ModelTraining component and the promotion script run, and what the parser reads."""

from __future__ import annotations

from dataclasses import dataclass

from workloads.invocation import Invocation, option
from workloads.training.errors import KEPT_EXIT_CODE


@dataclass(frozen=True)
class TrainingRun(Invocation):
    MODULE = "workloads.training"
    COMMAND = "run"

    model: str = option(help="registered model name")
    config_dir: str = option(help="directory with feature_store.yaml and the repository")
    repo_dir: str = option(help="where to stage the repository")
    feature_service: str = option("churn_model_v1", help="the feature service the model is trained from "
                                                         "(default churn_model_v1)")
    data_uri: str | None = option(None, help="where labels/ lives (default: $FEATURE_DATA_URI)")
    min_metric: float = option(0.6, help="AUC floor a challenger must reach (default 0.6)")
    margin: float = option(0.01, help="AUC a challenger must gain over the champion on the same window (default 0.01)")
    holdout_fraction: float = option(0.2, help="the most recent labels held out (default 0.2)")
    kept_exit_code: int = option(KEPT_EXIT_CODE, help=f"exit code when the champion is kept (default {KEPT_EXIT_CODE}; "
                                                      "the CronJob uses 0)")


@dataclass(frozen=True)
class Promotion(Invocation):
    MODULE = "workloads.training"
    COMMAND = "promote"

    model: str = option(help="registered model name")
    from_tracking_uri: str = option(help="the source environment's MLflow")
    to_tracking_uri: str = option(help="the target environment's MLflow")
    alias: str = option("champion", help="the alias whose version is copied (default champion)")
