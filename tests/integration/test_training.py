"""Continuous training on the real servers: the champion/challenger gate and its decision record,
promotion between two MLflow servers, and the model's performance once late labels arrive.

The training Job's command runs as the platform's own `train-<model>` user (EDIT on its training
experiment and registered model only) and its read-only S3 identity, as in the cluster."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import mlflow.pyfunc
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from platform_components.model_training import promote_command, training_command
from platform_components.platform import TRAINING_S3_CLIENT, workload_users
from tests.integration.test_feature_store import applied_store, checked, s3_client
from tools.servers.mlflow import LocalMlflow
from tools.servers.process import ROOT
from workloads.features.data import write_tables
from workloads.training.errors import KEPT_EXIT_CODE


@dataclass
class Trainer:
    """A feature store of its own, and the training command as the model's own user runs it."""

    local: object
    tables: object
    model: str
    platform: object
    user: dict[str, str]

    def run(self, *extra: str) -> subprocess.CompletedProcess:
        command = training_command(self.model, str(self.local.config_dir), str(self.local.repo_dir))
        command = [arg for arg in command if arg not in ("--kept-exit-code", "0")]  # the CLI's own default
        env = {**os.environ, **self.local.env(), **self.platform.object_store.credentials(TRAINING_S3_CLIENT),
               "MLFLOW_TRACKING_URI": self.platform.mlflow.url, "MLFLOW_TRACKING_USERNAME": self.user["username"],
               "MLFLOW_TRACKING_PASSWORD": self.user["password"], "MLOPS_ENVIRONMENT": "qa",
               "HOME": str(self.local.workdir), "PYTHONPATH": str(ROOT)}
        env.pop("REDIS_PASSWORD", None)  # the training Job has no online store credentials
        return subprocess.run([sys.executable, *command[1:], *extra], env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=900)

    def write_labels(self, churned: np.ndarray) -> None:
        labels = self.tables.labels.assign(churned=churned)
        write_tables(s3_client(self.local), self.local.data_uri, type(self.tables)(
            self.tables.profiles, self.tables.activity, labels))


@pytest.fixture
def trainer(platform):
    model = f"churn-train-{uuid.uuid4().hex[:6]}"
    users = platform.mlflow.converge_users(workload_users((), (), (model,)))
    with applied_store(platform, model.replace("-", "_"), 600, seed=31) as (local, tables, _end):
        yield Trainer(local, tables, model, platform, users[f"train-{model}"])


def admin(platform) -> MlflowClient:
    return MlflowClient(platform.mlflow.url)


