"""The model server on the real servers: MLflow's scoring protocol, feature lookup, the prediction
log, reloads and outages. The server runs from the ModelServer component's own command line and
env, logged into MLflow as its own least-privilege user and into S3 with its own identity."""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

import boto3
import mlflow.pyfunc
import pandas as pd
import psutil
import pyarrow.parquet as pq
import pytest
import redis
import requests
from botocore.config import Config
from feast import FeatureStore
from mlflow.tracking import MlflowClient

from platform_components.alert_rules import MODEL_SERVER_JOB, AlertThresholds, alerts, rule_groups, serving_alerts
from platform_components.dashboards import dashboards, panel_queries, query_metrics
from platform_components.k8s import Resources
from platform_components.model_server import ModelServingOptions, ServedModel, ServingEndpoints
from platform_components.monitoring import scrape_targets
from platform_components.platform import MONITORING_BUCKET, workload_users
from tests.integration.conftest import SERVED_MODEL
from tests.integration.test_feature_store import STALE_CUSTOMER, applied_store, checked, redis_key
from tests.integration.test_monitoring import SERVERS as MONITORED
from tools.servers.model_server import LocalModelServer
from tools.servers.process import ROOT
from tools.servers.prometheus import LocalPrometheus
from workloads import metric_names as names
from workloads.features.data import MODEL_FEATURES

SERVICE = "churn_model_v1"
# After a graceful shutdown uvicorn re-raises the SIGTERM it handled (exit 143 in a container);
# with several workers its supervisor exits 0.
CLEAN_EXIT = (0, -signal.SIGTERM)
UNKNOWN_CUSTOMER = 123_456


@dataclass
class Trained:
    local: object  # the LocalFeatureStore, its feature server started
    sdk: FeatureStore
    customers: list[int]
    users: dict[str, dict[str, str]]  # username -> its MLflow credentials


def train(local, platform, *extra: str) -> str:
    return checked(local.train(platform.mlflow.admin_env(), SERVED_MODEL, *extra))


@pytest.fixture(scope="module")
def trained(platform):
    with applied_store(platform, "serving", 400, seed=21) as (local, tables, _end):
        local.start()
        # The platform's users for the model; first, as the grants create the model and experiments.
        users = platform.mlflow.converge_users(workload_users((SERVED_MODEL,), (SERVED_MODEL,)))
        assert f"registered {SERVED_MODEL} v1 (alias champion)" in train(local, platform)
        yield Trained(local, FeatureStore(repo_path=str(local.repo_dir)), sorted(tables.labels["customer_id"]), users)


def model_server(platform, trained, **options) -> LocalModelServer:
    serving = ModelServingOptions(models=(), target_cpu_utilization=70, poll_seconds=options.pop("poll_seconds", 2),
                                  log_flush_seconds=options.pop("flush_seconds", 1), log_max_rows=options.pop("max_rows", 100_000))
    model = ServedModel(name=SERVED_MODEL, alias="champion", replicas=1, max_replicas=0,
                        workers=options.pop("workers", 1), resources=Resources("100m", "256Mi", "1Gi"))
    endpoints = ServingEndpoints(mlflow_url=platform.mlflow.url, s3_endpoint_url=platform.object_store.endpoint,
                                 feature_server_url=trained.local.url, log_bucket=MONITORING_BUCKET)
    return LocalModelServer(model, serving, endpoints, trained.users[f"model-{SERVED_MODEL}"],
                            platform.object_store.credentials(f"model-{SERVED_MODEL}"))


@pytest.fixture
def server(platform, trained):
    local = model_server(platform, trained).start()
    yield local
    local.destroy()


def online_features(trained: Trained, customers: list[int]) -> pd.DataFrame:
    response = trained.sdk.get_online_features(features=trained.sdk.get_feature_service(SERVICE),
                                               entity_rows=[{"customer_id": c} for c in customers])
    return pd.DataFrame(response.to_dict())[list(MODEL_FEATURES)]


def invoke(url: str, payload, content_type: str = "application/json", **headers) -> requests.Response:
    body = payload if isinstance(payload, (bytes, str)) else json.dumps(payload)
    return requests.post(f"{url}/invocations", data=body, headers={"Content-Type": content_type, **headers}, timeout=60)


