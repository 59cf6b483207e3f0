"""Faults: Postgres stopping under a logging client, Redis killed with SIGKILL."""

from __future__ import annotations

import time
import uuid

import psycopg
import pytest
import redis
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from platform_components.platform import TRACKING_DB
from tests.integration.conftest import PLATFORM_DATABASES
from tools.servers.mlflow import LocalMlflow
from tools.servers.postgres import LocalPostgres
from tools.servers.redis import LocalRedis

CLIENT_TIMEOUT = 10  # MLFLOW_HTTP_REQUEST_TIMEOUT for the client under test


@pytest.fixture
def own_tracking_server(object_store):
    """A Postgres + MLflow pair this test may break (the S3 server is shared)."""
    postgres = LocalPostgres().start()
    postgres.bootstrap(PLATFORM_DATABASES)
    mlflow = LocalMlflow(postgres, object_store, workers=1)
    try:
        mlflow.start()
        yield postgres, mlflow
    finally:
        mlflow.destroy()
        postgres.destroy()


def test_postgres_outage_fails_fast_and_loses_no_acknowledged_write(own_tracking_server, monkeypatch):
    postgres, mlflow = own_tracking_server
    username, password = mlflow.admin
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", str(CLIENT_TIMEOUT))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(mlflow.url)
    run_id = client.create_run(client.create_experiment(f"outage-{uuid.uuid4().hex[:8]}")).info.run_id

    acknowledged = []
    for step in range(20):
        client.log_metric(run_id, "m", float(step), step=step)
        acknowledged.append(step)

    postgres.stop()
    started = time.monotonic()
    with pytest.raises(MlflowException) as failure:
        client.log_metric(run_id, "m", 999.0, step=999)
    elapsed = time.monotonic() - started
    # A bound on hanging, not a speed target: the call must end within its configured timeout.
    assert elapsed < 3 * CLIENT_TIMEOUT, f"client hung for {elapsed:.0f}s"
    assert "log-metric" in str(failure.value) or "500" in str(failure.value), str(failure.value)[:500]

    postgres.start()  # same data directory and port
    deadline = time.monotonic() + 60
    while True:  # the server's connection pool may hold connections from before the restart
        try:
            client.log_metric(run_id, "m", 1000.0, step=1000)
            acknowledged.append(1000)
            break
        except MlflowException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)

    history = {m.step for m in client.get_metric_history(run_id, "m")}
    assert set(acknowledged) <= history
    with psycopg.connect(postgres.uri(TRACKING_DB)) as conn:
        rows = conn.execute("SELECT count(*) FROM metrics WHERE run_uuid = %s AND step < 999", (run_id,)).fetchone()
    assert rows == (20,)


def test_redis_keeps_writes_older_than_a_second_after_sigkill():
    server = LocalRedis().start()
    try:
        client = redis.Redis(port=server.port, password=server.password)
        client.mset({f"feature:{i}": i for i in range(1000)})
        time.sleep(2.0)  # appendfsync everysec: older writes are on disk
        client.set("feature:late", "may be lost")
        server.kill()  # SIGKILL: no shutdown, no final fsync
        assert not server.process.running()

        server.start()  # the component's config, same data directory
        client = redis.Redis(port=server.port, password=server.password)
        values = client.mget([f"feature:{i}" for i in range(1000)])
        assert values == [str(i).encode() for i in range(1000)]
        assert client.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert client.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}
    finally:
        server.destroy()
