"""python -m workloads.drift {compare,run,backfill}

compare   two local parquet files -> JSON (and HTML) report; no MLflow or S3 needed
run       one daily interval of a registered model's prediction logs (the CronJob's command)
backfill  every interval stamped --start..--end, oldest first

Exit codes: 0 done (drift or not), 2 usage, 3 no data, 4 schema mismatch, 5 unusable column
(all missing, constant reference), 6 unreadable file, 7 MLflow/S3/hook failure.
Credentials only from the environment: MLFLOW_TRACKING_URI/USERNAME/PASSWORD,
AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (+ MLFLOW_S3_ENDPOINT_URL), RETRAIN_HOOK_URL/TOKEN.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from workloads import cli
from workloads.drift.errors import INFRASTRUCTURE_FAILURE, DriftInputError
from workloads.drift.settings import CORRECTIONS, DriftSettings


def _settings(args) -> DriftSettings:
    try:
        return DriftSettings(alpha=args.alpha, correction=args.correction, mmd=not args.no_mmd,
                             mmd_permutations=args.mmd_permutations, seed=args.seed)
    except ValueError as error:  # a setting out of range
        raise cli.UsageError(str(error)) from None


def cmd_compare(args) -> int:
    from workloads.drift.data import read_local
    from workloads.drift.engine import compare
    from workloads.drift.profile import build_profile
    from workloads.drift.report import to_html, to_json

    settings = _settings(args)
    reference, current = read_local(args.reference), read_local(args.current)
    report = compare(build_profile(reference, settings), current, settings)
    context = {"reference": str(args.reference), "current": str(args.current)}
    outputs = [(args.json, to_json(report, context))]
    if args.html:
        outputs.append((args.html, to_html(report, f"Data drift: {args.current} vs {args.reference}")))
    for path, text in outputs:  # everything rendered before anything is written
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    verdict = "DATASET DRIFT" if report.dataset_drift else "no dataset drift"
    print(f"{verdict}: {len(report.drifted_features)} of {len(report.features)} features drifted"
          f"{' (' + ', '.join(report.drifted_features) + ')' if report.drifted_features else ''}; report {args.json}")
    return 0


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
    config = JobConfig(model=args.model, model_version=args.model_version,
                       model_alias=None if args.model_version else args.model_alias,
                       reference_uri=args.reference, bucket=args.bucket, settings=_settings(args), hook=hook)
    s3 = boto3.client("s3", endpoint_url=args.s3_endpoint, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))
    return DriftJob(config, MlflowClient(), s3)


def _report(outcome) -> None:
    drift = "DATASET DRIFT" if outcome.dataset_drift else "no dataset drift"
    hook = ", retrain hook called" if outcome.hook_called else ""
    print(f"interval {outcome.interval}: {outcome.status} (run {outcome.run_id}): {drift}{hook}", flush=True)


def cmd_run(args) -> int:
    from workloads.drift.intervals import interval_ending, interval_for_scheduled_time

    if args.interval_end:
        interval = interval_ending(args.interval_end)
    else:
        scheduled = args.scheduled_time or datetime.now(UTC)
        interval = interval_for_scheduled_time(scheduled)
    if interval.end_time > datetime.now(UTC):
        raise DriftInputError(f"interval {interval} has not ended yet")
    _report(_job(args).run(interval))
    return 0


def cmd_backfill(args) -> int:
    from workloads.drift.intervals import backfill_intervals

    try:
        intervals = backfill_intervals(args.start, args.end, datetime.now(UTC))
    except ValueError as error:
        raise cli.UsageError(str(error)) from None
    job, first_failure = _job(args), 0
    for interval in intervals:
        try:
            _report(job.run(interval))
        except DriftInputError as error:  # bad data for one day must not block the others
            print(f"interval {interval}: FAILED ({type(error).__name__}): {error}", file=sys.stderr, flush=True)
            first_failure = first_failure or error.exit_code
    return first_failure


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.drift", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--alpha", type=float, default=0.05, help="family alpha (default 0.05)")
    common.add_argument("--correction", choices=CORRECTIONS, default="bonferroni")
    common.add_argument("--no-mmd", action="store_true", help="skip the multivariate MMD test")
    common.add_argument("--mmd-permutations", type=int, default=100)
    common.add_argument("--seed", type=int, default=0, help="seed of the MMD subsampling and permutations")

    cmp_ = sub.add_parser("compare", parents=[common], help="compare two local parquet files")
    cmp_.add_argument("--reference", type=Path, required=True)
    cmp_.add_argument("--current", type=Path, required=True)
    cmp_.add_argument("--json", type=Path, required=True)
    cmp_.add_argument("--html", type=Path)
    cmp_.set_defaults(handler=cmd_compare)

    job = argparse.ArgumentParser(add_help=False, parents=[common])
    job.add_argument("--model", required=True, help="registered model name")
    job.add_argument("--model-version", help="registered version (default: the one --model-alias names)")
    job.add_argument("--model-alias", default="champion")
    job.add_argument("--reference", help="s3://... parquet (default: the version's run artifact reference/reference.parquet)")
    job.add_argument("--bucket", default="monitoring", help="bucket with <model>/dt=YYYY-MM-DD/*.parquet")
    job.add_argument("--s3-endpoint", default=os.environ.get("MLFLOW_S3_ENDPOINT_URL"))

    run = sub.add_parser("run", parents=[job], help="one interval")
    when = run.add_mutually_exclusive_group()
    when.add_argument("--interval-end", type=date.fromisoformat, help="YYYY-MM-DD: the interval [end-1d, end)")
    when.add_argument("--scheduled-time", type=datetime.fromisoformat,
                      help="ISO time of the scheduled run (default: now); its latest complete interval runs")
    run.set_defaults(handler=cmd_run)

    back = sub.add_parser("backfill", parents=[job], help="every interval stamped --start..--end, in order")
    back.add_argument("--start", type=date.fromisoformat, required=True)
    back.add_argument("--end", type=date.fromisoformat, required=True)
    back.set_defaults(handler=cmd_backfill)
    return top


def main(argv: list[str] | None = None) -> int:
    # stdout carries one line per interval; MLflow would add "View run ..." lines to it.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return cli.main("drift", parser(), argv, unexpected_exit_code=INFRASTRUCTURE_FAILURE)


if __name__ == "__main__":
    sys.exit(main())