def logged_rows(platform, day: date | None = None) -> pd.DataFrame:
    s3 = boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}), **{k.lower(): v for k, v in
                                                                          platform.object_store.credentials().items()})
    day = day or datetime.now(UTC).date()
    prefix = f"{SERVED_MODEL}/dt={day.isoformat()}/"
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=MONITORING_BUCKET, Prefix=prefix)
            for o in page.get("Contents", [])]
    frames = [pd.read_parquet(io.BytesIO(s3.get_object(Bucket=MONITORING_BUCKET, Key=k)["Body"].read())) for k in keys]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def metric(url: str, name: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name) and not line.startswith("#"))


def records(customers) -> dict:
    return {"dataframe_records": [{"customer_id": int(c)} for c in customers]}


def test_scores_by_features_and_by_entity_exactly_as_the_model_does(platform, trained, server, mlflow_login):
    customers = trained.customers[:25]
    features = online_features(trained, customers)
    expected = mlflow.pyfunc.load_model(f"models:/{SERVED_MODEL}/1").predict(features).tolist()
    split = {"dataframe_split": {"columns": list(features.columns), "data": features.values.tolist()}}
    by_features, by_entity = invoke(server.url, split), invoke(server.url, records(customers))
    assert by_features.status_code == 200, by_features.text
    assert by_entity.status_code == 200, by_entity.text
    assert by_features.json() == by_entity.json() == {"predictions": expected}
    assert by_entity.headers["X-Request-ID"]
    assert invoke(server.url, split, **{"X-Request-ID": "mine"}).headers["X-Request-ID"] == "mine"


def test_unknown_expired_and_stale_entities_are_refused_by_name(platform, trained, server):
    client = redis.Redis(host="127.0.0.1", port=platform.redis.port, password=platform.redis.password)
    expired = trained.customers[-1]  # no other test uses it
    client.pexpire(redis_key(trained.local.project, expired), 1)  # the key's TTL runs out
    time.sleep(0.1)
    known = trained.customers[0]
    response = invoke(server.url, records([known, UNKNOWN_CUSTOMER, expired, STALE_CUSTOMER]))
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for customer in (UNKNOWN_CUSTOMER, expired):
        assert f"customer_id={customer} has no current features in customer_activity, customer_profile" in body["message"]
    assert f"customer_id={STALE_CUSTOMER} has no current features in customer_activity (" in body["message"]
    assert f"customer_id={known} " not in body["message"]


def test_a_server_is_not_ready_until_a_version_loads(platform, trained):
    local = model_server(platform, trained)
    local.model = replace(local.model, alias="not-yet")
    local.start(wait_ready=False)
    try:
        assert requests.get(f"{local.url}/ping", timeout=10).status_code == 503
        assert requests.get(f"{local.url}/version", timeout=10).text == mlflow.__version__
        response = invoke(local.url, records([trained.customers[0]]))
        assert response.status_code == 503 and response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    finally:
        local.destroy()


BAD_REQUESTS = [
    ("text/plain", "hello"),
    ("application/json", "{not json"),
    ("application/json", {"dataframe_records": [{"tenure_months": 1.0}]}),
    ("application/json", {"unknown_format": [1, 2]}),
    ("application/json; charset=latin-1", {"dataframe_records": []}),
    ("text/csv", "tenure_months\n1\n"),
]


