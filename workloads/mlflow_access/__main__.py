"""`python -m workloads.mlflow_access ensure --spec JSON`: MLflow users and permissions, converged.

The spec (workloads/mlflow_access/spec.py) names each user, the environment variable holding its
password, and its grants; the Job runs as MLflow's admin (MLFLOW_TRACKING_URI, _USERNAME,
_PASSWORD). Idempotent: users are created or have their password set, grants are upserts.
Exit codes: 0 converged, 1 MLflow failed or is unreachable (the Job retries), 2 bad spec.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from workloads import cli
from workloads.mlflow_access.converge import converge
from workloads.mlflow_access.spec import parse_spec


def cmd_ensure(args) -> int:
    users = parse_spec(args.spec)
    missing = [user.password_env for user in users if not os.environ.get(user.password_env)]
    if missing:
        raise cli.UsageError(f"password environment variables not set: {', '.join(missing)}")
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking_uri:
        raise cli.UsageError("MLFLOW_TRACKING_URI is not set")
    passwords = {user.username: os.environ[user.password_env] for user in users}
    for line in converge(users, passwords, tracking_uri):
        print(line, flush=True)
    return cli.EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.mlflow_access", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    ensure = commands.add_parser("ensure", help="create or update the users and grants of the spec")
    ensure.add_argument("--spec", required=True, help='{"users": [{"username", "password_env", "grants": [...]}]}')
    ensure.set_defaults(handler=cmd_ensure)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return cli.main("mlflow_access", parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
