"""Feast on the real servers: apply, materialise, serve, train, and what breaks it.

Each Feast project here has its own registry project, Redis key namespace and S3 prefix, so the
tests share the session's servers without seeing each other's data.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace

import boto3
import pandas as pd
import pytest
import redis
import requests
from botocore.config import Config
from feast import FeatureStore
from feast.infra.online_stores.helpers import _redis_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value
from mlflow.tracking import MlflowClient

from platform_components.feature_store import FeastTuning
from tests.integration.test_smoke import smoke
from tools.servers.feast import LocalFeatureStore
from workloads.drift.job import REFERENCE_ARTIFACT
from workloads.features.data import (
    ACTIVITY_FEATURES,
    MODEL_FEATURES,
    PROFILE_FEATURES,
    SourceTables,
    synthesize,
    write_tables,
)
from workloads.features.serve import dispose_after_fork, registry_engines

SERVICE = "churn_model_v1"
STALE_CUSTOMER = 90_000  # its only activity row is older than customer_activity's 2-day TTL


@dataclass
class Deployed:
    local: LocalFeatureStore
    sdk: FeatureStore
    s3: object
    tables: SourceTables
    end: pd.Timestamp


def s3_client(local: LocalFeatureStore):
    env = local.env()
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}))


def new_store(platform, name: str) -> LocalFeatureStore:
    suffix = uuid.uuid4().hex[:8]
    return LocalFeatureStore(platform.postgres, platform.redis, platform.object_store,
                             project=f"{name}_{suffix}", data_uri=f"s3://features/{name}-{suffix}")


def checked(result) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def with_stale_customer(tables: SourceTables, end: pd.Timestamp) -> SourceTables:
    profile = tables.profiles.iloc[[0]].assign(customer_id=STALE_CUSTOMER, event_timestamp=end - pd.Timedelta(days=1))
    activity = tables.activity.iloc[[0]].assign(customer_id=STALE_CUSTOMER, event_timestamp=end - pd.Timedelta(days=3))
    for frame in (profile, activity):
        frame["created"] = frame["event_timestamp"]
    return SourceTables(pd.concat([tables.profiles, profile], ignore_index=True),
                        pd.concat([tables.activity, activity], ignore_index=True), tables.labels)


def latest(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    ordered = frame.sort_values(["event_timestamp", "created"])
    return ordered.groupby("customer_id")[list(columns)].last()


def online_frame(sdk: FeatureStore, customers: list[int], features=None) -> pd.DataFrame:
    response = sdk.get_online_features(features=features or sdk.get_feature_service(SERVICE),
                                       entity_rows=[{"customer_id": c} for c in customers])
    return pd.DataFrame(response.to_dict()).set_index("customer_id")


def redis_key(project: str, customer: int) -> bytes:
    return _redis_key(project, EntityKey(join_keys=["customer_id"], entity_values=[Value(int64_val=customer)]))


@contextlib.contextmanager
def applied_store(platform, name: str, customers: int, seed: int) -> Iterator[tuple[LocalFeatureStore, SourceTables,
                                                                                   pd.Timestamp]]:
    """A feature store of its own, applied and materialised: `customers` accounts over 3 days plus
    one stale customer, with its environment set for in-process SDK calls; destroyed after."""
    local = new_store(platform, name)
    monkeypatch = pytest.MonkeyPatch()
    try:
        for key, value in local.env().items():
            monkeypatch.setenv(key, value)
        checked(local.apply())
        end = pd.Timestamp.now(tz="UTC").floor("h")
        tables = with_stale_customer(synthesize(customers, 3, end, seed=seed), end)
        write_tables(s3_client(local), local.data_uri, tables)
        checked(local.materialize())
        yield local, tables, end
    finally:
        monkeypatch.undo()
        local.destroy()


@pytest.fixture(scope="module")
def deployed(platform):
    """An applied and materialised churn feature store: 300 customers over 3 days, plus one stale."""
    with applied_store(platform, "churn", 300, seed=11) as (local, tables, end):
        yield Deployed(local, FeatureStore(repo_path=str(local.repo_dir)), s3_client(local), tables, end)


@pytest.fixture(scope="module")
def feature_server(deployed):
    deployed.local.start()
    yield deployed.local
    deployed.local.stop()


def test_online_features_are_the_latest_value_per_customer(deployed):
    customers = sorted(deployed.tables.labels["customer_id"])
    served = online_frame(deployed.sdk, customers)
    expected = latest(deployed.tables.profiles, PROFILE_FEATURES).join(latest(deployed.tables.activity, ACTIVITY_FEATURES))
    pd.testing.assert_frame_equal(served[list(MODEL_FEATURES)], expected.loc[customers, list(MODEL_FEATURES)],
                                  check_exact=True, check_dtype=False, check_names=False)
    assert len(served) == 300


def test_a_feature_past_its_ttl_is_not_served_and_keys_expire(deployed, platform):
    stale = online_frame(deployed.sdk, [STALE_CUSTOMER]).loc[STALE_CUSTOMER]
    assert stale[list(ACTIVITY_FEATURES)].isna().all(), "activity older than the view's 2-day TTL was served"
    assert stale[list(PROFILE_FEATURES)].notna().all(), "the profile (90-day TTL) should still be served"
    client = redis.Redis(host="127.0.0.1", port=platform.redis.port, password=platform.redis.password)
    ttl = client.ttl(redis_key(deployed.local.project, 0))
    assert 0 < ttl <= deployed.local.key_ttl_seconds, f"online key TTL {ttl}, key_ttl_seconds {deployed.local.key_ttl_seconds}"


def test_second_incremental_run_writes_only_newer_rows(deployed, platform):
    client = redis.Redis(host="127.0.0.1", port=platform.redis.port, password=platform.redis.password)
    untouched, updated = 250, [0, 1, 2]
    # Remove one materialised customer: if the next run rewrote old rows, it would come back.
    assert client.delete(redis_key(deployed.local.project, untouched)) == 1
    now = pd.Timestamp.now(tz="UTC")
    newer = deployed.tables.activity[deployed.tables.activity["customer_id"].isin(updated)].groupby("customer_id").tail(1)
    newer = newer.assign(event_timestamp=now, created=now, usage_gb=[1000.0, 1001.0, 1002.0])
    key = f"{deployed.local.data_uri.removeprefix('s3://features/')}/customer_activity/newer.parquet"
    deployed.s3.put_object(Bucket="features", Key=key, Body=newer.to_parquet(index=False))
    before = online_frame(deployed.sdk, [3, 4])

    output = checked(deployed.local.materialize())

    assert "materialized customer_activity" in output
    served = online_frame(deployed.sdk, [*updated, 3, 4, untouched])
    assert served.loc[updated, "usage_gb"].tolist() == [1000.0, 1001.0, 1002.0]
    pd.testing.assert_frame_equal(served.loc[[3, 4]], before)
    assert served.loc[untouched, list(MODEL_FEATURES)].isna().all(), "an old row was materialised again"


def test_feature_server_answers_like_the_sdk(deployed, feature_server):
    customers = [5, 6, 7, STALE_CUSTOMER, 123_456]
    response = requests.post(f"{feature_server.url}/get-online-features", timeout=30,
                             json={"feature_service": SERVICE, "entities": {"customer_id": customers}})
    assert response.status_code == 200, response.text
    body = response.json()
    names, results = body["metadata"]["feature_names"], body["results"]
    over_http = pd.DataFrame({name: result["values"] for name, result in zip(names, results, strict=True)})
    sdk = online_frame(deployed.sdk, customers).reset_index()
    pd.testing.assert_frame_equal(over_http[sdk.columns], sdk, check_dtype=False)
    assert over_http.set_index("customer_id").loc[123_456, list(MODEL_FEATURES)].isna().all()


def test_smoke_checks_the_feature_server_when_given_its_url(platform, feature_server):
    result = smoke(platform, extra=["--feature-server-url", feature_server.url])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   feature-server: churn_model_v1: 10 features" in result.stdout
    assert result.stdout.splitlines()[-1] == "smoke: all 8 checks passed"
    down = smoke(platform, extra=["--feature-server-url", "http://127.0.0.1:9"])
    assert down.returncode == 1 and "FAIL feature-server: cannot reach http://127.0.0.1:9/get-online-features" in down.stdout


def test_feature_server_survives_worker_recycling(deployed, platform):
    """Gunicorn replaces a worker after --max-requests, and the server keeps answering. (Plain
    `feast serve` failed here in `make bench`: the next test checks the cause directly.)

    A retiring worker closes the connections it holds, so a request racing a recycle can be reset
    (CI saw it once). Clients retry a reset read, as kube-proxy clients must; what must not happen
    is a server that stops answering, so the test allows at most one reset per recycle."""
    recycling = LocalFeatureStore(platform.postgres, platform.redis, platform.object_store,
                                  project=deployed.local.project, data_uri=deployed.local.data_uri,
                                  tuning=replace(FeastTuning(), server_max_requests=100))
    resets = 0

    def lookup(customer_id: int) -> requests.Response:
        nonlocal resets
        for _attempt in range(3):
            try:
                return requests.post(f"{recycling.url}/get-online-features", timeout=30,
                                     json={"feature_service": SERVICE, "entities": {"customer_id": [customer_id]}})
            except requests.ConnectionError:
                resets += 1
                time.sleep(0.5)
        pytest.fail(f"customer {customer_id}: the server stopped answering after {resets} resets")

    def recycles() -> int:
        return recycling.process.log_path.read_text(errors="replace").count("Maximum request limit")

    try:
        recycling.start()
        # A worker stops once it has served 100-110 requests (the limit plus gunicorn's jitter),
        # checked by uvicorn every 0.1 s, so it may serve a few more: two recycles take 200-250
        # requests or a little over. Twice CI saw only one after exactly 250; go on until two.
        for i in range(600):
            response = lookup(i % 300)
            assert response.status_code == 200, response.text
            if i >= 250 and i % 10 == 0 and recycles() >= 2:
                break
        assert recycling.process.running()
        assert recycles() >= 2
        assert resets <= recycles()
    finally:
        recycling.destroy()


def test_forked_server_workers_get_their_own_registry_connection(deployed):
    """What workloads/features/serve.py exists for: a process forked from one whose registry pool
    holds a Postgres connection must not reuse it (sharing it is what broke `feast serve`)."""
    store = FeatureStore(repo_path=str(deployed.local.repo_dir))
    (engine, *_) = registry_engines(store)
    with engine.connect() as connection:  # back in the pool afterwards, as in the gunicorn master
        parent = connection.exec_driver_sql("select pg_backend_pid()").scalar()
    dispose_after_fork([engine])
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:  # the forked worker
        try:
            with engine.connect() as connection:
                os.write(write_end, str(connection.exec_driver_sql("select pg_backend_pid()").scalar()).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + 60  # a child stuck on a lock inherited from a thread must not hang CI
    while (waited := os.waitpid(child, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the forked process did not finish within 60 s")
        time.sleep(0.05)
    status = waited[1]
    worker = int(os.read(read_end, 64) or b"0")
    assert os.waitstatus_to_exitcode(status) == 0 and worker > 0
    assert worker != parent, "the forked process reused its parent's Postgres session"


def test_unknown_feature_names_are_refused_clearly(deployed, feature_server):
    with pytest.raises(Exception, match="no_such_feature"):
        online_frame(deployed.sdk, [1], features=["customer_activity:no_such_feature"])
    response = requests.post(f"{feature_server.url}/get-online-features", timeout=30,
                             json={"features": ["customer_activity:no_such_feature"], "entities": {"customer_id": [1]}})
    assert response.status_code >= 400
    assert "no_such_feature" in response.text


def test_wrong_redis_password_fails_clearly_and_loses_nothing(deployed):
    before = online_frame(deployed.sdk, [10, 11])
    result = deployed.local.materialize(redis_password="not-the-password")
    assert result.returncode == 4, result.stderr[-2000:]
    assert "refused the password in REDIS_PASSWORD" in result.stderr
    pd.testing.assert_frame_equal(online_frame(deployed.sdk, [10, 11]), before)


def test_redis_sigkill_keeps_materialised_features_and_rematerialising_is_idempotent(deployed, platform):
    customers = list(range(20))
    before = online_frame(deployed.sdk, customers)
    platform.redis.kill()
    platform.redis.start()  # same redis.conf: the AOF is replayed
    deployed.sdk = FeatureStore(repo_path=str(deployed.local.repo_dir))  # drop the dead connection
    pd.testing.assert_frame_equal(online_frame(deployed.sdk, customers), before)
    checked(deployed.local.materialize())
    checked(deployed.local.materialize())
    pd.testing.assert_frame_equal(online_frame(deployed.sdk, customers), before)


def test_lost_online_store_is_rebuilt_by_a_full_materialisation(platform, monkeypatch):
    """docs/operations.md: Redis lost its data (a new volume): incremental runs would not refill
    it, the full rebuild over the TTL window does. Its own store: other tests change `deployed`."""
    local = new_store(platform, "rebuild")
    try:
        for key, value in local.env().items():
            monkeypatch.setenv(key, value)
        checked(local.apply())
        end = pd.Timestamp.now(tz="UTC").floor("h")
        tables = synthesize(100, 3, end, seed=5)
        write_tables(s3_client(local), local.data_uri, tables)
        checked(local.materialize())
        sdk = FeatureStore(repo_path=str(local.repo_dir))
        customers = sorted(tables.labels["customer_id"])
        before = online_frame(sdk, customers)
        assert before[list(MODEL_FEATURES)].notna().all().all()

        client = redis.Redis(host="127.0.0.1", port=platform.redis.port, password=platform.redis.password)
        keys = [redis_key(local.project, c) for c in customers]
        assert client.delete(*keys) == len(customers)
        checked(local.materialize())  # incremental: nothing newer, so nothing written
        assert online_frame(sdk, customers)[list(MODEL_FEATURES)].isna().all().all()

        start = (end - pd.Timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%S")
        checked(local.rebuild_online(start, pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%dT%H:%M:%S")))
        pd.testing.assert_frame_equal(online_frame(sdk, customers), before)
    finally:
        local.destroy()


def test_missing_source_files_and_missing_apply_fail_clearly(platform):
    local = new_store(platform, "empty")
    try:
        not_applied = local.materialize()
        assert not_applied.returncode == 2
        assert f"project {local.project} has no online feature views" in not_applied.stderr
        checked(local.apply())
        missing = local.materialize()
        assert missing.returncode == 3, missing.stderr[-2000:]
        assert f"cannot read its source {local.data_uri}/customer_activity/: no such file or prefix" in missing.stderr
    finally:
        local.destroy()


def test_historical_features_are_point_in_time_correct(platform, monkeypatch):
    """Rows built to catch leakage: a value that changes at and after the label's time, and a row
    older than the view's TTL. (A correction with the same event timestamp is not tested: Feast
    0.67's file offline store breaks that tie with an unstable sort, docs/feature-store.md.)"""
    local = new_store(platform, "pit")
    try:
        for key, value in local.env().items():
            monkeypatch.setenv(key, value)
        checked(local.apply())
        t0 = pd.Timestamp("2026-06-01", tz="UTC")
        day = pd.Timedelta(days=1)
        profile = pd.DataFrame({
            "customer_id": [1, 1, 2],
            "event_timestamp": [t0, t0 + 2 * day, t0],
            "monthly_charges": [50.0, 80.0, 60.0],
        })
        activity = pd.DataFrame({
            "customer_id": [1, 1, 1, 2],
            "event_timestamp": [t0 + day, t0 + 2 * day, t0 + 3 * day, t0],
            "usage_gb": [1.0, 2.0, 3.0, 9.0],
        })
        activity["created"] = activity["event_timestamp"]
        profile = profile.assign(created=profile["event_timestamp"], tenure_months=12.0, total_charges=1.0,
                                 contract="one-year", payment_method="card", internet_service="dsl", region="north")
        activity = activity.assign(support_calls=0.0, days_since_login=1.0)
        labels = pd.DataFrame({
            "customer_id": [1, 1, 1, 2],
            "event_timestamp": [t0 + day + pd.Timedelta(hours=1), t0 + 2 * day + pd.Timedelta(hours=12), t0 + 2 * day,
                                t0 + 3 * day],
            "churned": [0, 1, 1, 0],
        })
        write_tables(s3_client(local), local.data_uri, SourceTables(profile, activity, labels))
        sdk = FeatureStore(repo_path=str(local.repo_dir))
        joined = sdk.get_historical_features(entity_df=labels, features=sdk.get_feature_service(SERVICE)).to_df()
        got = joined.sort_values(["customer_id", "event_timestamp"]).reset_index(drop=True)

        # customer 1: the rows stamped t0+2d count from that instant on (a label at exactly t0+2d
        # sees them), the usage of t0+3d never
        assert got.loc[got.customer_id == 1, "monthly_charges"].tolist() == [50.0, 80.0, 80.0]
        assert got.loc[got.customer_id == 1, "usage_gb"].tolist() == [1.0, 2.0, 2.0]
        # customer 2: its only activity row is 3 days before the label, past the 2-day TTL, so the
        # stale 9.0 must not be joined. Feast 0.67's file offline store drops such a label row
        # instead of returning nulls (docs/feature-store.md); either way nothing stale leaks.
        assert got.loc[got.customer_id == 2, "usage_gb"].isna().all()
        assert 9.0 not in got["usage_gb"].tolist()
    finally:
        local.destroy()