@pytest.fixture(scope="module")
def mlflow_scoring_server(platform, trained, tmp_path_factory):
    """`mlflow models serve` of the same version: what users would otherwise run."""
    from tools.servers.process import free_port

    port = free_port()
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{SERVED_MODEL}/1",
               "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    log = open(tmp_path_factory.mktemp("mlflow-serve") / "serve.log", "wb")  # noqa: SIM115
    # It runs `uvicorn` from PATH: this virtualenv's.
    path = f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}"
    process = subprocess.Popen(command, env={**os.environ, **platform.mlflow.admin_env(), "PATH": path}, stdout=log,
                               stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(180):
            if process.poll() is not None:
                pytest.fail(f"mlflow models serve exited {process.returncode}")
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(1)
        else:
            pytest.fail("mlflow models serve did not start")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def same_set_order(message: str) -> str:
    """MLflow prints a Python set in some messages; its order varies from process to process."""
    return re.sub(r"\{('[^{}]*')\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", message)


@pytest.mark.parametrize(("content_type", "payload"), BAD_REQUESTS, ids=[str(i) for i in range(len(BAD_REQUESTS))])
def test_bad_requests_get_mlflow_s_own_answer(server, mlflow_scoring_server, content_type, payload):
    ours, theirs = invoke(server.url, payload, content_type), invoke(mlflow_scoring_server, payload, content_type)
    assert ours.status_code == theirs.status_code != 200
    assert ours.headers["content-type"] == theirs.headers["content-type"]
    if theirs.headers["content-type"].startswith("application/json"):
        mine, mlflows = ours.json(), theirs.json()
        assert mine["error_code"] == mlflows["error_code"]
        assert same_set_order(mine["message"]) == same_set_order(mlflows["message"])
    else:
        assert ours.text == theirs.text


def test_every_scored_row_is_logged_once_across_workers_and_sigterm(platform, trained, mlflow_login):
    """1,000 one-row requests from 4 clients to 2 workers, then SIGTERM: each row is in the day's
    partition exactly once, with the features the drift monitor compares, and the drift job's run
    over those files succeeds."""
    local = model_server(platform, trained, workers=2, flush_seconds=60).start()  # only SIGTERM flushes
    features = online_features(trained, trained.customers[:50])

    def one(i: int) -> str:
        row = features.iloc[[i % len(features)]]
        request_id = f"sigterm-{i}"
        response = invoke(local.url, {"dataframe_split": {"columns": list(row.columns), "data": row.values.tolist()}},
                          **{"X-Request-ID": request_id})
        assert response.status_code == 200, response.text
        return request_id

    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            sent = set(pool.map(one, range(1000)))
        assert local.terminate() in CLEAN_EXIT
    finally:
        local.destroy()
    rows = logged_rows(platform)
    ours = rows[rows["request_id"].isin(sent)]
    assert len(ours) == 1000 and set(ours["request_id"]) == sent and ours["request_id"].is_unique
    assert set(MODEL_FEATURES) | {"prediction", "probability", "timestamp", "model_version"} <= set(ours.columns)
    assert (ours["model_version"] == "1").all() and ours["probability"].between(0, 1).all()
    assert str(ours["timestamp"].dt.tz) == "UTC"
    reference = pd.read_parquet(MlflowClient(platform.mlflow.url).download_artifacts(
        MlflowClient(platform.mlflow.url).get_model_version(SERVED_MODEL, "1").run_id, "reference/reference.parquet"))
    assert ours[list(MODEL_FEATURES)].dtypes.to_dict() == reference.dtypes.to_dict()
    drift_over_logged_day(platform, trained)


def drift_over_logged_day(platform, trained, days_back: int = 1) -> None:
    """The drift job, as the drift monitor's own MLflow user, over the files the server wrote. Today's
    interval has not ended, so the day's files are copied to the partition `days_back` days ago
    first (each test its own day: a logged interval is not redone)."""
    admin = platform.object_store.credentials()
    s3 = boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                      aws_access_key_id=admin["AWS_ACCESS_KEY_ID"], aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
                      config=Config(s3={"addressing_style": "path"}))
    today = datetime.now(UTC).date()
    yesterday, end = today - timedelta(days=days_back), today - timedelta(days=days_back - 1)
    listing = s3.list_objects_v2(Bucket=MONITORING_BUCKET, Prefix=f"{SERVED_MODEL}/dt={today.isoformat()}/")
    for item in listing["Contents"]:
        target = item["Key"].replace(f"dt={today.isoformat()}", f"dt={yesterday.isoformat()}")
        s3.copy_object(Bucket=MONITORING_BUCKET, Key=target, CopySource={"Bucket": MONITORING_BUCKET, "Key": item["Key"]})
    drift_user = trained.users["drift-monitor"]
    env = {**os.environ, "MLFLOW_TRACKING_URI": platform.mlflow.url, "MLFLOW_TRACKING_USERNAME": drift_user["username"],
           "MLFLOW_TRACKING_PASSWORD": drift_user["password"], **platform.object_store.credentials("drift"),
           "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "workloads.drift", "run", "--model", SERVED_MODEL, "--interval-end",
               end.isoformat(), "--s3-endpoint", platform.object_store.endpoint]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"interval [{yesterday.isoformat()}, {end.isoformat()}): logged" in result.stdout
    client = MlflowClient(platform.mlflow.url)
    experiment = client.get_experiment_by_name(f"monitoring/{SERVED_MODEL}")
    (run,) = client.search_runs([experiment.experiment_id],
                                filter_string=f"tags.`mlops.interval_start` = '{yesterday.isoformat()}'")
    # The served predictions were compared with the model's own on its reference data.
    assert run.data.tags["mlops.prediction_drift"] in ("true", "false")
    assert {key for key in run.data.metrics if key.startswith("prediction.")} >= {"prediction.dataset_drift"}
    assert "prediction_drift_report.json" in {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "request_id" not in run.data.tags.get("mlops.drifted_features", ""), "log metadata is not a feature"


def test_a_moved_alias_is_served_without_a_failed_request(platform, trained):
    local = model_server(platform, trained, poll_seconds=1).start()
    features = online_features(trained, trained.customers[:10])
    payload = {"dataframe_split": {"columns": list(features.columns), "data": features.values.tolist()}}
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            statuses.append(invoke(local.url, payload, **{"X-Request-ID": f"alias-{uuid.uuid4().hex}"}).status_code)

    threads = [threading.Thread(target=load) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        # registers v2 and moves champion: a negative margin lets the gate accept an equal model
        assert "(alias champion)" in train(trained.local, platform, "--margin", "-1")
        deadline = time.monotonic() + 60
        while metric(local.url, "mlops_serving_model_version") != 2.0 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        local.terminate()
        local.destroy()
    assert metric_versions_served(platform) >= {"1", "2"}
    assert statuses and set(statuses) == {200}, f"{len([s for s in statuses if s != 200])} failed of {len(statuses)}"


def metric_versions_served(platform) -> set[str]:
    rows = logged_rows(platform)
    return set(rows.loc[rows["request_id"].str.startswith("alias-"), "model_version"])


def test_an_object_store_outage_costs_no_prediction_and_logging_resumes(platform, trained):
    """1,500 rows while S3 is down, with room for 1,000 waiting: every request answered, 500 rows
    dropped and counted, the 1,000 written once S3 is back, and new rows logged again."""
    local = model_server(platform, trained, flush_seconds=1, max_rows=1000).start()
    features = online_features(trained, trained.customers[:100])
    payload = {"dataframe_split": {"columns": list(features.columns), "data": features.values.tolist()}}
    try:
        platform.object_store.stop()
        try:
            ids = [f"outage-{uuid.uuid4().hex}" for _ in range(15)]
            assert [invoke(local.url, payload, **{"X-Request-ID": i}).status_code for i in ids] == [200] * 15
            assert metric(local.url, "mlops_serving_log_rows_dropped_total{reason=\"buffer_full\"}") == 500
            deadline = time.monotonic() + 30  # an upload attempt ends after its connect timeouts
            while metric(local.url, "mlops_serving_log_flush_failures_total") < 1 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert metric(local.url, "mlops_serving_log_flush_failures_total") >= 1
        finally:
            platform.object_store.start()
        deadline = time.monotonic() + 60
        while metric(local.url, "mlops_serving_rows_logged_total") < 1000 and time.monotonic() < deadline:
            time.sleep(1)
        after = f"outage-after-{uuid.uuid4().hex}"
        assert invoke(local.url, payload, **{"X-Request-ID": after}).status_code == 200
        assert local.terminate() in CLEAN_EXIT
    finally:
        local.destroy()
    rows = logged_rows(platform)
    written = rows[rows["request_id"].isin(ids)]
    assert len(written) == 1000 and written.groupby("request_id").size().eq(100).all()
    assert (rows["request_id"] == after).sum() == 100


def test_the_loaded_model_keeps_serving_while_mlflow_is_down(platform, trained, server):
    platform.mlflow.stop()
    try:
        failed = 'mlops_serving_model_loads_total{outcome="failed"}'
        deadline = time.monotonic() + 60
        while metric(server.url, failed) < 1 and time.monotonic() < deadline:  # an alias poll failed
            assert invoke(server.url, records(trained.customers[:5])).status_code == 200
            time.sleep(0.5)
        assert metric(server.url, failed) >= 1
        responses = [invoke(server.url, records(trained.customers[:5])) for _ in range(20)]
        assert {r.status_code for r in responses} == {200}
    finally:
        platform.mlflow.start()


def test_metrics_count_requests_latency_rows_and_the_version(server, trained):
    for _ in range(3):
        assert invoke(server.url, records(trained.customers[:4])).status_code == 200
    text = requests.get(f"{server.url}/metrics", timeout=10).text
    assert 'mlops_serving_requests_total{endpoint="invocations",status="200"} 3.0' in text
    assert 'mlops_serving_request_duration_seconds_count{endpoint="invocations"} 3.0' in text
    assert "mlops_serving_rows_scored_total 12.0" in text
    versions = [line for line in text.splitlines() if line.startswith("mlops_serving_model_version{")]
    assert versions and all(f'model="{SERVED_MODEL}"' in line and float(line.split()[-1]) >= 1 for line in versions), \
        f"one sample per worker serving a version, none from the log writer: {versions}"


def monitoring_s3(platform):
    admin = platform.object_store.credentials()
    return boto3.client("s3", endpoint_url=platform.object_store.endpoint, region_name="us-east-1",
                        aws_access_key_id=admin["AWS_ACCESS_KEY_ID"], aws_secret_access_key=admin["AWS_SECRET_ACCESS_KEY"],
                        config=Config(s3={"addressing_style": "path"}))


def split(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": {"columns": list(frame.columns), "data": frame.astype(object).values.tolist()}}


def test_odd_but_valid_requests_are_all_logged_with_the_signature_types(platform, trained, mlflow_login):
    """What MLflow's schema enforcement lets through: a number in a string column and a boolean
    among doubles within one request, a column the model ignores holding text in one flush and a
    number in the next, a batch whose column is all null, entity-keyed rows. Every row is logged,
    every file of the day has the same schema, the day reads back as one table with pandas (as
    docs/serving.md shows) and the drift job runs over it."""
    local = model_server(platform, trained, flush_seconds=1).start()
    features = online_features(trained, trained.customers[:6]).astype(object)
    rows = features.to_dict(orient="records")
    mixed = [{**rows[0], "contract": 5}, {**rows[1], "tenure_months": True}, rows[2]]
    sent = {
        "odd-mixed": {"dataframe_records": mixed},
        "odd-note-text": {"dataframe_records": [{**rows[3], "note": "vip"}]},
        "odd-all-null": {"dataframe_records": [{**row, "region": None} for row in rows[:4]]},
        "odd-note-number": {"dataframe_records": [{**rows[4], "note": 3}]},
        "odd-entity": records(trained.customers[:2]),
    }
    flushes = [["odd-mixed", "odd-note-text"], ["odd-all-null", "odd-note-number"], ["odd-entity"]]
    try:
        for flush in flushes:
            for request_id in flush:
                response = invoke(local.url, sent[request_id], **{"X-Request-ID": request_id})
                assert response.status_code == 200, (request_id, response.text)
            time.sleep(2.5)  # the next requests go into another file
        assert metric(local.url, "mlops_serving_log_rows_dropped_total") == 0
        assert local.terminate() in CLEAN_EXIT
    finally:
        local.destroy()
    s3 = monitoring_s3(platform)
    prefix = f"{SERVED_MODEL}/dt={datetime.now(UTC).date().isoformat()}/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=MONITORING_BUCKET, Prefix=prefix)["Contents"]]
    schemas = {pq.read_schema(io.BytesIO(s3.get_object(Bucket=MONITORING_BUCKET, Key=key)["Body"].read())) for key in keys}
    assert len(schemas) == 1, f"{len(keys)} files, {len(schemas)} schemas"
    admin = platform.object_store.credentials()
    day = pd.read_parquet(f"s3://{MONITORING_BUCKET}/{prefix}", storage_options={
        "key": admin["AWS_ACCESS_KEY_ID"], "secret": admin["AWS_SECRET_ACCESS_KEY"],
        "client_kwargs": {"endpoint_url": platform.object_store.endpoint, "region_name": "us-east-1"}})
    ours = day[day["request_id"].str.startswith("odd-")]
    assert ours.groupby("request_id").size().to_dict() == {"odd-mixed": 3, "odd-note-text": 1, "odd-all-null": 4,
                                                           "odd-note-number": 1, "odd-entity": 2}
    assert "note" not in day.columns, "a column the model ignores is not logged"
    mixed_rows = ours[ours["request_id"] == "odd-mixed"]
    assert mixed_rows["contract"].tolist()[0] == "5" and mixed_rows["tenure_months"].tolist()[1] == 1.0
    assert ours.loc[ours["request_id"] == "odd-all-null", "region"].isna().all()
    assert sorted(ours.loc[ours["request_id"] == "odd-entity", "customer_id"]) == sorted(trained.customers[:2])
    reference = pd.read_parquet(MlflowClient(platform.mlflow.url).download_artifacts(
        MlflowClient(platform.mlflow.url).get_model_version(SERVED_MODEL, "1").run_id, "reference/reference.parquet"))
    assert day[list(MODEL_FEATURES)].dtypes.to_dict() == reference.dtypes.to_dict()
    drift_over_logged_day(platform, trained, days_back=2)


def log_writer(local: LocalModelServer) -> psutil.Process:
    """The prediction-log writer: the worker's child started by multiprocessing's spawn."""
    children = psutil.Process(local.process.pid).children(recursive=True)
    (writer,) = [c for c in children if "spawn_main" in " ".join(c.cmdline())]
    return writer


def test_a_dead_writer_is_replaced_counted_and_the_server_unready_meanwhile(platform, trained):
    """SIGKILL the writer while it holds 50 rows: readiness goes false, a new writer starts, the
    death and the 50 rows are counted, and rows sent afterwards are logged."""
    local = model_server(platform, trained, flush_seconds=60).start()  # rows stay in the writer
    features = online_features(trained, trained.customers[:10])
    try:
        for i in range(5):
            assert invoke(local.url, split(features), **{"X-Request-ID": f"dead-writer-{i}"}).status_code == 200
        time.sleep(1)  # shipped to the writer (every 0.2 s)
        dead = log_writer(local)
        dead.kill()
        dead.wait(10)
        readiness, deadline = [], time.monotonic() + 60
        while time.monotonic() < deadline and (503 not in readiness or readiness[-1] != 200):
            readiness.append(requests.get(f"{local.url}/ping", timeout=10).status_code)
            time.sleep(0.05)
        assert 503 in readiness and readiness[-1] == 200, readiness[-5:]
        assert log_writer(local).pid != dead.pid
        assert metric(local.url, "mlops_serving_log_writer_restarts_total") == 1
        assert metric(local.url, 'mlops_serving_log_rows_dropped_total{reason="writer_died"}') == 50
        for i in range(3):
            assert invoke(local.url, split(features), **{"X-Request-ID": f"after-restart-{i}"}).status_code == 200
        assert local.terminate() in CLEAN_EXIT
        log = (local.workdir / "model-server.log").read_text()
    finally:
        local.destroy()
    assert f"writer (pid {dead.pid}) died with exit code -9: 50 rows it held are lost" in log
    assert "prediction log closed: every accepted row was written" in log
    rows = logged_rows(platform)
    assert not rows["request_id"].str.startswith("dead-writer-").any()
    assert (rows["request_id"].str.startswith("after-restart-")).sum() == 30


@pytest.mark.parametrize("value", [1.5, 1.9, True, None, 2**63, "1"], ids=["1.5", "1.9", "true", "null", "2^63", "text"])
def test_an_entity_key_of_the_wrong_type_is_a_400_naming_it(trained, server, value):
    response = invoke(server.url, {"dataframe_records": [{"customer_id": trained.customers[0]}, {"customer_id": value}]})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error_code"] == "INVALID_PARAMETER_VALUE"
    assert f"entity key 'customer_id' in row 1 is {json.dumps(value)}, not INT64" in body["message"]
    assert invoke(server.url, records(trained.customers[:1])).status_code == 200


BROKEN_MODEL = """
import mlflow
from mlflow.pyfunc import PythonModel


class Broken(PythonModel):
    def predict(self, context, model_input, params=None):
        raise ValueError("cannot score: see /srv/models/secret_path.py")


mlflow.models.set_model(Broken())
"""


def test_a_model_that_raises_answers_mlflow_s_error_without_its_traceback(platform, trained, mlflow_login, tmp_path):
    """Last in this module: it adds a version of the served model (alias `broken`)."""
    script = tmp_path / "broken_model.py"
    script.write_text(BROKEN_MODEL)
    mlflow.set_experiment(f"training/{SERVED_MODEL}")  # where the server's own user may read
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(name="model", python_model=str(script))
    version = mlflow.register_model(info.model_uri, SERVED_MODEL).version
    MlflowClient().set_registered_model_alias(SERVED_MODEL, "broken", version)
    local = model_server(platform, trained)
    local.model = replace(local.model, alias="broken")
    local.start()
    try:
        response = invoke(local.url, split(online_features(trained, trained.customers[:2])),
                          **{"X-Request-ID": "raising"})
        log = (local.workdir / "model-server.log").read_text()
    finally:
        local.destroy()
    assert response.status_code == 400
    body = response.json()
    assert body["error_code"] == "BAD_REQUEST" and "unexpected error while evaluating the model" in body["message"]
    assert "stack_trace" not in body and "Traceback" not in response.text and "secret_path" not in response.text
    assert "request raising failed" in log and "secret_path.py" in log and "Traceback" in log


def test_prometheus_scrapes_the_server_and_a_killed_writer_makes_its_alert_pending(platform, trained):
    """A real Prometheus with the monitoring component's scrape target and rules: the server's
    series arrive with the labels the rules group by, and a dead log writer turns
    PredictionLogWriterRestarted pending (it fires after its `for`), while the rows it held fire
    PredictionLogRowsDropped at once."""
    local = model_server(platform, trained, flush_seconds=60).start()
    (target,) = [t for t in scrape_targets(MONITORED, "local") if t.job == MODEL_SERVER_JOB]
    labels = {"namespace": "mlops", "service": f"model-{SERVED_MODEL}", "pod": "model-0"}
    prometheus = LocalPrometheus(scrape_configs=[target.static_config(local.url.removeprefix("http://"), labels)],
                                 rule_groups=rule_groups(AlertThresholds("mlops"))).start()
    features = online_features(trained, trained.customers[:10])
    try:
        for i in range(3):
            assert invoke(local.url, split(features), **{"X-Request-ID": f"scraped-{i}"}).status_code == 200

        def until(what: str, check, timeout: float = 60):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if found := check():
                    return found
                time.sleep(0.5)
            raise AssertionError(f"timed out waiting for {what}: {prometheus.targets()}")

        scored = until("the scoring requests", lambda: prometheus.query(
            f'sum by (service) ({names.SERVING_REQUESTS}{{job="model-server", status="200"}}) >= 3'))
        assert scored[0]["metric"]["service"] == f"model-{SERVED_MODEL}"
        version = until("the served version", lambda: prometheus.query(names.SERVING_MODEL_VERSION))
        assert int(version[0]["value"][1]) >= 1 and version[0]["metric"]["model"] == SERVED_MODEL  # the champion
        # Every serving series a rule or a dashboard reads is exported (some only once incremented).
        exported = set(prometheus.api("label/__name__/values"))
        wanted = {m for expr in [*(a.expr for a in alerts(AlertThresholds("mlops"))),
                                 *(q for board in dashboards("mlops").values() for q in panel_queries(board))]
                  for m in query_metrics(expr) if m.startswith("mlops_serving_")}
        assert wanted - exported <= {names.SERVING_LOG_VALUES_NULLED}, wanted - exported
        serving = {a.name for a in serving_alerts(AlertThresholds("mlops"))}
        assert not [a for a in prometheus.alerts() if a["labels"]["alertname"] in serving]  # others: not scraped here

        dead = log_writer(local)
        dead.kill()
        dead.wait(10)

        def alert(name: str, state: str):
            return [a for a in prometheus.alerts() if a["labels"]["alertname"] == name and a["state"] == state]
        (pending,) = until("PredictionLogWriterRestarted pending", lambda: alert("PredictionLogWriterRestarted", "pending"))
        assert pending["labels"]["service"] == f"model-{SERVED_MODEL}" and pending["labels"]["pod"] == "model-0"
        (dropped,) = until("PredictionLogRowsDropped firing", lambda: alert("PredictionLogRowsDropped", "firing"))
        assert dropped["labels"]["reason"] == "writer_died"
    finally:
        prometheus.destroy()
        local.destroy()
