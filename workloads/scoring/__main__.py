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
from workloads.scoring.invocation import BatchInvocation

log = logging.getLogger("scoring")


def _scorer(args):
    from mlflow.tracking import MlflowClient

    from workloads.scoring.batch import BatchConfig, BatchScorer

    try:
        job = BatchInvocation.from_args(args)
    except ValueError as error:
        raise cli.UsageError(str(error)) from None
    if job.s3_endpoint:  # Arrow's S3 filesystem, boto3 and Feast all read it
        os.environ["AWS_ENDPOINT_URL"] = job.s3_endpoint
    config = BatchConfig(model=job.model, alias=job.alias, input_uri=job.input, output_uri=job.output,
                         log_uri=None if job.no_log else job.log_uri, timestamp_column=job.timestamp_column,
                         key_columns=job.key_column, batch_rows=job.batch_rows, rows_per_file=job.rows_per_file,
                         workers=job.workers)
    store = None
    if job.config_dir:
        def store():
            from feast import FeatureStore

            from workloads.features.stage import stage_repository
            return FeatureStore(repo_path=str(stage_repository(job.config_dir, job.repo_dir)))
    workdir = Path(tempfile.mkdtemp(prefix="scoring-", dir=job.workdir))
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


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.scoring", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    job = argparse.ArgumentParser(add_help=False)
    BatchInvocation.add_arguments(job)

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
