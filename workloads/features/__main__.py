"""Feature-store jobs: `python -m workloads.features <command>`.

  generate     write the example churn sources (and labels) to the offline store
  feast        stage the repository from its config dir and run the Feast CLI in it
  serve        the feature server (`feast serve`, fork-safe registry connections)
  materialize  incremental materialisation of every feature view (the CronJob)
  train        alias of `python -m workloads.training run` (train, gate, register in MLflow)
  online       print the online features of some customers as JSON

Exit codes: 0 ok, 1 unexpected failure, 2 bad usage or config, 3 unreadable source data,
4 the online store refused the password.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import pandas as pd

from workloads import cli
from workloads.features.errors import ConfigError
from workloads.features.stage import exec_feast, stage_repository
from workloads.metric_names import MATERIALIZE_JOB


def _store(args):
    from feast import FeatureStore

    return FeatureStore(repo_path=str(stage_repository(args.config_dir, args.repo_dir)))


def _timestamp(value: str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _data_uri(args) -> str:
    uri = args.data_uri or os.environ.get("FEATURE_DATA_URI")
    if not uri:
        raise ConfigError("no --data-uri and no FEATURE_DATA_URI in the environment")
    return uri


def cmd_generate(args) -> int:
    import boto3
    from botocore.config import Config

    from workloads.features.data import synthesize, write_tables

    end = _timestamp(args.end) or pd.Timestamp.now(tz="UTC").floor("h")
    tables = synthesize(args.customers, args.days, end, seed=args.seed)
    s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
    keys = write_tables(s3, _data_uri(args), tables)
    print(f"wrote {len(tables.profiles)} profile rows, {len(tables.activity)} activity rows and "
          f"{len(tables.labels)} labels for {args.customers} customers up to {end.isoformat()} "
          f"({len(keys)} files under {_data_uri(args)})")
    return 0


def cmd_feast(args) -> int:
    feast_args = args.feast_args[1:] if args.feast_args[:1] == ["--"] else args.feast_args
    if not feast_args:
        raise ConfigError("nothing to run: give Feast CLI arguments after --, e.g. -- apply")
    exec_feast(stage_repository(args.config_dir, args.repo_dir), feast_args)
    return 0  # not reached: exec replaces this process


def cmd_serve(args) -> int:
    cli.require_free_port(args.host, args.port)  # before feast's imports: a taken port fails at once
    from workloads.features.serve import serve

    serve(str(stage_repository(args.config_dir, args.repo_dir)), host=args.host, port=args.port,
          workers=args.workers, registry_ttl_seconds=args.registry_ttl_seconds, max_requests=args.max_requests,
          metrics=args.metrics)
    return 0


def cmd_materialize(args) -> int:
    from workloads.features.materialize import materialize

    end = _timestamp(args.end)
    for run in materialize(_store(args), end.to_pydatetime() if end is not None else None):
        start = run.start.isoformat() if run.start else "end - ttl (first run)"
        print(f"materialized {run.view} from {run.source}: {start} -> {run.end.isoformat()}")
    return 0


def _outcome_key(args):
    """The scheduled command reports: materialize."""
    return (MATERIALIZE_JOB, None) if args.command == "materialize" else None


def cmd_online(args) -> int:
    store = _store(args)
    response = store.get_online_features(
        features=store.get_feature_service(args.feature_service),
        entity_rows=[{"customer_id": customer} for customer in args.customer],
    )
    print(json.dumps(response.to_dict(), default=str))
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m workloads.features", description=__doc__.splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    def with_repo(name: str, help_text: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--config-dir", required=True, help="directory with feature_store.yaml and the repository")
        command.add_argument("--repo-dir", required=True, help="where to stage the repository (may equal --config-dir)")
        return command

    generate = commands.add_parser("generate", help="write example source data to the offline store")
    generate.add_argument("--data-uri", help="s3://bucket/prefix (default: $FEATURE_DATA_URI)")
    generate.add_argument("--customers", type=int, default=10_000)
    generate.add_argument("--days", type=int, default=7)
    generate.add_argument("--end", help="last observation, ISO 8601 UTC (default: this hour)")
    generate.add_argument("--seed", type=int, default=7)
    generate.set_defaults(handler=cmd_generate)

    feast = with_repo("feast", "run the Feast CLI in the staged repository")
    feast.add_argument("feast_args", nargs=argparse.REMAINDER, help="-- then Feast CLI arguments")
    feast.set_defaults(handler=cmd_feast)

    serve = with_repo("serve", "run the feature server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=6566)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--registry-ttl-seconds", type=int, default=60)
    serve.add_argument("--max-requests", type=int, default=0, help="recycle a worker after this many requests (0: never)")
    serve.add_argument("--metrics", action="store_true", help="Prometheus metrics on port 8000 (Feast's fixed port)")
    serve.set_defaults(handler=cmd_serve)

    mat = with_repo("materialize", "materialise new offline rows into the online store")
    mat.add_argument("--end", help="materialise up to this instant, ISO 8601 UTC (default: now)")
    mat.set_defaults(handler=cmd_materialize)

    # `train` is handled by main() before parsing: an alias of `python -m workloads.training run`.
    commands.add_parser("train", help="alias of `python -m workloads.training run ...` (its arguments)")

    online = with_repo("online", "print online features as JSON")
    online.add_argument("--customer", type=int, action="append", required=True)
    online.add_argument("--feature-service", default="churn_model_v1")
    online.set_defaults(handler=cmd_online)
    return root


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:  # kept for existing scripts: training moved to workloads/training (the gate)
        from workloads.training.__main__ import main as training_main

        return training_main(["run", *argv[1:]])
    return cli.main("features", parser(), argv, outcome=_outcome_key)


if __name__ == "__main__":
    sys.exit(main())
