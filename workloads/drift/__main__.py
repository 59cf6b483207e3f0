"""python -m workloads.drift {compare,run,backfill}

compare   two local parquet files (or directories of them) -> JSON (and HTML) report; no MLflow or S3
run       one daily interval of a registered model's prediction logs (the CronJob's command); with
          --labels-uri, earlier intervals still waiting for labels get the model's AUC once they land
backfill  every interval stamped --start..--end, oldest first; a day that fails does not stop the others

Exit codes (workloads/drift/errors.py; the CronJob fails at once on 2-6, 8 and 9, retries 7):
  0  done, drift or not                    6  unreadable file (named)
  2  usage: a bad argument                 7  MLflow, S3 or retrain-hook failure (retried)
  3  no data for the interval              8  model, version, alias, reference or bucket not found
  4  schema mismatch (columns named)       9  the interval has not ended yet
  5  a reference column without values    10  compare --fail-on-drift: dataset drift
With 4, 5 and 6 the report of what could be computed is still written. backfill exits with the
first failing day's code.

Times are UTC on any host: dates name UTC days and a time without an offset is UTC.
Credentials only from the environment: MLFLOW_TRACKING_URI/USERNAME/PASSWORD,
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (+ MLFLOW_S3_ENDPOINT_URL), RETRAIN_HOOK_URL/TOKEN.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from workloads import cli
from workloads.drift.errors import DATASET_DRIFT_EXIT, INFRASTRUCTURE_FAILURE
from workloads.drift.intervals import add_interval_arguments
from workloads.drift.settings import CORRECTIONS, DriftSettings
from workloads.metric_names import DRIFT_JOB

log = logging.getLogger("drift")


def _settings(args) -> DriftSettings:
    try:
        return DriftSettings(alpha=args.alpha, correction=args.correction, mmd=not args.no_mmd,
                             mmd_permutations=args.mmd_permutations, seed=args.seed)
    except ValueError as error:  # a setting out of range
        raise cli.UsageError(str(error)) from None


def _write(outputs: list[tuple[Path, str]]) -> None:
    for path, text in outputs:  # everything rendered before anything is written
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)


def _print_problems(label: str, problems) -> None:
    for problem in problems:
        print(f"{label}: {problem.error} (exit {problem.exit_code}): {problem.message}", file=sys.stderr, flush=True)


def cmd_compare(args) -> int:
    from workloads.drift.data import open_local
    from workloads.drift.engine import compare
    from workloads.drift.profile import build_profile
    from workloads.drift.report import to_html, to_json

    settings = _settings(args)
    report = compare(build_profile(open_local(args.reference), settings), open_local(args.current), settings)
    context = {"reference": str(args.reference), "current": str(args.current)}
    outputs = [(args.json, to_json(report, context))]
    if args.html:
        outputs.append((args.html, to_html(report, f"Data drift: {args.current} vs {args.reference}")))
    _write(outputs)
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    drifted = f" ({', '.join(report.drifted_features)})" if report.drifted_features else ""
    print(f"{verdict}: {len(report.drifted_features)} of {len(report.features)} features drifted{drifted}; report {args.json}")
    _print_problems("drift compare", report.problems)
    if report.problems:
        return report.exit_code
    return DATASET_DRIFT_EXIT if args.fail_on_drift and report.dataset_drift else 0


def _job(args):
    import boto3
    from botocore.config import Config
    from mlflow.tracking import MlflowClient

    from workloads.drift.hook import RetrainHook
    from workloads.drift.job import DriftJob, JobConfig

    hook = None
    if os.environ.get("RETRAIN_HOOK_URL"):
        hook = RetrainHook(os.environ["RETRAIN_HOOK_URL"], os.environ.get("RETRAIN_HOOK_TOKEN", ""),
                           auth=os.environ.get("RETRAIN_HOOK_AUTH", "bearer"))
    if args.reference and not args.reference.startswith("s3://"):
        raise cli.UsageError(f"--reference must be an s3://bucket/key URI, got {args.reference!r}")
    config = JobConfig(model=args.model, model_version=args.model_version,
                       model_alias=None if args.model_version else args.model_alias,
                       reference_uri=args.reference, bucket=args.bucket, settings=_settings(args), hook=hook,
                       labels_uri=args.labels_uri, label_column=args.label_column,
                       label_horizon_days=args.label_horizon_days, performance_floor=args.performance_floor)
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
    return DriftJob(config, MlflowClient(), s3)


def _run_interval(job, interval) -> int:
    """One interval: its line on stdout, its problems on stderr; its exit code."""
    outcome = job.run(interval)
    drift = "DATASET DRIFT" if outcome.dataset_drift else "no dataset drift"
    hook = ", retrain hook called" if outcome.hook_called else ""
    print(f"interval {outcome.interval}: {outcome.status} (run {outcome.run_id}): {drift}{hook}", flush=True)
    _print_problems(f"interval {interval}", outcome.problems)
    return outcome.exit_code


def cmd_run(args) -> int:
    from workloads.drift.intervals import interval_to_run

    now = datetime.now(UTC)
    interval = interval_to_run(args.interval_end, args.scheduled_time, now)
    job = _job(args)
    try:
        return _run_interval(job, interval)
    finally:  # also after a day without data: the labels of earlier days still land
        _revisit_pending(job, interval, now)


def _revisit_pending(job, interval, now: datetime) -> None:
    """Earlier intervals still waiting for labels get their performance once the labels landed;
    a failure here is reported and left to the next night, the interval's own result stands."""
    try:
        for pending in job.pending_intervals(interval, now.date()):
            _run_interval(job, pending)
    except Exception as error:
        log.warning("pending performance not revisited", exc_info=True)
        print(f"earlier intervals: performance not added ({type(error).__name__}): {error}", file=sys.stderr, flush=True)