def test_first_run_promotes_then_the_same_data_keeps_the_champion(trainer, platform, mlflow_login):
    first = trainer.run()
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"registered {trainer.model} v1 (alias champion)" in first.stdout
    assert "promoted: first model: AUC" in first.stdout and first.stdout.strip().endswith("champion=1")

    again = trainer.run()
    assert again.returncode == KEPT_EXIT_CODE, again.stderr[-3000:]
    assert "kept: not better by the margin" in again.stdout
    assert again.stdout.strip().splitlines()[-1] == "decision=kept version=2 champion=1"

    client = admin(platform)
    assert client.get_model_version_by_alias(trainer.model, "champion").version == "1"
    assert client.get_model_version_by_alias(trainer.model, "challenger").version == "2"
    version = client.get_model_version(trainer.model, "2")
    run = client.get_run(version.run_id)
    tags, metrics = run.data.tags, run.data.metrics
    assert tags["gate.decision"] == "kept" and tags["gate.reason"].startswith("not better by the margin")
    assert tags["feast.feature_service"] == "churn_model_v1" and tags["feast.entity_keys"] == "customer_id"
    assert tags["mlops.data_window_start"] <= tags["mlops.data_window_end"] and tags["mlops.environment"] == "qa"
    assert metrics["challenger_auc"] == pytest.approx(metrics["champion_auc"], abs=1e-9), "same data, same model"
    assert run.data.params["margin"] == "0.01" and run.data.params["min_metric"] == "0.6"
    assert {"mlops.training_run", "mlops.data_window_start", "mlops.source_environment"} <= set(version.tags)
    assert version.tags["mlops.source_environment"] == "qa"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "reference")}
    assert artifacts == {"reference/reference.parquet", "reference/predictions.parquet"}
    # The run list tells the decisions apart, in MLflow's classic ML view (not its GenAI one).
    first_run = client.get_run(client.get_model_version(trainer.model, "1").run_id)
    assert (first_run.info.run_name, run.info.run_name) == (f"{trainer.model}-v1-promoted", f"{trainer.model}-v2-kept")
    assert tags["mlops.model_version"] == "2"
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == f"training/{trainer.model}"
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_clearly_better_challenger_is_promoted(trainer, platform, mlflow_login):
    truth = trainer.tables.labels["churned"].to_numpy()
    trainer.write_labels(np.random.default_rng(5).permutation(truth))  # labels that say nothing
    weak = trainer.run("--min-metric", "0")
    assert weak.returncode == 0 and "promoted: first model" in weak.stdout, weak.stderr[-3000:]
    trainer.write_labels(truth)
    better = trainer.run()
    assert better.returncode == 0, better.stderr[-3000:]
    assert "beats the champion's" in better.stdout
    client = admin(platform)
    assert client.get_model_version_by_alias(trainer.model, "champion").version == "2"
    metrics = client.get_run(client.get_model_version(trainer.model, "2").run_id).data.metrics
    assert metrics["challenger_auc"] > metrics["champion_auc"] + 0.1, "both judged on the same fresh labels"


def test_a_challenger_whose_inputs_changed_under_the_same_feature_service_is_refused(trainer, platform, mlflow_login):
    assert trainer.run().returncode == 0
    repository = trainer.local.config_dir / "features.py"
    text = repository.read_text()
    assert "features=[customer_profile, customer_activity]," in text
    repository.write_text(text.replace("features=[customer_profile, customer_activity],", "features=[customer_profile],"))
    checked(trainer.local.apply())
    refused = trainer.run()
    assert refused.returncode == KEPT_EXIT_CODE, refused.stderr[-3000:]
    assert "refused: input schema differs from the champion's signature under the same feature service" in refused.stdout
    assert "missing ['days_since_login', 'support_calls', 'usage_gb']" in refused.stdout
    assert admin(platform).get_model_version_by_alias(trainer.model, "champion").version == "1"


def test_bad_training_data_registers_nothing(trainer, platform, mlflow_login):
    trainer.write_labels(np.zeros(len(trainer.tables.labels), dtype=int))  # one class only
    result = trainer.run()
    assert result.returncode == 3, result.stderr[-3000:]
    assert "does not hold both classes" in result.stderr
    assert admin(platform).search_model_versions(f"name = '{trainer.model}'") == []


