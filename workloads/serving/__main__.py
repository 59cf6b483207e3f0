"""`python -m workloads.serving serve --model NAME [--alias champion] ...`: the model server.

Serves `models:/NAME@ALIAS` from the MLflow registry with MLflow's scoring protocol on
`/invocations` (as `mlflow models serve`), looks features up in the feature store for requests
keyed by entity (`--feature-server-url`), logs every scored row to
`s3://<--log-bucket>/NAME/dt=YYYY-MM-DD/` for the drift monitor, reloads when the alias moves,
and exposes `/metrics`.

Credentials and endpoints only from the environment: MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME,
MLFLOW_TRACKING_PASSWORD (a user with READ on the model); AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY (may write under NAME/ in the log bucket).
On SIGTERM it stops taking requests, finishes those in flight, writes the prediction log and
exits: 0 with several workers; with one, uvicorn re-raises the SIGTERM it handled (143 in a
container). Other exit codes: 2 bad usage or settings, 1 the server failed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile

from workloads import cli
from workloads.serving.settings import ENV, ServingSettings


def settings_from(args) -> ServingSettings:
    return ServingSettings(
        model=args.model, alias=args.alias, poll_seconds=args.poll_seconds, feature_server_url=args.feature_server_url,
        log_bucket=None if args.no_log else args.log_bucket, s3_endpoint=os.environ.get("AWS_ENDPOINT_URL"),
        flush_rows=args.log_flush_rows, flush_seconds=args.log_flush_seconds, max_log_rows=args.log_max_rows,
        shutdown_seconds=args.shutdown_seconds, download_dir=args.download_dir,
    )


def cmd_serve(args) -> int:
    cli.require_free_port(args.host, args.port)  # before the model loads: a taken port fails at once
    import uvicorn

    settings = settings_from(args)
    os.environ[ENV] = settings.to_env()
    # Every worker writes its metrics into one directory that /metrics aggregates (metrics.py).
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="metrics-", dir=args.download_dir)
    uvicorn.run("workloads.serving.app:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, timeout_graceful_shutdown=int(settings.shutdown_seconds),
                log_level="info", access_log=False)
    return cli.EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m workloads.serving", description=__doc__.split("\n\n")[0],
                                  epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a registered model")
    serve.add_argument("--model", required=True, help="registered model name")
    serve.add_argument("--alias", default="champion", help="registry alias to serve (default champion)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=1, help="uvicorn worker processes, each with the model loaded")
    serve.add_argument("--poll-seconds", type=float, default=30.0, help="how often the alias is checked")
    serve.add_argument("--feature-server-url", help="Feast feature server, for entity-keyed requests")
    serve.add_argument("--log-bucket", default="monitoring", help="prediction log bucket (default monitoring)")
    serve.add_argument("--no-log", action="store_true", help="keep no prediction log")
    serve.add_argument("--log-flush-rows", type=int, default=50_000,
                       help="write a file once this many rows wait (at most --log-max-rows / 2)")
    serve.add_argument("--log-flush-seconds", type=float, default=10.0, help="... or this often")
    serve.add_argument("--log-max-rows", type=int, default=100_000,
                       help="rows waiting to be written beyond which new rows are dropped (and counted)")
    serve.add_argument("--shutdown-seconds", type=float, default=20.0,
                       help="on SIGTERM, time for requests to finish, then for the log to flush")
    serve.add_argument("--download-dir", default=tempfile.gettempdir(), help="where model versions are downloaded")
    serve.set_defaults(handler=cmd_serve)
    return top


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    return cli.main("serving", parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
