"""`python -m workloads.buckets --endpoint-url URL --bucket NAME [--bucket NAME ...]`

Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (filled from a Secret).
Exit codes: 0 all buckets ready, 1 a bucket could not be set up, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys

from workloads.buckets.ensure import BucketSetupError, ensure_buckets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workloads.buckets", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", required=True, help="S3 endpoint, e.g. http://s3.mlops.svc:9000")
    parser.add_argument("--bucket", action="append", required=True, help="bucket to ensure (repeatable)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--wait-seconds", type=float, default=120, help="how long to wait for the endpoint")
    args = parser.parse_args(argv)
    try:
        states = ensure_buckets(args.endpoint_url, args.bucket, args.region, args.wait_seconds)
    except BucketSetupError as error:
        print(f"bucket setup failed at {args.endpoint_url}: {error}", file=sys.stderr)
        return 1
    for state in states:
        action = "created" if state.created else "exists"
        print(f"bucket {state.name}: {action}, versioning {state.versioning}, anonymous access denied")
    return 0


if __name__ == "__main__":
    sys.exit(main())