def promote(source: LocalMlflow, target: LocalMlflow, model: str) -> subprocess.CompletedProcess:
    (_, source_password), (_, target_password) = source.admin, target.admin
    env = {**os.environ, "SOURCE_MLFLOW_TRACKING_USERNAME": "admin", "SOURCE_MLFLOW_TRACKING_PASSWORD": source_password,
           "TARGET_MLFLOW_TRACKING_USERNAME": "admin", "TARGET_MLFLOW_TRACKING_PASSWORD": target_password,
           "MLOPS_SOURCE_ENVIRONMENT": "qa", "PYTHONPATH": str(ROOT)}
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_URI"):
        env.pop(key, None)
    return subprocess.run([sys.executable, *promote_command(model, source.url, target.url)[1:]],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def predictions(server: LocalMlflow, model: str, version: str, rows: pd.DataFrame, monkeypatch) -> list:
    for key, value in server.admin_env().items():
        monkeypatch.setenv(key, value)
    return mlflow.pyfunc.load_model(f"models:/{model}/{version}").predict(rows).tolist()


def test_promotion_copies_the_champion_to_another_registry_once(trainer, platform, second_mlflow, monkeypatch):
    assert trainer.run().returncode == 0
    first = promote(platform.mlflow, second_mlflow, trainer.model)
    assert first.returncode == 0, first.stderr[-3000:]
    assert f"copied: {trainer.model} v1 -> v1" in first.stdout
    target = MlflowClient(second_mlflow.url)
    for key, value in second_mlflow.admin_env().items():
        monkeypatch.setenv(key, value)
    version = target.get_model_version_by_alias(trainer.model, "champion")
    assert version.tags["mlops.source_environment"] == "qa" and version.tags["mlops.source_version"] == "1"
    run = target.get_run(version.run_id)
    assert run.data.tags["feast.feature_service"] == "churn_model_v1", "the model server there finds its features"
    assert {a.path for a in target.list_artifacts(run.info.run_id, "reference")} >= {"reference/reference.parquet"}
    assert target.get_model_version(trainer.model, "1").tags["mlops.source_run"]
    reference = pd.read_parquet(target.download_artifacts(run.info.run_id, "reference/reference.parquet"))
    rows = reference.head(50)
    assert predictions(second_mlflow, trainer.model, "1", rows, monkeypatch) == \
        predictions(platform.mlflow, trainer.model, "1", rows, monkeypatch)

    again = promote(platform.mlflow, second_mlflow, trainer.model)
    assert again.returncode == 0 and f"already promoted: {trainer.model} v1 -> v1" in again.stdout
    for key, value in second_mlflow.admin_env().items():
        monkeypatch.setenv(key, value)
    assert len(MlflowClient(second_mlflow.url).search_model_versions(f"name = '{trainer.model}'")) == 1


def drift(platform, trainer, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **platform.mlflow.admin_env(), **platform.object_store.credentials("drift"),
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "workloads.drift", *args, "--model", trainer.model,
                           "--s3-endpoint", platform.object_store.endpoint, "--labels-uri", outcomes_uri(trainer)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def outcomes_uri(trainer) -> str:
    return f"{trainer.local.data_uri}/outcomes/"


def test_performance_is_pending_until_labels_arrive_then_added_to_the_same_run(trainer, platform, mlflow_login):
    """Delayed outcomes: an interval's predictions are judged once their labels land, in its run."""
    assert trainer.run().returncode == 0
    client = admin(platform)
    version = client.get_model_version(trainer.model, "1")
    reference = pd.read_parquet(client.download_artifacts(version.run_id, "reference/reference.parquet"))
    day = datetime.now(UTC).date() - timedelta(days=2)
    customers = trainer.tables.labels["customer_id"].to_numpy()[:300]
    rows = reference.head(300).reset_index(drop=True)
    model = mlflow.pyfunc.load_model(f"models:/{trainer.model}/1").get_raw_model()
    start = pd.Timestamp(day, tz="UTC")
    log = rows.assign(customer_id=customers, prediction=model.predict(rows), probability=model.predict_proba(rows)[:, 1],
                      timestamp=start + pd.to_timedelta(np.linspace(0, 80_000, len(rows)), unit="s"),
                      request_id=[f"r{i}" for i in range(len(rows))], model_version="1")
    s3 = s3_client(trainer.local)
    admin_s3 = boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                                          **{k.lower(): v for k, v in platform.object_store.credentials().items()})
    admin_s3.put_object(Bucket="monitoring", Key=f"{trainer.model}/dt={day.isoformat()}/log.parquet",
                        Body=log.to_parquet(index=False))

    pending = drift(platform, trainer, "run", "--interval-end", (day + timedelta(days=1)).isoformat())
    assert pending.returncode == 0, pending.stderr[-3000:]
    experiment = client.get_experiment_by_name(f"monitoring/{trainer.model}")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["mlops.performance"] == "labels pending"

    # The outcomes land a day and a half later: the model's own predictions are good at them.
    truth = (log["probability"] > 0.5).astype(int).to_numpy()
    truth[:30] = 1 - truth[:30]
    outcomes = pd.DataFrame({"customer_id": customers, "event_timestamp": start + pd.Timedelta(hours=36),
                             "churned": truth})
    bucket, _, prefix = outcomes_uri(trainer).removeprefix("s3://").partition("/")
    s3.put_object(Bucket=bucket, Key=f"{prefix}outcomes.parquet", Body=outcomes.to_parquet(index=False))

    # The next night's run: its own day has no predictions (exit 3), the pending day gets its AUC.
    nightly = drift(platform, trainer, "run", "--interval-end", (day + timedelta(days=2)).isoformat())
    assert nightly.returncode == 3, nightly.stderr[-3000:]
    assert f"interval [{day.isoformat()}, {(day + timedelta(days=1)).isoformat()}): already logged, performance added" \
        in nightly.stdout
    again = drift(platform, trainer, "backfill", "--start", day.isoformat(), "--end", day.isoformat())
    assert again.returncode == 0 and "already logged (run" in again.stdout, again.stderr[-3000:]
    (run,) = client.search_runs([experiment.experiment_id])  # the same run, not a second one
    assert run.data.tags["mlops.performance"].startswith("auc ") and "on 300 labelled rows" in run.data.tags["mlops.performance"]
    assert 0.85 < run.data.metrics["performance.auc"] < 1.0
    assert run.data.metrics["performance.labelled_rows"] == 300


def delete_model_files(platform, model: str, version: str, only: str | None = None) -> list[str]:
    """Delete a registered version's model files from the artifact store (`only`: files so named),
    as a mistaken lifecycle rule or a hand clean-up would; returns the deleted keys."""
    client = admin(platform)
    source = client.get_model_version(model, version).source
    model_id = source.removeprefix("models:/").split("/")[0]
    s3 = boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                      **{k.lower(): v for k, v in platform.object_store.credentials().items()})
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow-artifacts")
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])
            if f"/{model_id}/" in o["Key"] and (only is None or o["Key"].endswith(f"/{only}"))]
    assert keys, f"no artifacts found for {source}"
    for key in keys:
        s3.delete_object(Bucket="mlflow-artifacts", Key=key)
    return keys


