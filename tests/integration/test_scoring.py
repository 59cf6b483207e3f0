"""Batch scoring on the real servers: a whole input scored with the champion and committed once,
entity inputs joined point in time by the feature store, reruns that replace, failures that commit
nothing, bad input named, and the drift job reading the batch rows.

The job runs from the BatchScoring component's own command line and environment, logged into
MLflow as the model's own `batch-<model>` user (READ) and into S3 with its own identity."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import boto3
import mlflow.pyfunc
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from botocore.config import Config
from feast import FeatureStore
from mlflow.tracking import MlflowClient

from platform_components.batch_scoring import ScoringSecrets, scoring_command, scoring_env
from platform_components.k8s import resolve_env
from platform_components.platform import MONITORING_BUCKET, PREDICTIONS_BUCKET, workload_users
from tests.integration.conftest import SCORED_MODEL
from tests.integration.test_feature_store import STALE_CUSTOMER, applied_store, checked
from tools.servers.process import ROOT
from workloads.features.data import MODEL_FEATURES
from workloads.scoring.errors import NoDataError, NotFoundError, SchemaMismatchError, UnusableValuesError
from workloads.tags import ENTITY_KEY_TYPES_TAG, ENTITY_KEYS_TAG, FEATURE_SERVICE_TAG

MODEL = SCORED_MODEL.name
SERVICE = "churn_model_v1"
TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=1)  # the interval scored: [DAY, TODAY)
UNKNOWN_CUSTOMER = 999_999


@dataclass
class Scoring:
    local: object
    tables: object
    platform: object
    users: dict[str, dict[str, str]]
    sdk: FeatureStore

    def run(self, input_uri: str, *extra: str, interval_end=TODAY, workers: int = 1) -> subprocess.CompletedProcess:
        command = scoring_command(MODEL, input_uri, f"s3://{PREDICTIONS_BUCKET}", f"s3://{MONITORING_BUCKET}",
                                  self.platform.object_store.endpoint, alias="champion", batch_rows=100, workers=workers,
                                  config_dir=str(self.local.config_dir), repo_dir=str(self.local.repo_dir))
        env = resolve_env(scoring_env(self.local.endpoints(), self.platform.mlflow.url,
                                      ScoringSecrets("mlflow", "s3", "registry")),
                          {"mlflow": self.users[SCORED_MODEL.service_name],
                           "s3": self.platform.object_store.credentials(SCORED_MODEL.service_name),
                           "registry": {"password": self.platform.postgres.app_passwords["feast_registry"]}})
        env = {**os.environ, **env, "HOME": str(self.local.workdir), "PYTHONPATH": str(ROOT)}
        env.pop("REDIS_PASSWORD", None)  # the Job has no online store credentials
        return subprocess.run([sys.executable, *command[1:], "--interval-end", interval_end.isoformat(), *extra],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)


def admin_s3(platform):
    admin = platform.object_store.credentials()
    return boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                        aws_access_key_id=admin["AWS_ACCESS_KEY_ID"], aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}))


def keys_under(s3, bucket: str, prefix: str) -> list[str]:
    """The objects under `prefix`, except the empty "directory" markers Arrow's S3 filesystem leaves
    (`<prefix>/`, so a parent stays listable once its last file is deleted)."""
    return sorted(o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
                  for o in page.get("Contents", []) if not o["Key"].endswith("/"))


def read_parquet(s3, bucket: str, keys: list[str]) -> pd.DataFrame:
    frames = [pd.read_parquet(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())) for k in keys]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def committed(platform) -> tuple[dict, pd.DataFrame]:
    """The interval's manifest and output rows."""
    s3 = admin_s3(platform)
    prefix = f"{MODEL}/dt={DAY.isoformat()}/"
    manifest = json.loads(s3.get_object(Bucket=PREDICTIONS_BUCKET, Key=f"{prefix}_SUCCESS")["Body"].read())
    parts = [k for k in keys_under(s3, PREDICTIONS_BUCKET, prefix) if k[len(prefix):].startswith("part-")]
    return manifest, read_parquet(s3, PREDICTIONS_BUCKET, parts)


def batch_log(platform) -> pd.DataFrame:
    s3 = admin_s3(platform)
    keys = [k for k in keys_under(s3, MONITORING_BUCKET, f"{MODEL}/dt={DAY.isoformat()}/")
            if k.rsplit("/", 1)[1].startswith("batch-")]
    return read_parquet(s3, MONITORING_BUCKET, keys)


def put(platform, uri: str, frame: pd.DataFrame) -> None:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    body = io.BytesIO()
    frame.to_parquet(body, index=False)
    admin_s3(platform).put_object(Bucket=bucket, Key=key, Body=body.getvalue())


