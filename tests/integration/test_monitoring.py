"""Monitoring on the real servers: batch outcomes pushed to a real Pushgateway (and a push that
fails costs the job nothing), a real Prometheus scraping MLflow and the Pushgateway through the
monitoring component's scrape targets and evaluating the PrometheusRule's groups, a drift run that
finds drift firing DatasetDriftDetected, and the exporters' least-privilege logins on the real
Postgres and Redis."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
import redis
import requests

from platform_components.alert_rules import MLFLOW_JOB, PUSHGATEWAY_JOB, AlertThresholds, rule_groups
from platform_components.monitoring import POSTGRES_EXPORTER_ROLE, REDIS_EXPORTER_USER, MonitoredServers, scrape_targets
from platform_components.redis import auth_config
from tests.integration.test_drift_job import s3_client
from tools.drift_demo import register_model, write_prediction_logs
from tools.servers.process import ROOT, free_port
from tools.servers.prometheus import LocalPrometheus
from tools.servers.pushgateway import LocalPushgateway
from tools.servers.redis import LocalRedis
from workloads import cli, outcomes
from workloads import metric_names as names

NAMESPACE = "mlops"
MODEL = "churn-monitored"
DAYS = ["2026-11-10", "2026-11-11"]
# The servers as the monitoring component sees them; only the targets' paths, ports and jobs matter here.
SERVERS = MonitoredServers(postgres_host="", postgres_port=0, postgres_sslmode=None, postgres_exporter_secret="",
                           redis_host="", redis_port=0, redis_secret="", mlflow_selector={}, feature_server_selector={},
                           model_server_selector={"app.kubernetes.io/name": "model-server"})


@pytest.fixture(scope="module")
def pushgateway() -> Iterator[LocalPushgateway]:
    gateway = LocalPushgateway().start()
    yield gateway
    gateway.destroy()


def pushed(gateway: LocalPushgateway, job: str, model: str | None = None) -> dict[str, float]:
    """The metrics of one pushed group, by name (the Pushgateway's own API)."""
    groups = requests.get(f"{gateway.url}/api/v1/metrics", timeout=10).json()["data"]
    for group in groups:
        labels = group["labels"]
        if labels.get("job") == job and labels.get("model", "") == (model or ""):
            return {name: float(family["metrics"][0]["value"]) for name, family in group.items()
                    if isinstance(family, dict) and "metrics" in family}
    return {}


def run_command(handler: Callable[[argparse.Namespace], int], key=("drift-test", "unit")) -> int:
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run").set_defaults(handler=handler)
    return cli.main("test", parser, ["run"], outcome=lambda args: key)


def test_a_run_pushes_its_outcome_and_a_failure_keeps_the_last_success(pushgateway, monkeypatch):
    monkeypatch.setenv(outcomes.GATEWAY_ENV, pushgateway.url)

    def drifted(_args) -> int:
        outcomes.record(names.DRIFT_DATASET_DRIFT, True)
        outcomes.record(names.DRIFT_DRIFTED_FEATURES, 2)
        return 0
    assert run_command(drifted) == 0
    first = pushed(pushgateway, "drift-test", "unit")
    assert first[names.JOB_SUCCEEDED] == 1 and first[names.JOB_EXIT_CODE] == 0
    assert first[names.DRIFT_DATASET_DRIFT] == 1 and first[names.DRIFT_DRIFTED_FEATURES] == 2
    assert abs(first[names.JOB_LAST_SUCCESS] - time.time()) < 60

    def fails(_args) -> int:
        raise cli.UsageError("bad argument")
    assert run_command(fails) == cli.EXIT_USAGE
    second = pushed(pushgateway, "drift-test", "unit")
    assert second[names.JOB_SUCCEEDED] == 0 and second[names.JOB_EXIT_CODE] == cli.EXIT_USAGE
    assert second[names.JOB_LAST_SUCCESS] == first[names.JOB_LAST_SUCCESS], "the last success is kept"
    assert second[names.JOB_LAST_FAILURE] >= first[names.JOB_LAST_SUCCESS]
    assert second[names.DRIFT_DATASET_DRIFT] == 1, "a failed run does not overwrite the last interval's result"


def test_a_gateway_that_is_down_costs_the_job_nothing(monkeypatch, capsys):
    monkeypatch.setenv(outcomes.GATEWAY_ENV, f"http://127.0.0.1:{free_port()}")  # nothing listens
    assert run_command(lambda _args: 0) == 0
    assert run_command(lambda _args: 7) == 7
    assert "outcome of drift-test (unit) not pushed to http://127.0.0.1:" in capsys.readouterr().err


def test_training_kept_champion_is_a_successful_run(pushgateway, monkeypatch):
    monkeypatch.setenv(outcomes.GATEWAY_ENV, pushgateway.url)
    assert run_command(lambda _args: 10, key=(names.TRAINING_JOB, "unit", (10,))) == 10
    assert pushed(pushgateway, names.TRAINING_JOB, "unit")[names.JOB_SUCCEEDED] == 1


@pytest.fixture(scope="module")
def prometheus(platform, pushgateway) -> Iterator[LocalPrometheus]:
    """A real Prometheus scraping MLflow's metrics sidecar and the Pushgateway as the monitoring
    component's targets say, with the platform's rules for namespace `mlops`."""
    targets = {t.job: t for t in scrape_targets(SERVERS, "local")}
    labels = {"namespace": NAMESPACE}
    mlflow_address = platform.mlflow.metrics_url.removeprefix("http://")
    server = LocalPrometheus(
        scrape_configs=[targets[MLFLOW_JOB].static_config(mlflow_address, {**labels, "pod": "mlflow-0"}),
                        targets[PUSHGATEWAY_JOB].static_config(pushgateway.address, {**labels, "service": "pushgateway"})],
        rule_groups=rule_groups(AlertThresholds(NAMESPACE, performance_floor=0.7))).start()
    yield server
    server.destroy()


def wait_for(what: str, check: Callable[[], object], prometheus: LocalPrometheus, timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    targets = [(t["labels"].get("job"), t["health"], t.get("lastError")) for t in prometheus.targets()]
    raise AssertionError(f"timed out waiting for {what}; targets: {targets}")


def test_prometheus_scrapes_mlflow_s_metrics_from_its_sidecar(prometheus, platform):
    requests.get(f"{platform.mlflow.url}/api/2.0/mlflow/experiments/search?max_results=1",
                 auth=platform.mlflow.admin, timeout=30)
    up = wait_for("MLflow's target up", lambda: prometheus.query(f'up{{job="{MLFLOW_JOB}"}} == 1'), prometheus)
    assert up[0]["metric"]["namespace"] == NAMESPACE
    # The dashboards' MLflow panels read these (prometheus_flask_exporter, MLflow's prefix).
    for metric in ("mlflow_http_request_total", "mlflow_http_request_duration_seconds_bucket"):
        assert wait_for(metric, lambda m=metric: prometheus.query(f'{m}{{job="{MLFLOW_JOB}"}}'), prometheus), metric
    # The app's own /metrics is the basic-auth app's: no metrics without the admin's login.
    assert requests.get(f"{platform.mlflow.url}/metrics", timeout=10).status_code == 401


def test_a_drift_run_that_finds_drift_fires_the_drift_alert(prometheus, platform, pushgateway):
    username, password = platform.mlflow.admin
    with pytest.MonkeyPatch.context() as patch:
        for key, value in {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password,
                           "MLFLOW_TRACKING_URI": platform.mlflow.url}.items():
            patch.setenv(key, value)
        register_model(MODEL)
    write_prediction_logs(s3_client(platform, "drift"), "monitoring", MODEL, DAYS, DAYS[1])
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(platform.mlflow.workdir),
           "MLFLOW_TRACKING_URI": platform.mlflow.url, "MLFLOW_TRACKING_USERNAME": username,
           "MLFLOW_TRACKING_PASSWORD": password, **platform.object_store.credentials("drift"),
           outcomes.GATEWAY_ENV: pushgateway.url}
    result = subprocess.run([sys.executable, "-m", "workloads.drift", "run", "--model", MODEL, "--interval-end",
                             "2026-11-12", "--s3-endpoint", platform.object_store.endpoint],
                            env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DATASET DRIFT" in result.stdout
    outcome = pushed(pushgateway, names.DRIFT_JOB, MODEL)
    assert outcome[names.DRIFT_DATASET_DRIFT] == 1 and outcome[names.DRIFT_DRIFTED_FEATURES] >= 1
    assert 0 <= outcome[names.DRIFT_MIN_P_VALUE] < 0.05 and outcome[names.JOB_ROWS] > 0

    def firing():
        return [a for a in prometheus.alerts()
                if a["labels"]["alertname"] == "DatasetDriftDetected" and a["state"] == "firing"
                and a["labels"].get("model") == MODEL]
    (alert,) = wait_for("DatasetDriftDetected firing", firing, prometheus)
    assert alert["labels"]["model"] == MODEL and alert["labels"]["namespace"] == NAMESPACE
    assert alert["annotations"]["runbook_url"] == "docs/operations.md#dataset-drift-detected"
    # The Pushgateway's series keep the pushed job and model labels (honor_labels).
    series = prometheus.query(f'{names.JOB_LAST_SUCCESS}{{job="drift", model="{MODEL}"}}')
    assert series and series[0]["metric"]["namespace"] == NAMESPACE


def test_the_postgres_exporter_role_reads_statistics_and_no_data(platform):
    password = platform.postgres.app_passwords[POSTGRES_EXPORTER_ROLE]
    conninfo = f"host=127.0.0.1 port={platform.postgres.port} user={POSTGRES_EXPORTER_ROLE} password={password}"
    with psycopg.connect(f"{conninfo} dbname=postgres") as conn:
        assert conn.execute("SELECT count(*) FROM pg_stat_database").fetchone()[0] > 0
        assert conn.execute("SELECT pg_has_role(current_user, 'pg_monitor', 'member')").fetchone()[0]
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        psycopg.connect(f"{conninfo} dbname=mlflow")  # REVOKE ALL ... FROM PUBLIC: no CONNECT


def test_the_redis_exporter_user_runs_info_and_reads_no_key():
    local = LocalRedis()
    local.write_config()
    (local.workdir / "auth.conf").write_text(auth_config(local.password, (REDIS_EXPORTER_USER, "exporter-pw")))
    local.start()
    try:
        admin = redis.Redis(port=local.port, password=local.password)
        admin.set("feature:1", "secret")
        exporter = redis.Redis(port=local.port, username=REDIS_EXPORTER_USER, password="exporter-pw")
        assert exporter.ping() and "used_memory" in exporter.info("memory")
        assert int(exporter.config_get("maxmemory")["maxmemory"]) > 0
        with pytest.raises(redis.exceptions.NoPermissionError):
            exporter.get("feature:1")
        with pytest.raises(redis.exceptions.NoPermissionError):
            exporter.set("feature:1", "x")
    finally:
        local.destroy()
