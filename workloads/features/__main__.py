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
from workloads.features.invocation import FeastRun, FeatureServer, Materialization
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
    job = FeastRun.from_args(args)
    if not job.feast_args:
        raise ConfigError("nothing to run: give Feast CLI arguments after --, e.g. -- apply")
    exec_feast(stage_repository(job.config_dir, job.repo_dir), list(job.feast_args))
    return 0  # not reached: exec replaces this process


def cmd_serve(args) -> int:
    job = FeatureServer.from_args(args)
    cli.require_free_port(job.host, job.port)  # before feast's imports: a taken port fails at once
    from workloads.features.serve import serve

    serve(str(stage_repository(job.config_dir, job.repo_dir)), host=job.host, port=job.port,
          workers=job.workers, registry_ttl_seconds=job.registry_ttl_seconds, max_requests=job.max_requests,
          metrics=job.metrics)
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

    feast = commands.add_parser("feast", help="run the Feast CLI in the staged repository")
    FeastRun.add_arguments(feast)
    feast.set_defaults(handler=cmd_feast)

    serve = commands.add_parser("serve", help="run the feature server")
    FeatureServer.add_arguments(serve)
    serve.set_defaults(handler=cmd_serve)

    mat = commands.add_parser("materialize", help="materialise new offline rows into the online store")
    Materialization.add_arguments(mat)
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
