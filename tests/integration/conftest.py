"""Integration tier: real Postgres, Redis, SeaweedFS (S3) and MLflow processes on 127.0.0.1.

Servers are configured by the components' own builders (tools/servers). A server that cannot
start fails the tests that need it, with its log; nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from platform_components.batch_scoring import ScoredModel
from platform_components.k8s import Resources
from platform_components.monitoring import POSTGRES_EXPORTER_ROLE
from platform_components.platform import (
    BUCKETS,
    DATABASES,
    FEATURES_READ,
    S3_CLIENTS,
    TRAINING_S3_CLIENT,
    prediction_log_grants,
    scoring_grants,
)
from platform_components.postgres import AppDatabase
from tools.servers.mlflow import LocalMlflow
from tools.servers.postgres import LocalPostgres
from tools.servers.redis import LocalRedis
from tools.servers.seaweedfs import LocalSeaweedfs

PLATFORM_DATABASES = DATABASES
PLATFORM_MONITORS = (AppDatabase(POSTGRES_EXPORTER_ROLE),)  # as with a monitoring stack
# The model the serving tests serve: its server gets its own S3 identity, as in the cluster.
SERVED_MODEL = "churn-serving"
# The model the image tier serves from the rendered Deployment (tests/integration/test_image.py).
POD_SERVED_MODEL = "churn-pod"
# The model batch scoring scores (tests/integration/test_scoring.py), with its own S3 identity; its
# inputs live in the features bucket, as the platform's default input does.
SCORED_MODEL = ScoredModel(name="churn-batch", input="s3://features/scoring/", alias="champion", schedule="30 0 * * *", workers=1,
                           resources=Resources("100m", "256Mi", "1Gi"))
# The model the image tier trains, then scores in batch from the image (tests/integration/test_image.py).
IMAGE_TRAINED_MODEL = "churn-image-trained"
IMAGE_SCORED_MODEL = ScoredModel(name=IMAGE_TRAINED_MODEL, input="s3://features/imagetrain/customers/", alias="champion",
                                 schedule="30 0 * * *", workers=1, resources=Resources("100m", "256Mi", "1Gi"))


@dataclass
class Platform:
    postgres: LocalPostgres
    redis: LocalRedis
    object_store: LocalSeaweedfs
    mlflow: LocalMlflow

    def smoke_env(self) -> dict[str, str]:
        username, password = self.mlflow.admin
        return {
            **os.environ,
            "MLFLOW_TRACKING_USERNAME": username,
            "MLFLOW_TRACKING_PASSWORD": password,
            **self.object_store.credentials("mlflow"),
            "REDIS_PASSWORD": self.redis.password,
        }


def start_object_store() -> LocalSeaweedfs:
    clients = {**S3_CLIENTS, **{f"model-{model}": prediction_log_grants(model) for model in (SERVED_MODEL, POD_SERVED_MODEL)},
               TRAINING_S3_CLIENT: (FEATURES_READ,), SCORED_MODEL.service_name: scoring_grants(SCORED_MODEL),
               IMAGE_SCORED_MODEL.service_name: scoring_grants(IMAGE_SCORED_MODEL)}
    store = LocalSeaweedfs(clients=clients).start()
    result = store.create_buckets(BUCKETS)
    if result.returncode != 0:
        store.destroy()
        raise RuntimeError(f"bucket set-up failed: {result.stdout}{result.stderr}")
    return store


@pytest.fixture(scope="session")
def object_store() -> Iterator[LocalSeaweedfs]:
    store = start_object_store()
    yield store
    store.destroy()


@pytest.fixture(scope="session")
def platform(object_store) -> Iterator[Platform]:
    started = []
    try:
        postgres = LocalPostgres().start()
        started.append(postgres)
        postgres.bootstrap(PLATFORM_DATABASES, monitors=PLATFORM_MONITORS)
        redis = LocalRedis().start()
        started.append(redis)
        mlflow = LocalMlflow(postgres, object_store)
        started.append(mlflow)
        mlflow.start()
        yield Platform(postgres, redis, object_store, mlflow)
    finally:
        for server in reversed(started):
            server.destroy()


@pytest.fixture
def mlflow_login(platform, monkeypatch) -> None:
    """MLflow's tracking URI and the generated admin user's credentials, for this test only."""
    for key, value in platform.mlflow.admin_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")


@pytest.fixture
def second_mlflow():
    """Another environment's MLflow: its own Postgres, S3 store and server."""
    started = []
    try:
        postgres = LocalPostgres().start()
        started.append(postgres)
        postgres.bootstrap(DATABASES)
        store = start_object_store()
        started.append(store)
        server = LocalMlflow(postgres, store)
        started.append(server)
        yield server.start() or server
    finally:
        for server in reversed(started):
            server.destroy()