def fresh_prefix() -> str:
    return f"{SCORED_MODEL.input}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def scoring(platform):
    with applied_store(platform, "scoring", 300, seed=41) as (local, tables, _end):
        users = platform.mlflow.converge_users(workload_users((), (MODEL,), (), (MODEL,)))
        assert f"registered {MODEL} v1 (alias champion)" in checked(local.train(platform.mlflow.admin_env(), MODEL))
        yield Scoring(local, tables, platform, users, FeatureStore(repo_path=str(local.repo_dir)))


def champion(platform):
    client = MlflowClient(platform.mlflow.url)
    version = client.get_model_version_by_alias(MODEL, "champion").version
    return mlflow.pyfunc.load_model(f"models:/{MODEL}/{version}"), str(version)


def features_table(scoring: Scoring, rows: int, seed: int) -> pd.DataFrame:
    """`rows` rows of real feature values (the store's, point in time), each stamped inside DAY."""
    customers = sorted(scoring.tables.labels["customer_id"])[:rows]
    as_of = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=12)
    joined = scoring.sdk.get_historical_features(
        entity_df=pd.DataFrame({"customer_id": customers, "event_timestamp": as_of}),
        features=scoring.sdk.get_feature_service(SERVICE)).to_df().dropna()
    rng = np.random.default_rng(seed)
    joined["event_timestamp"] = pd.Timestamp(DAY, tz="UTC") + pd.to_timedelta(rng.uniform(0, 86_399, len(joined)), unit="s")
    return joined[["customer_id", "event_timestamp", *MODEL_FEATURES]].reset_index(drop=True)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_feature_table_is_scored_committed_and_logged_once_per_interval(scoring, platform, mlflow_login, workers):
    """With 2 workers the two files are two tasks scored by two forked processes: the same rows."""
    prefix = fresh_prefix()
    inside = features_table(scoring, 200, seed=1)
    outside = inside.head(30).assign(event_timestamp=inside["event_timestamp"].head(30) - pd.Timedelta(days=2))
    put(platform, f"{prefix}/a.parquet", inside.iloc[:120])
    put(platform, f"{prefix}/b.parquet", pd.concat([inside.iloc[120:], outside], ignore_index=True))

    result = scoring.run(f"{prefix}/", workers=workers)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"scored {len(inside)} rows" in result.stdout
    manifest, output = committed(platform)
    assert manifest["workers"] == workers and len(manifest["files"]) == workers
    pyfunc, version = champion(platform)
    assert manifest["rows_scored"] == len(inside) == len(output) and manifest["rows_read"] == len(inside)
    assert manifest["model_version"] == version and manifest["input_kind"] == "features"
    assert sum(f["rows"] for f in manifest["files"]) == len(inside)
    # Exactly the model's answers, in process, for each key.
    merged = inside.merge(output, on=["customer_id", "event_timestamp"], validate="one_to_one")
    assert len(merged) == len(inside)
    expected = pyfunc.predict(merged[list(MODEL_FEATURES)])
    np.testing.assert_array_equal(merged["prediction"].to_numpy(), np.asarray(expected))
    raw = pyfunc.get_raw_model()
    np.testing.assert_allclose(merged["probability"], raw.predict_proba(merged[list(MODEL_FEATURES)])[:, 1])
    assert set(output["model"]) == {MODEL} and set(output["model_version"]) == {version}
    assert set(output["batch_id"]) == {manifest["batch_id"]}
    # The prediction log has the same rows, marked as batch, at their own times inside the interval.
    logged = batch_log(platform)
    assert len(logged) == len(inside)
    assert set(logged["request_id"]) == {f"batch-{manifest['batch_id']}"}
    assert sorted(logged["timestamp"]) == sorted(inside["event_timestamp"])

    # A rerun replaces the interval's result, it does not add to it.
    again = scoring.run(f"{prefix}/", workers=workers)
    assert again.returncode == 0, again.stderr[-3000:]
    rerun, output = committed(platform)
    assert rerun["batch_id"] != manifest["batch_id"] and len(output) == len(inside)
    assert set(output["batch_id"]) == {rerun["batch_id"]}
    logged = batch_log(platform)
    assert len(logged) == len(inside) and set(logged["request_id"]) == {f"batch-{rerun['batch_id']}"}
    assert not keys_under(admin_s3(platform), PREDICTIONS_BUCKET, f"{MODEL}/_temporary/")
    assert not keys_under(admin_s3(platform), MONITORING_BUCKET, f"{MODEL}/_temporary/")

    # The drift job, as the drift monitor's own user, reads the batch rows of the interval.
    drift_user = scoring.users["drift-monitor"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": platform.mlflow.url, "MLFLOW_TRACKING_USERNAME": drift_user["username"],
           "MLFLOW_TRACKING_PASSWORD": drift_user["password"], **platform.object_store.credentials("drift"),
           "PYTHONPATH": str(ROOT)}
    drift = subprocess.run([sys.executable, "-m", "workloads.drift", "run", "--model", MODEL, "--interval-end",
                            TODAY.isoformat(), "--s3-endpoint", platform.object_store.endpoint],
                           env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert drift.returncode in (0, 10), drift.stderr[-3000:]
    client = MlflowClient(platform.mlflow.url)
    experiment = client.get_experiment_by_name(f"monitoring/{MODEL}")
    (run,) = client.search_runs([experiment.experiment_id], filter_string=f"tags.`mlops.interval_start` = '{DAY.isoformat()}'")
    assert run.data.metrics["rows_current"] == len(inside)


@pytest.mark.parametrize("workers", [1, 2])
def test_entity_keys_get_their_features_point_in_time_and_unknown_ones_are_set_aside(scoring, platform, mlflow_login,
                                                                                     workers):
    """With 2 workers each file's retrieval runs in a forked process, each with its own feature store."""
    prefix = fresh_prefix()
    # The stale customer's activity is older than its view's TTL: Feast's retrieval leaves its row out
    # (the image tier found it); it must be set aside like the unknown one, not shift the others.
    customers = [*sorted(scoring.tables.labels["customer_id"])[:150], STALE_CUSTOMER, UNKNOWN_CUSTOMER]
    put(platform, f"{prefix}/customers-a.parquet", pd.DataFrame({"customer_id": customers[:70]}))
    put(platform, f"{prefix}/customers-b.parquet", pd.DataFrame({"customer_id": customers[70:]}))
    result = scoring.run(f"{prefix}/", workers=workers)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest, output = committed(platform)
    assert manifest["input_kind"] == "entities" and manifest["rows_read"] == len(customers)
    assert manifest["rows_scored"] == len(output) == len(customers) - 2 and manifest["rows_unscored"] == 2
    # The features as they were at the interval's last instant, from the offline store.
    as_of = pd.Timestamp(TODAY, tz="UTC") - pd.Timedelta(microseconds=1)
    assert manifest["as_of"] == as_of.isoformat()
    expected = scoring.sdk.get_historical_features(
        entity_df=pd.DataFrame({"customer_id": customers[:-2], "event_timestamp": as_of}),
        features=scoring.sdk.get_feature_service(SERVICE)).to_df().sort_values("customer_id", ignore_index=True)
    pyfunc, _version = champion(platform)
    scored = output.sort_values("customer_id", ignore_index=True)
    assert scored["customer_id"].tolist() == expected["customer_id"].tolist()
    np.testing.assert_array_equal(scored["prediction"], np.asarray(pyfunc.predict(expected[list(MODEL_FEATURES)])))
    assert len(manifest["files"]) == workers
    s3 = admin_s3(platform)
    unscored = read_parquet(s3, PREDICTIONS_BUCKET, keys_under(s3, PREDICTIONS_BUCKET, f"{MODEL}/dt={DAY.isoformat()}/_unscored/"))
    assert sorted(unscored["customer_id"]) == [STALE_CUSTOMER, UNKNOWN_CUSTOMER]
    assert all(reason.startswith(("no features", "missing ")) for reason in unscored["reason"])
    # Logged with the keys and the features the model saw.
    logged = batch_log(platform)
    assert sorted(logged["customer_id"]) == sorted(customers[:-2])
    assert set(MODEL_FEATURES) <= set(logged.columns)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failure_mid_batch_leaves_the_committed_result_untouched(scoring, platform, mlflow_login, workers):
    """With 2 workers the bad file fails in one worker while the other stages the good one."""
    prefix = fresh_prefix()
    good = features_table(scoring, 150, seed=2)
    put(platform, f"{prefix}/a.parquet", good)
    assert scoring.run(f"{prefix}/").returncode == 0
    before, output_before = committed(platform)
    logged_before = batch_log(platform)
    # A second file whose values the model cannot take: the first file's batches are staged by then.
    bad = good.head(40).assign(usage_gb=np.nan)
    put(platform, f"{prefix}/b.parquet", bad)
    result = scoring.run(f"{prefix}/", workers=workers)
    assert result.returncode == UnusableValuesError.exit_code, result.stderr[-3000:]
    assert f"{prefix}/b.parquet".removeprefix("s3://") in result.stderr and "'usage_gb'" in result.stderr
    after, output_after = committed(platform)
    assert after == before
    pd.testing.assert_frame_equal(output_after, output_before)
    pd.testing.assert_frame_equal(batch_log(platform), logged_before)
    s3 = admin_s3(platform)
    assert not keys_under(s3, PREDICTIONS_BUCKET, f"{MODEL}/_temporary/")
    assert not keys_under(s3, MONITORING_BUCKET, f"{MODEL}/_temporary/")


def bad_inputs(table: pd.DataFrame) -> dict[str, tuple[pd.DataFrame | None, type, str]]:
    """Name -> (the input, the error, a word its message must hold)."""
    return {
        "missing column": (table.drop(columns=["tenure_months", "customer_id"]), SchemaMismatchError, "'tenure_months'"),
        "wrong type": (table.assign(tenure_months=table["tenure_months"].astype(str)), SchemaMismatchError,
                       "'tenure_months' is string"),
        "empty": (table.head(0), NoDataError, "no rows in interval"),
        "rows outside the interval": (table.assign(event_timestamp=table["event_timestamp"] - pd.Timedelta(days=3)),
                                      NoDataError, "no rows in interval"),
        "no files": (None, NotFoundError, "no such file or prefix"),
    }


@pytest.mark.parametrize("case", ["missing column", "wrong type", "empty", "rows outside the interval", "no files"])
def test_bad_input_is_named_with_its_exit_code_and_commits_nothing(scoring, platform, mlflow_login, case):
    table = features_table(scoring, 20, seed=3)
    frame, error, words = bad_inputs(table)[case]
    prefix = fresh_prefix()
    if frame is not None:
        put(platform, f"{prefix}/input.parquet", frame)
    s3 = admin_s3(platform)
    before = keys_under(s3, PREDICTIONS_BUCKET, f"{MODEL}/")
    result = scoring.run(f"{prefix}/")
    assert result.returncode == error.exit_code, result.stderr[-3000:]
    assert words in result.stderr and error.__name__ in result.stderr
    if frame is not None and case != "empty" and case != "rows outside the interval":
        assert f"{prefix}/input.parquet".removeprefix("s3://") in result.stderr
    assert keys_under(s3, PREDICTIONS_BUCKET, f"{MODEL}/") == before


def test_an_unknown_alias_is_not_found(scoring, platform):
    prefix = fresh_prefix()
    put(platform, f"{prefix}/input.parquet", features_table(scoring, 10, seed=4))
    result = scoring.run(f"{prefix}/", "--alias", "nonexistent")
    assert result.returncode == NotFoundError.exit_code, result.stderr[-3000:]
    assert f"models:/{MODEL}@nonexistent" in result.stderr


def test_a_model_whose_inputs_its_feature_service_does_not_give_is_refused(scoring, platform, mlflow_login):
    """A version trained on a column the feature service does not serve: an entity input cannot be
    scored; the error names the service and the column, and nothing is committed."""
    from mlflow.models import infer_signature
    from sklearn.dummy import DummyClassifier

    frame = features_table(scoring, 50, seed=5)[list(MODEL_FEATURES)].assign(loyalty_points=1.0)
    model = DummyClassifier().fit(frame, np.arange(len(frame)) % 2)
    client = MlflowClient(platform.mlflow.url)
    experiment = client.get_experiment_by_name(f"training/{MODEL}")
    with mlflow.start_run(experiment_id=experiment.experiment_id):
        mlflow.set_tags({FEATURE_SERVICE_TAG: SERVICE, ENTITY_KEYS_TAG: "customer_id",
                         ENTITY_KEY_TYPES_TAG: "customer_id:INT64"})
        info = mlflow.sklearn.log_model(model, name="model", signature=infer_signature(frame),
                                        registered_model_name=MODEL)
    client.set_registered_model_alias(MODEL, "mismatch", info.registered_model_version)
    prefix = fresh_prefix()
    put(platform, f"{prefix}/customers.parquet", pd.DataFrame({"customer_id": [1, 2, 3]}))
    s3 = admin_s3(platform)
    before = keys_under(s3, PREDICTIONS_BUCKET, f"{MODEL}/")
    result = scoring.run(f"{prefix}/", "--alias", "mismatch")
    assert result.returncode == SchemaMismatchError.exit_code, result.stderr[-3000:]
    assert f"feature service {SERVICE} gives no ['loyalty_points']" in result.stderr
    assert keys_under(s3, PREDICTIONS_BUCKET, f"{MODEL}/") == before
