"""`python -m workloads.buckets --endpoint-url URL --bucket NAME [--bucket NAME ...]`

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (filled from a Secret).
Exit codes: 0 all buckets ready, 1 a bucket could not be set up, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys

from workloads import cli
from workloads.buckets.ensure import ensure_buckets


def cmd_ensure(args) -> int:
    states = ensure_buckets(args.endpoint_url, args.bucket, args.region, args.wait_seconds)
    for state in states:
        action = "created" if state.created else "exists"
        print(f"bucket {state.name}: {action}, versioning {state.versioning}, anonymous access denied")
    return cli.EXIT_OK


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workloads.buckets", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True, help="S3 endpoint, e.g. http://s3.mlops.svc:9000")
    parser.add_argument("--bucket", action="append", required=True, help="bucket to ensure (repeatable)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--wait-seconds", type=float, default=120, help="how long to wait for the endpoint")
    parser.set_defaults(handler=cmd_ensure)
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli.main("buckets", parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
