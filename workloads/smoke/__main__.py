"""python -m workloads.smoke --mlflow-url URL --s3-endpoint URL --redis-url URL [--bucket NAME]
                             [--feature-server-url URL]

Credentials come from the environment, never the command line:
  MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD   MLflow basic auth (admin user)
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY             S3 credentials that can read the bucket
  REDIS_PASSWORD                                       Redis password (optional)
Prints one line per check; exits 1 if any check failed (naming it), 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from workloads import cli
from workloads.smoke.checks import CheckFailed, LoggedRun, Target, checks_for

REQUIRED_ENV = ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workloads.smoke", description="Post-deploy smoke test.",
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlflow-url", required=True)
    parser.add_argument("--s3-endpoint", required=True)
    parser.add_argument("--redis-url", required=True, help="redis://host:port/0 (password from REDIS_PASSWORD)")
    parser.add_argument("--bucket", default="mlflow-artifacts", help="MLflow's artifact bucket")
    parser.add_argument("--feature-server-url", help="also check the Feast feature server (stack output featureServerUrl)")
    parser.add_argument("--artifacts-not-on-s3", action="store_true",
                        help="MLflow keeps artifacts outside the S3 store (mlflowArtifactStore azure-blob): skip s3-artifact")
    parser.set_defaults(handler=cmd_smoke)
    return parser


def target_from(args) -> Target:
    """The deployment under test; credentials only from the environment (UsageError if missing)."""
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise cli.UsageError(f"missing environment variables: {', '.join(missing)}")
    return Target(
        mlflow_url=args.mlflow_url, s3_endpoint=args.s3_endpoint, redis_url=args.redis_url, bucket=args.bucket,
        mlflow_username=os.environ["MLFLOW_TRACKING_USERNAME"], mlflow_password=os.environ["MLFLOW_TRACKING_PASSWORD"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        redis_password=os.environ.get("REDIS_PASSWORD") or None, feature_server_url=args.feature_server_url,
        artifacts_on_s3=not args.artifacts_not_on_s3,
    )


def cmd_smoke(args) -> int:
    target = target_from(args)
    checks = checks_for(target)
    run, failed = LoggedRun(), []
    for name, check in checks:
        started = time.perf_counter()
        try:
            detail = check(target, run)
        except CheckFailed as error:
            failed.append(name)
            print(f"FAIL {name}: {error}", flush=True)
            continue
        print(f"ok   {name}: {detail} ({(time.perf_counter() - started) * 1000:.0f} ms)", flush=True)
    if failed:
        print(f"smoke: {len(failed)} of {len(checks)} checks failed: {', '.join(failed)}", file=sys.stderr)
        return cli.EXIT_FAILURE
    print(f"smoke: all {len(checks)} checks passed")
    return cli.EXIT_OK


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")  # one line per check
    return cli.main("smoke", parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
