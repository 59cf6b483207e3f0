"""Seed a tracking server and S3 with a model to monitor: `python -m tools.drift_demo`.

Trains a small churn classifier, logs it with its reference dataset (the artifact the drift job
compares against, `reference/reference.parquet`) in the experiment `demo/<model>`, registers it
as `churn-drift-demo` (`--model`) with alias `champion`, and writes daily prediction logs to
s3://monitoring/<model>/dt=YYYY-MM-DD/ (UTC days ending yesterday), one day drifted on purpose.
Its own name and experiment keep it apart from a model you trained and serve (`churn` in the
README's loop): a registered model of the name given is left alone unless `--force` is given,
since the demo would add a version to it and move its `champion` alias, which a real model's
serving and monitoring follow. It prints the exact backfill command for the days it wrote.
Uses MLFLOW_TRACKING_URI/USERNAME/PASSWORD, MLFLOW_S3_ENDPOINT_URL and AWS_* from the environment
(the `export` lines printed by `make local-servers`).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config

from workloads.churn import FEATURES, NUMERIC, Drift, generate
from workloads.experiments import ensure_experiment

DEMO_MODEL = "churn-drift-demo"


class ModelExistsError(RuntimeError):
    """The registered model exists already; the demo would change its `champion` alias."""


def refuse_existing(client, name: str, force: bool) -> None:
    """Raise ModelExistsError when `name` is registered (unless `force`), naming its champion."""
    from mlflow.exceptions import MlflowException

    try:
        model = client.get_registered_model(name)
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return
        raise
    if not force:
        champion = (model.aliases or {}).get("champion")
        raise ModelExistsError(
            f"registered model {name!r} exists" + (f" (alias champion -> version {champion})" if champion else "")
            + "; the demo would add a version and move its champion alias. Choose another --model, or pass --force")


def register_model(name: str, rows: int = 5_000, seed: int = 100, force: bool = False):
    """Train, log with the reference dataset, register, alias `champion`; returns the version.
    Refuses (ModelExistsError) a name that is registered already, unless `force`."""
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    client = MlflowClient()
    refuse_existing(client, name, force)
    training = generate(rows, seed=seed)
    model = LogisticRegression(max_iter=500).fit(training[list(NUMERIC)], training["churned"])
    mlflow.set_experiment(experiment_id=ensure_experiment(client, f"demo/{name}"))  # never a model's training experiment
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        reference = Path(tmp) / "reference.parquet"
        training[list(FEATURES)].to_parquet(reference)
        client.log_artifact(run.info.run_id, str(reference), artifact_path="reference")
        mlflow.sklearn.log_model(model, name="model")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    client.set_registered_model_alias(name, "champion", version.version)
    return version


def write_prediction_logs(s3, bucket: str, model: str, days: list[str], drifted_day: str | None,
                          rows_per_day: int = 4_000, parts: int = 2) -> None:
    for i, day in enumerate(days):
        drift = Drift(numeric_shift={"monthly_charges": 0.5}) if day == drifted_day else None
        frame = generate(rows_per_day, seed=200 + i, start=day, drift=drift)[list(FEATURES)]
        size = rows_per_day // parts
        for part in range(parts):
            buffer = io.BytesIO()
            frame.iloc[part * size:(part + 1) * size].to_parquet(buffer)
            s3.put_object(Bucket=bucket, Key=f"{model}/dt={day}/part-{part}.parquet", Body=buffer.getvalue())


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.drift_demo", description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEMO_MODEL,
                        help=f"the demo's registered model (default {DEMO_MODEL}, apart from the models you train)")
    parser.add_argument("--days", type=int, default=3, help="days of prediction logs, ending yesterday")
    parser.add_argument("--bucket", default="monitoring")
    parser.add_argument("--force", action="store_true",
                        help="register a new version and move the champion alias even if the model exists")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        version = register_model(args.model, force=args.force)
    except ModelExistsError as error:
        print(f"drift_demo: {error}", file=sys.stderr)
        return 2
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    days = [(yesterday - timedelta(days=n)).isoformat() for n in range(args.days - 1, -1, -1)]
    s3 = boto3.client("s3", endpoint_url=os.environ["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}))
    drifted = days[len(days) // 2]
    write_prediction_logs(s3, args.bucket, args.model, days, drifted)
    print(f"registered {args.model} v{version.version} (alias champion); prediction logs for {days[0]}..{days[-1]}, "
          f"{drifted} drifted")
    print(f"next: python -m workloads.drift backfill --model {args.model} --start {days[0]} --end {days[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
