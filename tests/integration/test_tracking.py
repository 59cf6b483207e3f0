"""MLflow on Postgres with S3 artifacts: what a client logs is in the database and the bucket."""

from __future__ import annotations

import hashlib
import time
import uuid
from pathlib import Path

import boto3
import psycopg
from botocore.config import Config
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from platform_components.platform import ARTIFACTS_BUCKET, TRACKING_DB

ARTIFACT_SIZE = 50 * 2**20


def admin_s3(platform):
    return boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}),
                        **{k.lower(): v for k, v in platform.object_store.credentials("admin").items()})


def test_params_metrics_and_a_50_mb_artifact_land_in_postgres_and_s3(platform, mlflow_login, tmp_path: Path):
    client = MlflowClient(platform.mlflow.url)
    experiment_id = client.create_experiment(f"tracking-{uuid.uuid4().hex[:8]}")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "learning_rate", "0.01")
    now = int(time.time() * 1000)
    metrics = [Metric("loss", 1.0 / (step + 1), now + step, step) for step in range(1000)]
    client.log_batch(run_id, metrics=metrics)
    payload = tmp_path / "model.bin"
    payload.write_bytes(hashlib.shake_256(b"mlops").digest(ARTIFACT_SIZE))
    client.log_artifact(run_id, str(payload), artifact_path="model")
    client.set_terminated(run_id)

    with psycopg.connect(platform.postgres.uri(TRACKING_DB)) as conn:
        status = conn.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,)).fetchone()
        params = conn.execute("SELECT key, value FROM params WHERE run_uuid = %s", (run_id,)).fetchall()
        stored = conn.execute(
            "SELECT count(*), min(step), max(step) FROM metrics WHERE run_uuid = %s AND key = 'loss'", (run_id,)
        ).fetchone()
    assert status == ("FINISHED",)
    assert params == [("learning_rate", "0.01")]
    assert stored == (1000, 0, 999)

    key = f"{experiment_id}/{run_id}/artifacts/model/model.bin"
    head = admin_s3(platform).head_object(Bucket=ARTIFACTS_BUCKET, Key=key)
    assert head["ContentLength"] == ARTIFACT_SIZE
    assert "-" in head["ETag"], f"expected a multipart upload's ETag, got {head['ETag']}"

    downloaded = Path(client.download_artifacts(run_id, "model/model.bin", str(tmp_path / "back")))
    assert hashlib.sha256(downloaded.read_bytes()).digest() == hashlib.sha256(payload.read_bytes()).digest()


def test_metric_history_reads_back_through_the_server(platform, mlflow_login):
    client = MlflowClient(platform.mlflow.url)
    run_id = client.create_run(client.create_experiment(f"history-{uuid.uuid4().hex[:8]}")).info.run_id
    client.log_batch(run_id, metrics=[Metric("acc", step / 10, 0, step) for step in range(10)])
    history = sorted(client.get_metric_history(run_id, "acc"), key=lambda m: m.step)
    assert [m.value for m in history] == [step / 10 for step in range(10)]