def test_training_registers_a_model_with_its_reference_data(deployed, platform, mlflow_login, monkeypatch):
    username, password = platform.mlflow.admin
    env = {"MLFLOW_TRACKING_URI": platform.mlflow.url, "MLFLOW_TRACKING_USERNAME": username,
           "MLFLOW_TRACKING_PASSWORD": password}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    model = f"churn-features-{uuid.uuid4().hex[:6]}"
    command = ["python", "-m", "workloads.features", "train", "--config-dir", str(deployed.local.config_dir),
               "--repo-dir", str(deployed.local.repo_dir), "--model", model]
    output = checked(deployed.local.run(command))
    assert f"registered {model} v1 (alias champion)" in output

    client = MlflowClient(tracking_uri=platform.mlflow.url)
    version = client.get_model_version_by_alias(model, "champion")
    run = client.get_run(version.run_id)
    assert run.data.tags["feast.feature_service"] == SERVICE
    assert run.data.metrics["challenger_auc"] > 0.6, "the model learnt nothing from the features"
    assert run.data.metrics["train_rows"] + run.data.metrics["holdout_rows"] == 300
    assert run.data.tags["gate.decision"] == "promoted"
    path = client.download_artifacts(version.run_id, REFERENCE_ARTIFACT)
    reference = pd.read_parquet(path)
    assert list(reference.columns) == list(MODEL_FEATURES)
    assert len(reference) == run.data.metrics["train_rows"]
