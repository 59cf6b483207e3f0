"""`python -m workloads.training {run,promote}`: continuous training and model promotion.

run      train a challenger from the feature store (point in time), judge it and the champion on
         the same most recent labelled window, register it (alias challenger) and move champion
         to it only if it passes the gate (workloads/training/gate.py); the decision is recorded
         in the MLflow run. Prints the decision, and a last line `decision=<promoted|kept>
         version=<challenger> champion=<version>` for pipelines.
promote  copy the version behind --alias from one environment's MLflow to another's, with its
         reference data and lineage tags; idempotent.

Credentials from the environment: MLFLOW_TRACKING_URI/USERNAME/PASSWORD (run); for promote,
SOURCE_MLFLOW_TRACKING_USERNAME/PASSWORD and TARGET_MLFLOW_TRACKING_USERNAME/PASSWORD. The feature
store: FEATURE_DATA_URI, AWS_* and the Feast config directory (--config-dir), as the Feast jobs.
Exit codes: 0 promoted (or promotion done), 10 kept the champion (no change), 2 usage, 3 bad
training data (nothing registered), 8 model, alias or artifact not found or credentials refused,
1 a failure a retry may fix.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from workloads import cli, outcomes
from workloads import metric_names as names
from workloads.training.invocation import Promotion, TrainingRun


def cmd_run(args) -> int:
    from feast import FeatureStore

    from workloads.features.stage import stage_repository
    from workloads.training.run import TrainingConfig, run_training

    job = TrainingRun.from_args(args)
    data_uri = job.data_uri or os.environ.get("FEATURE_DATA_URI")
    if not data_uri:
        raise cli.UsageError("no --data-uri and no FEATURE_DATA_URI in the environment")
    if not 0 < job.holdout_fraction < 1:
        raise cli.UsageError(f"--holdout-fraction must be between 0 and 1, got {job.holdout_fraction}")
    if not 0 <= job.min_metric <= 1:  # also refuses nan
        raise cli.UsageError(f"--min-metric is an AUC floor between 0 and 1, got {job.min_metric}")
    if not -1 <= job.margin <= 1:
        raise cli.UsageError(f"--margin is an AUC difference between -1 and 1, got {job.margin}")
    config = TrainingConfig(model=job.model, data_uri=data_uri, feature_service=job.feature_service,
                            min_metric=job.min_metric, margin=job.margin, holdout_fraction=job.holdout_fraction,
                            environment=os.environ.get("MLOPS_ENVIRONMENT", ""))
    store = FeatureStore(repo_path=str(stage_repository(job.config_dir, job.repo_dir)))
    outcome = run_training(store, config)
    print(outcome.summary())
    print(f"decision={outcome.decision.outcome} version={outcome.version} champion={outcome.champion}", flush=True)
    outcomes.record(names.TRAINING_PROMOTED, outcome.decision.promoted)
    outcomes.record(names.JOB_ROWS, len(outcome.data.train) + outcome.challenger.rows)
    if outcome.champion.isdigit():
        outcomes.record(names.TRAINING_CHAMPION_VERSION, int(outcome.champion))
    if outcome.decision.promoted:
        return cli.EXIT_OK
    return job.kept_exit_code


def cmd_promote(args) -> int:
    from workloads.training.promote import promote

    job = Promotion.from_args(args)
    result = promote(job.from_tracking_uri, job.to_tracking_uri, job.model, job.alias,
                     os.environ.get("MLOPS_SOURCE_ENVIRONMENT", ""))
    print(result.summary())
    print(f"promoted={str(result.copied).lower()} version={result.target_version}", flush=True)
    return cli.EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.training", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train a challenger and gate it against the champion")
    TrainingRun.add_arguments(run)
    run.set_defaults(handler=cmd_run)
    promote = commands.add_parser("promote", help="copy a model version to another environment's registry")
    Promotion.add_arguments(promote)
    promote.set_defaults(handler=cmd_promote)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    return cli.main("training", parser(), argv, outcome=_outcome_key)


def _outcome_key(args):
    """Scheduled and pipeline training runs report; a kept champion is a successful run."""
    return (names.TRAINING_JOB, args.model, (args.kept_exit_code,)) if args.command == "run" else None


if __name__ == "__main__":
    sys.exit(main())
