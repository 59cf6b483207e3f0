"""The drift job end to end on real MLflow (Postgres, S3 artifacts) and S3 prediction logs."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import boto3
import pytest
from botocore.config import Config
from mlflow.tracking import MlflowClient

from tools.drift_demo import ModelExistsError, register_model, write_prediction_logs
from tools.servers.seaweedfs import ROOT

MODEL = "churn-drift-e2e"
DAYS = ["2026-11-20", "2026-11-21", "2026-11-22"]
DRIFTED_DAY = "2026-11-21"


class HookRecorder(BaseHTTPRequestHandler):
    calls: list[dict] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        HookRecorder.calls.append({"auth": self.headers["Authorization"], "body": json.loads(body)})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def retrain_hook():
    server = HTTPServer(("127.0.0.1", 0), HookRecorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/retrain"
    server.shutdown()


def s3_client(platform, who):
    creds = {k.lower(): v for k, v in platform.object_store.credentials(who).items()}
    return boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}), **creds)


@pytest.fixture(scope="module")
def registered_model(platform):
    """Train a small model, log it with its reference dataset, register it, alias champion."""
    username, password = platform.mlflow.admin
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        patch.setenv("MLFLOW_TRACKING_URI", platform.mlflow.url)
        return register_model(MODEL)


@pytest.fixture(scope="module")
def prediction_logs(platform):
    write_prediction_logs(s3_client(platform, "drift"), "monitoring", MODEL, DAYS, DRIFTED_DAY)


def drift_cli(platform, hook_url, *args, model: str = MODEL) -> subprocess.CompletedProcess:
    username, password = platform.mlflow.admin
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(platform.mlflow.workdir),
           "MLFLOW_TRACKING_URI": platform.mlflow.url, "MLFLOW_TRACKING_USERNAME": username,
           "MLFLOW_TRACKING_PASSWORD": password, "MLFLOW_S3_ENDPOINT_URL": platform.object_store.endpoint,
           **platform.object_store.credentials("drift"), "RETRAIN_HOOK_URL": hook_url, "RETRAIN_HOOK_TOKEN": "t0ken"}
    return subprocess.run([sys.executable, "-m", "workloads.drift", *args, "--model", model],
                          env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)


def monitoring_runs(platform):
    with pytest.MonkeyPatch.context() as patch:
        username, password = platform.mlflow.admin
        patch.setenv("MLFLOW_TRACKING_USERNAME", username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        client = MlflowClient(platform.mlflow.url)
        experiment = client.get_experiment_by_name(f"monitoring/{MODEL}")
        return experiment, client.search_runs([experiment.experiment_id], order_by=["tags.`mlops.interval_start` ASC"])


def test_backfill_logs_one_run_per_interval_and_flags_the_drifted_day(platform, registered_model, prediction_logs, retrain_hook):
    HookRecorder.calls.clear()
    result = drift_cli(platform, retrain_hook, "backfill", "--start", DAYS[0], "--end", DAYS[-1])
    assert result.returncode == 0, result.stderr[-3000:]
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        f"interval [{d}, {e})" for d, e in zip(DAYS, DAYS[1:] + ["2026-11-23"], strict=True)]

    experiment, runs = monitoring_runs(platform)
    assert [r.data.tags["mlops.interval_start"] for r in runs] == DAYS
    assert all(r.data.tags["mlops.model_version"] == str(registered_model.version) for r in runs)
    assert [r.data.metrics["dataset_drift"] for r in runs] == [0.0, 1.0, 0.0]
    drifted = runs[1]
    assert drifted.data.metrics["monthly_charges.drifted"] == 1.0
    assert drifted.data.metrics["monthly_charges.ks_p_value"] < 1e-6
    assert drifted.data.metrics["monthly_charges.mean_shift_sd"] > 0.4
    assert drifted.data.metrics["mmd_p_value"] < 0.05 / drifted.data.metrics["family_size"]  # the joint test fires too
    assert 0 < drifted.data.metrics["share_drifted"] <= 1
    assert [r.data.tags["mlops.drifted_features"] for r in runs] == ["", "monthly_charges", ""]

    admin = s3_client(platform, "admin")
    for run in runs:
        prefix = f"{experiment.experiment_id}/{run.info.run_id}/artifacts/"
        keys = {o["Key"][len(prefix):] for o in admin.list_objects_v2(Bucket="mlflow-artifacts", Prefix=prefix)["Contents"]}
        assert keys == {"drift_report.json", "drift_report.html"}
    report = json.loads(admin.get_object(Bucket="mlflow-artifacts", Key=f"{experiment.experiment_id}/{drifted.info.run_id}/artifacts/drift_report.json")["Body"].read())
    assert report["interval_start"] == DRIFTED_DAY and report["dataset_drift"] is True
    last = json.loads(admin.get_object(Bucket="mlflow-artifacts", Key=f"{experiment.experiment_id}/{runs[2].info.run_id}/artifacts/drift_report.json")["Body"].read())
    assert [(t["interval_start"], t["dataset_drift"]) for t in last["trend"]] == [(DAYS[0], False), (DRIFTED_DAY, True)]
    assert last["trend"][1]["features"]["monthly_charges"]["drifted"] is True

    assert len(HookRecorder.calls) == 1
    assert HookRecorder.calls[0]["body"]["templateParameters"]["intervalStart"] == DRIFTED_DAY
    assert HookRecorder.calls[0]["auth"] == "Bearer t0ken"


def test_rerunning_intervals_is_idempotent(platform, registered_model, prediction_logs, retrain_hook):
    calls_before = len(HookRecorder.calls)
    again = drift_cli(platform, retrain_hook, "backfill", "--start", DAYS[0], "--end", DAYS[-1])
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("already logged") == 3
    single = drift_cli(platform, retrain_hook, "run", "--interval-end", "2026-11-21")
    assert single.returncode == 0 and "interval [2026-11-20, 2026-11-21): already logged" in single.stdout
    _, runs = monitoring_runs(platform)
    assert len(runs) == 3
    assert len(HookRecorder.calls) == calls_before


def test_an_interval_without_data_fails_alone_with_its_exit_code(platform, registered_model, prediction_logs, retrain_hook):
    result = drift_cli(platform, retrain_hook, "backfill", "--start", "2026-11-22", "--end", "2026-11-23")
    assert result.returncode == 3
    assert "interval [2026-11-22, 2026-11-23): already logged" in result.stdout
    assert f"no prediction logs for interval [2026-11-23, 2026-11-24) at s3://monitoring/{MODEL}/dt=2026-11-23/*.parquet" in result.stderr
    _, runs = monitoring_runs(platform)
    assert len(runs) == 3, "nothing may be written for an interval without data"


def test_a_day_with_an_unreadable_file_is_logged_as_failed_and_the_next_day_still_runs(platform, registered_model,
                                                                                        prediction_logs, retrain_hook):
    s3 = s3_client(platform, "drift")
    write_prediction_logs(s3, "monitoring", MODEL, ["2026-11-24", "2026-11-25"], None)
    s3.put_object(Bucket="monitoring", Key=f"{MODEL}/dt=2026-11-24/part-1.parquet", Body=b"PAR1 cut short")
    result = drift_cli(platform, retrain_hook, "backfill", "--start", "2026-11-24", "--end", "2026-11-25")
    assert result.returncode == 6, result.stderr[-3000:]
    assert f"s3://monitoring/{MODEL}/dt=2026-11-24/part-1.parquet: not a readable parquet file" in result.stderr
    assert "interval [2026-11-25, 2026-11-26): logged" in result.stdout
    _, runs = monitoring_runs(platform)
    bad = next(r for r in runs if r.data.tags["mlops.interval_start"] == "2026-11-24")
    assert bad.info.status == "FAILED" and "UnreadableFileError (exit 6)" in bad.data.tags["mlops.problems"]
    assert bad.data.metrics["rows_current"] == 2_000.0  # the readable half, reported

    # Once the file is fixed, a rerun replaces the failed run.
    write_prediction_logs(s3, "monitoring", MODEL, ["2026-11-24"], None)
    again = drift_cli(platform, retrain_hook, "run", "--interval-end", "2026-11-25")
    assert again.returncode == 0 and "interval [2026-11-24, 2026-11-25): logged" in again.stdout
    _, runs = monitoring_runs(platform)
    day = [r for r in runs if r.data.tags["mlops.interval_start"] == "2026-11-24"]
    assert [(r.info.status, r.data.metrics["rows_current"]) for r in day] == [("FINISHED", 4_000.0)]


def test_a_mistyped_model_fails_fast_with_its_own_code(platform, retrain_hook):
    result = drift_cli(platform, retrain_hook, "run", "--interval-end", "2026-11-21", model="chrun-typo")
    assert result.returncode == 8, result.stderr[-2000:]
    assert "NotFoundError: model 'chrun-typo' alias 'champion'" in result.stderr


def test_the_demo_leaves_an_existing_model_alone(platform, registered_model):
    username, password = platform.mlflow.admin
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_USERNAME", username)
        patch.setenv("MLFLOW_TRACKING_PASSWORD", password)
        patch.setenv("MLFLOW_TRACKING_URI", platform.mlflow.url)
        with pytest.raises(ModelExistsError, match=f"'{MODEL}' exists \\(alias champion -> version {registered_model.version}\\)"):
            register_model(MODEL)


def test_a_reference_column_without_values_does_not_blind_the_monitor(platform, registered_model, retrain_hook):
    """A reference whose `tenure_months` is all missing: the drifted day is still decided on the
    other features, the run FINISHED with the column named, the hook called, and the job exits 0."""
    import io

    import numpy as np

    from workloads.churn import FEATURES, generate

    s3 = s3_client(platform, "drift")
    reference = generate(5_000, seed=100)[list(FEATURES)].assign(tenure_months=np.nan)
    buffer = io.BytesIO()
    reference.to_parquet(buffer)
    s3.put_object(Bucket="monitoring", Key=f"{MODEL}/_references/blank-tenure.parquet", Body=buffer.getvalue())
    write_prediction_logs(s3, "monitoring", MODEL, ["2026-11-28"], "2026-11-28")
    HookRecorder.calls.clear()
    result = drift_cli(platform, retrain_hook, "run", "--interval-end", "2026-11-29", "--reference",
                       f"s3://monitoring/{MODEL}/_references/blank-tenure.parquet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("interval [2026-11-28, 2026-11-29): logged; not tested (no value in the reference): tenure_months"
            in result.stdout)
    assert "DATASET DRIFT, retrain hook called" in result.stdout
    _, runs = monitoring_runs(platform)
    (run,) = [r for r in runs if r.data.tags["mlops.interval_start"] == "2026-11-28"]
    assert run.info.status == "FINISHED" and "mlops.problems" not in run.data.tags
    assert run.data.tags["mlops.untested_columns"].startswith("tenure_months: ")
    assert "monthly_charges" in run.data.tags["mlops.drifted_features"]
    assert run.data.metrics["untested_columns"] == 1.0
    assert [call["body"]["templateParameters"]["intervalStart"] for call in HookRecorder.calls] == ["2026-11-28"]


def test_the_demo_keeps_to_its_own_model_and_experiment(platform, registered_model, mlflow_login):
    """The README's loop trains and serves `churn`; the demo registers `churn-drift-demo` by
    default, and its runs go to `demo/<model>`, never to a model's `training/<model>`."""
    from tools.drift_demo import parser

    assert parser().parse_args([]).model == "churn-drift-demo"
    client = MlflowClient(platform.mlflow.url)
    run = client.get_run(client.get_model_version(MODEL, registered_model.version).run_id)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == f"demo/{MODEL}" and experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert client.get_experiment_by_name(f"training/{MODEL}") is None
    monitoring = client.get_experiment_by_name(f"monitoring/{MODEL}")
    assert monitoring is None or monitoring.tags["mlflow.experimentKind"] == "custom_model_development"