def test_promotion_refuses_a_version_that_cannot_be_served(trainer, platform, second_mlflow, mlflow_login, monkeypatch):
    """The source champion's pickle deleted, then all its files: promotion exits 4 naming what is
    wrong, and the target's champion stays the version copied before."""
    assert trainer.run().returncode == 0
    assert promote(platform.mlflow, second_mlflow, trainer.model).returncode == 0
    assert trainer.run("--margin", "-1").returncode == 0  # v2 becomes the source's champion
    delete_model_files(platform, trainer.model, "2", only="model.skops")
    partly = promote(platform.mlflow, second_mlflow, trainer.model)
    assert partly.returncode == 4, partly.stdout + partly.stderr[-3000:]
    assert f"BrokenModelError: {trainer.model} v2 in the source registry is incomplete: model.skops" in partly.stderr
    delete_model_files(platform, trainer.model, "2")
    gone = promote(platform.mlflow, second_mlflow, trainer.model)
    assert gone.returncode == 4, gone.stdout + gone.stderr[-3000:]
    assert f"{trainer.model} v2 in the source registry" in gone.stderr and "copied" not in gone.stdout
    for key, value in second_mlflow.admin_env().items():
        monkeypatch.setenv(key, value)
    target = MlflowClient(second_mlflow.url)
    assert target.get_model_version_by_alias(trainer.model, "champion").version == "1"
    assert [v.version for v in target.search_model_versions(f"name = '{trainer.model}'")] == ["1"]


def test_a_champion_whose_files_are_gone_gives_way_to_a_good_challenger(trainer, platform, mlflow_login):
    assert trainer.run().returncode == 0
    delete_model_files(platform, trainer.model, "1")
    result = trainer.run()
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert "promoted: the champion cannot be scored on the holdout window (v1 does not load" in result.stdout
    assert admin(platform).get_model_version_by_alias(trainer.model, "champion").version == "2"