def cmd_backfill(args) -> int:
    from workloads.drift.intervals import backfill_intervals

    try:
        intervals = backfill_intervals(args.start, args.end, datetime.now(UTC))
    except ValueError as error:
        raise cli.UsageError(str(error)) from None
    job, first_failure = _job(args), 0
    for interval in intervals:
        try:
            code = _run_interval(job, interval)
        except cli.WorkloadError as error:  # one bad day must not block the others
            print(f"interval {interval}: FAILED ({type(error).__name__}, exit {error.exit_code}): {error}",
                  file=sys.stderr, flush=True)
            code = error.exit_code
        except Exception as error:  # a server or a bug: log it, go on, exit as the CronJob would retry
            log.exception("interval %s failed", interval)
            print(f"interval {interval}: FAILED ({type(error).__name__}, exit {INFRASTRUCTURE_FAILURE}): {error}",
                  file=sys.stderr, flush=True)
            code = INFRASTRUCTURE_FAILURE
        first_failure = first_failure or code
    return first_failure


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    defaults = DriftSettings()
    common.add_argument("--alpha", type=float, default=defaults.alpha, help="family alpha (default 0.05)")
    common.add_argument("--correction", choices=CORRECTIONS, default=defaults.correction)
    common.add_argument("--no-mmd", action="store_true", help="skip the multivariate MMD test")
    common.add_argument("--mmd-permutations", type=int, default=defaults.mmd_permutations,
                        help="at least this many MMD permutations (raised to what the family of tests needs; "
                             f"default {defaults.mmd_permutations})")
    common.add_argument("--seed", type=int, default=0, help="seed of the MMD subsampling and permutations")
    return common


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.drift", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    common = _common()
    cmp_ = sub.add_parser("compare", parents=[common], help="compare two local parquet files")
    cmp_.add_argument("--reference", type=Path, required=True, help="parquet file, or a directory of them")
    cmp_.add_argument("--current", type=Path, required=True, help="parquet file, or a directory of them")
    cmp_.add_argument("--json", type=Path, required=True)
    cmp_.add_argument("--html", type=Path)
    cmp_.add_argument("--fail-on-drift", action="store_true", help=f"exit {DATASET_DRIFT_EXIT} on dataset drift (a CI gate)")
    cmp_.set_defaults(handler=cmd_compare)

    job = argparse.ArgumentParser(add_help=False, parents=[common])
    job.add_argument("--model", required=True, help="registered model name")
    job.add_argument("--model-version", help="registered version (default: the one --model-alias names)")
    job.add_argument("--model-alias", default="champion")
    job.add_argument("--reference", help="s3://... parquet (default: the version's run artifact reference/reference.parquet)")
    job.add_argument("--bucket", default="monitoring", help="bucket with <model>/dt=YYYY-MM-DD/*.parquet")
    job.add_argument("--s3-endpoint", default=os.environ.get("MLFLOW_S3_ENDPOINT_URL"))
    job.add_argument("--labels-uri", help="s3://bucket/prefix/ of the outcomes (entity keys, event_timestamp, "
                                          "the label): the model's AUC per interval once they arrive")
    job.add_argument("--label-column", default="churned")
    job.add_argument("--label-horizon-days", type=int, default=30,
                     help="a prediction's outcome is its entity's first label within this many days after it")
    job.add_argument("--performance-floor", type=float,
                     help="an interval's AUC below this calls the retrain hook, as dataset drift does")

    run = sub.add_parser("run", parents=[job], help="one interval")
    run.set_defaults(handler=cmd_run)
    back = sub.add_parser("backfill", parents=[job], help="every interval stamped --start..--end, in order")
    back.set_defaults(handler=cmd_backfill)
    add_interval_arguments(run, back, "runs")
    return top


def main(argv: list[str] | None = None) -> int:
    # stdout carries one line per interval; MLflow would add "View run ..." lines to it.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    cli.utc_logging()
    return cli.main("drift", parser(), argv, unexpected_exit_code=INFRASTRUCTURE_FAILURE,
                    outcome=lambda args: (DRIFT_JOB, args.model) if args.command == "run" else None)


if __name__ == "__main__":
    sys.exit(main())
