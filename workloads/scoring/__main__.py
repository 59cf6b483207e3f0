"""Batch scoring: `python -m workloads.scoring batch|backfill` (docs/scoring.md).

A run stamped D scores the data of [D, D+1) (Airflow-style, UTC) with the version the alias names,
writes it to <output>/<model>/dt=D/ with a `_SUCCESS` manifest once all of it is scored (a rerun
replaces it), and adds the scored rows to the model's prediction log (batch files of partition
dt=D) for the drift monitor. One line per interval on stdout; errors on stderr.

Exit codes: 0 scored and committed; 2 usage; 3 no data; 4 schema mismatch (a missing column, a
wrong type, a model whose inputs its feature service does not give); 5 values the model cannot
score; 6 unreadable file; 7 infrastructure (retried); 8 model, alias or input not found, or access
refused; 9 the interval has not ended. Nothing is committed on any failure.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from workloads import cli, outcomes
from workloads import metric_names as names
from workloads.drift.intervals import add_interval_arguments, backfill_intervals, interval_to_run
from workloads.scoring.errors import INFRASTRUCTURE_FAILURE

log = logging.getLogger("scoring")


def _scorer(args):
    from mlflow.tracking import MlflowClient

    from workloads.scoring.batch import BatchConfig, BatchScorer

    if args.s3_endpoint:  # Arrow's S3 filesystem, boto3 and Feast all read it
        os.environ["AWS_ENDPOINT_URL"] = args.s3_endpoint
    config = BatchConfig(model=args.model, alias=args.alias, input_uri=args.input, output_uri=args.output,
                         log_uri=None if args.no_log else args.log_uri, timestamp_column=args.timestamp_column,
                         key_columns=tuple(args.key_column), batch_rows=args.batch_rows,
                         rows_per_file=args.rows_per_file, workers=args.workers)
    store = None
    if args.config_dir:
        def store():
            from feast import FeatureStore

            from workloads.features.stage import stage_repository
            return FeatureStore(repo_path=str(stage_repository(args.config_dir, args.repo_dir)))
    workdir = Path(tempfile.mkdtemp(prefix="scoring-", dir=args.workdir))
    return BatchScorer(config, MlflowClient(), workdir, store)


def _run_interval(scorer, interval) -> int:
    manifest = scorer.run(interval)
    logged = manifest["prediction_log"]
    print(f"interval {interval}: scored {manifest['rows_scored']} rows with {manifest['model']} "
          f"v{manifest['model_version']} ({manifest['input_kind']}), {manifest['rows_unscored']} unscored; "
          f"committed {manifest['location']} (batch {manifest['batch_id']})"
          + (f"; logged to {logged['location']}" if logged else ""), flush=True)
    outcomes.record(names.JOB_ROWS, manifest["rows_read"])
    return cli.EXIT_OK


def cmd_batch(args) -> int:
    interval = interval_to_run(args.interval_end, args.scheduled_time, datetime.now(UTC))
    return _run_interval(_scorer(args), interval)


def cmd_backfill(args) -> int:
    try:
        intervals = backfill_intervals(args.start, args.end, datetime.now(UTC))
    except ValueError as error:
        raise cli.UsageError(str(error)) from None
    scorer, first_failure = _scorer(args), 0
    for interval in intervals:
        try:
            code = _run_interval(scorer, interval)
        except cli.WorkloadError as error:  # one bad day must not block the others
            print(f"interval {interval}: FAILED ({type(error).__name__}, exit {error.exit_code}): {error}",
                  file=sys.stderr, flush=True)
            code = error.exit_code
        first_failure = first_failure or code
    return first_failure


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.scoring", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    job = argparse.ArgumentParser(add_help=False)
    job.add_argument("--model", required=True, help="registered model name")
    job.add_argument("--alias", default="champion", help="the alias whose version scores (default champion)")
    job.add_argument("--input", required=True,
                     help="parquet file or prefix (s3://bucket/prefix/ or a local path); {ds} becomes the interval's "
                          "stamp YYYY-MM-DD. Holding the model's input columns: scored as is; holding its entity keys "
                          "instead: the features come from the feature store (needs --config-dir)")
    job.add_argument("--output", required=True, help="prefix of the results: <output>/<model>/dt=YYYY-MM-DD/")
    job.add_argument("--log-uri", default="s3://monitoring",
                     help="the prediction log's root, <log-uri>/<model>/dt=YYYY-MM-DD/ (default s3://monitoring)")
    job.add_argument("--no-log", action="store_true", help="do not add the scored rows to the prediction log")
    job.add_argument("--timestamp-column", default="event_timestamp",
                     help="when the input has it, only rows with it in the interval are scored, each as of its "
                          "time; without it every row is scored as of the interval's end (default event_timestamp)")
    job.add_argument("--key-column", action="append", default=[],
                     help="an input column to carry into the output (repeatable; the entity keys always are)")
    job.add_argument("--batch-rows", type=_positive, default=100_000, help="rows read and scored at a time")
    job.add_argument("--rows-per-file", type=_positive, default=5_000_000, help="rows per output file at most")
    job.add_argument("--workers", type=_positive, default=1,
                     help="processes scoring batches in parallel (default 1): the cores the job may use")
    job.add_argument("--config-dir", help="the feature store's feature_store.yaml and repository (entity inputs)")
    job.add_argument("--repo-dir", default="/tmp/feature_repo", help="where to stage the feature repository")
    job.add_argument("--s3-endpoint", default=os.environ.get("AWS_ENDPOINT_URL"))
    job.add_argument("--workdir", default=None, help="where the model is downloaded (default: the temp directory)")

    batch = sub.add_parser("batch", parents=[job], help="score one interval")
    batch.set_defaults(handler=cmd_batch)
    back = sub.add_parser("backfill", parents=[job], help="every interval stamped --start..--end, in order")
    back.set_defaults(handler=cmd_backfill)
    add_interval_arguments(batch, back, "is scored")
    return top


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    cli.utc_logging()
    return cli.main("scoring", parser(), argv, unexpected_exit_code=INFRASTRUCTURE_FAILURE,
                    outcome=lambda args: (names.SCORING_JOB, args.model) if args.command == "batch" else None)


if __name__ == "__main__":
    sys.exit(main())
