"""The workloads image, built from workloads/Dockerfile with podman, running the platform's Job
containers as the components render them (command, args, env, volumes, security context) against
the local real servers: the pod's UID and an arbitrary OpenShift-style one, a read-only root and
only the pod's emptyDirs writable."""

from __future__ import annotations

import io
import json
import time
import uuid
from dataclasses import replace

import boto3
import mlflow.pyfunc
import pandas as pd
import psycopg
import pytest
import requests
from botocore.config import Config
from feast import FeatureStore

from infra.offline import run_offline
from pipelines.scripts.smoke import smoke_command
from platform_components.batch_scoring import BatchScoringArgs, BatchScoringOptions, ScoringSecrets, scoring_cronjob
from platform_components.drift_monitor import DriftMonitorArgs, DriftOptions, drift_cronjob
from platform_components.feature_store import (
    REGISTRY_DB,
    FeastContainers,
    FeastSecrets,
    FeatureStoreArgs,
    FeatureStoreOptions,
    apply_command,
    feature_store_yaml,
    materialize_command,
    repository_files,
)
from platform_components.k8s import Placement, PodIdentity, Resources, empty_dir, pod_spec
from platform_components.k8s import container as restricted_container
from platform_components.mlflow_users import MlflowUsersArgs, access_job
from platform_components.model_training import (
    ModelTrainingArgs,
    TrainingOptions,
    TrainingSecrets,
    promote_command,
    training_cronjob,
)
from platform_components.object_store import ObjectStoreArgs, ObjectStoreOptions, bucket_job
from platform_components.platform import BACKUPS_BUCKET, BUCKETS, MONITORING_BUCKET, PREDICTIONS_BUCKET, workload_users
from platform_components.postgres import AppDatabase
from platform_components.postgres_backup import (
    BackupEndpoints,
    BackupOptions,
    BackupSecrets,
    PostgresBackupArgs,
    backup_cronjob,
    list_command,
    restore_command,
    verify_cronjob,
)
from tests.integration.conftest import IMAGE_SCORED_MODEL, IMAGE_TRAINED_MODEL, POD_SERVED_MODEL
from tests.integration.test_drift_job import s3_client
from tests.integration.test_feature_store import applied_store, checked, new_store
from tests.integration.test_feature_store import s3_client as feature_s3
from tools.drift_demo import register_model, write_prediction_logs
from tools.servers.feast import default_key_ttl
from tools.servers.image import OPENSHIFT_UID, POD_UID, run_in_image, workloads_image
from tools.servers.pods import CONTAINER_HOST, PlayedPods, from_pod, local_deployment
from tools.servers.process import free_port
from tools.servers.pushgateway import LocalPushgateway
from tools.servers.seaweedfs import LocalSeaweedfs
from tools.synth import manifests
from workloads import metric_names as names
from workloads.features.data import MODEL_FEATURES, synthesize, write_tables

PLACEMENT = Placement("mlops", "test", PodIdentity(POD_UID))
ADMIN_SECRET = "object-store-admin"


@pytest.fixture(scope="module")
def image() -> str:
    return workloads_image()


@pytest.fixture
def empty_store():
    store = LocalSeaweedfs().start()
    yield store
    store.destroy()


def bucket_pod(endpoint: str) -> dict:
    options = ObjectStoreOptions(resources=Resources("50m", "64Mi", "256Mi"), storage_size="1Gi", engine="seaweedfs")
    args = ObjectStoreArgs(PLACEMENT, options, "mlops-platform/workloads:0.1.0", buckets=BUCKETS)
    return bucket_job(args, {}, endpoint, ADMIN_SECRET)["spec"]["template"]["spec"]


@pytest.mark.parametrize("uid", [POD_UID, OPENSHIFT_UID], ids=["pod-uid", "openshift-uid"])
def test_the_bucket_job_runs_from_the_image_as_rendered(image, empty_store, uid):
    pod = bucket_pod(empty_store.endpoint)
    (container,) = pod["containers"]
    result = run_in_image(container, pod, {ADMIN_SECRET: empty_store.credentials("admin")}, image=image, uid=uid)
    assert result.returncode == 0, result.stderr[-3000:]
    s3 = boto3.client("s3", endpoint_url=empty_store.endpoint, region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}),
                      **{k.lower(): v for k, v in empty_store.credentials("admin").items()})
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == set(BUCKETS)
    for bucket in BUCKETS:
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_the_root_filesystem_is_read_only_outside_the_pod_s_volumes(image, empty_store):
    pod = bucket_pod(empty_store.endpoint)
    (container,) = pod["containers"]
    probe = {**container, "command": ["sh", "-c", "touch /tmp/ok && ! touch /app/x 2>/dev/null && ! touch /var/tmp/x 2>/dev/null"],
             "args": []}
    result = run_in_image(probe, pod, {ADMIN_SECRET: empty_store.credentials("admin")}, image=image)
    assert result.returncode == 0, result.stderr


def test_the_drift_cronjob_runs_from_the_image_and_reports_its_outcome(image, platform):
    """The CronJob's container (its own MLflow user, the drift S3 identity, the Pushgateway) on a
    drifted day of prediction logs, with the interval pinned instead of the schedule's."""
    model = "churn-image"
    username, password = platform.mlflow.admin
    with pytest.MonkeyPatch.context() as patch:
        for key, value in platform.mlflow.admin_env().items():
            patch.setenv(key, value)
        register_model(model)
    write_prediction_logs(s3_client(platform, "drift"), MONITORING_BUCKET, model, ["2026-11-14"], "2026-11-14")
    gateway = LocalPushgateway().start()
    try:
        options = DriftOptions(models=(model,), resources=Resources("100m", "256Mi", "1Gi"), schedule="30 2 * * *",
                               model_alias="champion", retrain_hook_secret=None, mmd_permutations=200,
                               performance_floor=None)
        args = DriftMonitorArgs(PLACEMENT, options, "mlops-platform/workloads:0.1.0", platform.mlflow.url, "mlflow-user",
                                platform.object_store.endpoint, "s3-drift", MONITORING_BUCKET,
                                pushgateway_url=gateway.url)
        pod = drift_cronjob(model, args, {})["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        container = {**container, "command": [*container["command"], "--interval-end", "2026-11-15"]}
        secrets = {"mlflow-user": {"username": username, "password": password},
                   "s3-drift": platform.object_store.credentials("drift")}
        result = run_in_image(container, pod, secrets, image=image)
        assert result.returncode == 0, result.stderr[-3000:]
        assert "DATASET DRIFT" in result.stdout
        pushed = requests.get(f"{gateway.url}/api/v1/metrics", timeout=10).json()["data"]
        (group,) = [g for g in pushed if g["labels"].get("model") == model]
        assert group["labels"]["job"] == names.DRIFT_JOB
        assert group[names.DRIFT_DATASET_DRIFT]["metrics"][0]["value"] == "1"
    finally:
        gateway.destroy()


def test_the_backup_and_verify_cronjobs_run_from_the_image(image, platform):
    """pg_dump and pg_restore of the image (Debian's client 15) against the real Postgres 15,
    dumps to the backups bucket with the backup identity, then the weekly restore check."""
    options = BackupOptions(schedule="30 2 * * *", keep=7, verify_schedule="0 4 * * 0",
                            resources=Resources("50m", "128Mi", "512Mi"))
    endpoints = BackupEndpoints("127.0.0.1", platform.postgres.port, "postgres", platform.object_store.endpoint)
    args = PostgresBackupArgs(PLACEMENT, options, "mlops-platform/workloads:0.1.0", endpoints,
                              BackupSecrets("postgres-superuser", "s3-backup"), databases=("mlflow", "feast_registry"))
    secrets = {"postgres-superuser": {"password": platform.postgres.superuser_password},
               "s3-backup": platform.object_store.credentials("backup")}
    for cronjob in (backup_cronjob(args, {}), verify_cronjob(args, {}, options.verify_schedule)):
        pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        result = run_in_image(container, pod, secrets, image=image)
        assert result.returncode == 0, f"{cronjob['metadata']['name']}: {result.stderr[-3000:]}"
    assert "mlflow: s3://backups/postgres/mlflow/" in result.stdout and "every count equal" in result.stdout

    # docs/operations.md's `run_backup`: the backup CronJob's pod with another command and env.
    pod = backup_cronjob(args, {})["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    listing = run_in_image({**container, "command": list_command(BACKUPS_BUCKET)}, pod, secrets, image=image)
    assert listing.returncode == 0, listing.stderr[-3000:]
    dump = [line.split("\t")[3] for line in listing.stdout.splitlines() if line.startswith(f"{REGISTRY_DB}\t")][-1]
    target = AppDatabase(f"restored_{uuid.uuid4().hex[:8]}")
    platform.postgres.bootstrap((target,))
    as_app = [*[v for v in container["env"] if v["name"] not in ("PGUSER", "PGPASSWORD")],
              {"name": "PGUSER", "value": target.name}, {"name": "PGPASSWORD", "value": platform.postgres.app_passwords[target.name]}]
    restore = {**container, "env": as_app, "command": restore_command(
        dump, f"host=127.0.0.1 port={platform.postgres.port} dbname={target.name} user={target.name}")}
    restored = run_in_image(restore, pod, secrets, image=image)
    assert restored.returncode == 0, restored.stderr[-3000:]
    assert table_rows(platform, target.name) == table_rows(platform, REGISTRY_DB)


def table_rows(platform, database: str) -> dict[str, int]:
    """Each public table's row count in `database`, read as the superuser."""
    with psycopg.connect(platform.postgres.superuser_uri(database)) as conn:
        tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return {table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables}


def agent_pod(command: list[str], env: dict[str, str]) -> tuple[dict, dict]:
    """A command the pipelines run on their agent (smoke, promote) as a pod from the image would
    run it, e.g. an Azure DevOps container job: the platform's restricted container, /tmp an
    emptyDir, the environment given and nothing else."""
    agent = restricted_container(name="agent", image="mlops-platform/workloads:0.1.0", resources=Resources("100m", "256Mi", "2Gi"),
                      command=command, env=[{"name": k, "value": v} for k, v in {"HOME": "/tmp", **env}.items()],
                      volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}])
    return agent, pod_spec(identity=PodIdentity(POD_UID), containers=[agent], volumes=[empty_dir("tmp", "2Gi")])


def test_the_smoke_test_runs_from_the_image(image, platform):
    username, password = platform.mlflow.admin
    command = smoke_command(platform.mlflow.url, platform.object_store.endpoint, f"redis://127.0.0.1:{platform.redis.port}/0")
    agent, pod = agent_pod(command, {"MLFLOW_TRACKING_USERNAME": username, "MLFLOW_TRACKING_PASSWORD": password,
                                     "REDIS_PASSWORD": platform.redis.password, **platform.object_store.credentials("mlflow")})
    result = run_in_image(agent, pod, {}, image=image)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "smoke: all 7 checks passed"


def test_promotion_runs_from_the_image(image, platform, second_mlflow, monkeypatch):
    """The champion copied to another environment's registry, verified there (it loads and
    predicts) by the image's packages."""
    model = "churn-image-promoted"
    for key, value in platform.mlflow.admin_env().items():
        monkeypatch.setenv(key, value)
    register_model(model)
    (_, source_password), (_, target_password) = platform.mlflow.admin, second_mlflow.admin
    agent, pod = agent_pod(promote_command(model, platform.mlflow.url, second_mlflow.url),
                           {"SOURCE_MLFLOW_TRACKING_USERNAME": "admin", "SOURCE_MLFLOW_TRACKING_PASSWORD": source_password,
                            "TARGET_MLFLOW_TRACKING_USERNAME": "admin", "TARGET_MLFLOW_TRACKING_PASSWORD": target_password,
                            "MLOPS_SOURCE_ENVIRONMENT": "qa"})
    result = run_in_image(agent, pod, {}, image=image)
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert f"copied: {model} v1 -> v1" in result.stdout


def test_the_mlflow_users_job_runs_from_the_image(image, platform):
    users = workload_users(("churn-image-served",), ())
    args = MlflowUsersArgs(PLACEMENT, "mlops-platform/workloads:0.1.0", platform.mlflow.url, "mlflow-admin", users)
    user_secrets = {u.username: f"user-{u.username}" for u in users}
    pod = access_job(args, {}, user_secrets)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    username, password = platform.mlflow.admin
    secrets = {"mlflow-admin": {"username": username, "password": password},
               **{secret: {"password": f"pw-{user}-0123456789"} for user, secret in user_secrets.items()}}
    result = run_in_image(container, pod, secrets, image=image)
    assert result.returncode == 0, result.stderr[-3000:]
    (user,) = users
    search = requests.get(f"{platform.mlflow.url}/api/2.0/mlflow/registered-models/get",
                          params={"name": "churn-image-served"}, auth=(user.username, f"pw-{user.username}-0123456789"),
                          timeout=30)
    assert search.status_code == 200, search.text


def test_feast_apply_and_materialise_run_from_the_image(image, platform):
    """The feature store's Job containers (`feast apply`, the materialisation CronJob) with the
    ConfigMap's files mounted read-only; the online store then answers for a customer."""
    local = new_store(platform, "image")
    try:
        options = FeatureStoreOptions(server_resources=Resources("100m", "256Mi", "1Gi"),
                                      job_resources=Resources("100m", "256Mi", "2Gi"),
                                      materialize_schedule="15 * * * *", online_key_ttl_seconds=default_key_ttl(),
                                      server_replicas=1, server_workers=1)
        args = FeatureStoreArgs(PLACEMENT, options, "mlops-platform/workloads:0.1.0", local.endpoints(),
                                FeastSecrets("registry", "redis", "s3"))
        feast = FeastContainers(args, "feast-config")
        pod = {"volumes": feast.volumes("256Mi")}
        secrets = {"registry": {"password": platform.postgres.app_passwords[REGISTRY_DB]},
                   "redis": {"password": platform.redis.password}, "s3": platform.object_store.credentials("feast")}
        files = {"config": local.config_dir}
        applied = run_in_image(feast.job("apply", apply_command()), pod, secrets, image=image, files=files)
        assert applied.returncode == 0, applied.stderr[-3000:]
        end = pd.Timestamp.now(tz="UTC").floor("h")
        tables = synthesize(20, 2, end, seed=5)
        write_tables(feature_s3(local), local.data_uri, tables)
        materialised = run_in_image(feast.job("materialize", materialize_command()), pod, secrets, image=image,
                                    files=files)
        assert materialised.returncode == 0, materialised.stderr[-3000:]
        assert "materialized" in materialised.stdout
        customer = int(tables.labels["customer_id"].iloc[0])
        online = checked(local.run(["python", "-m", "workloads.features", "online", "--config-dir", str(local.config_dir),
                                    "--repo-dir", str(local.repo_dir), "--customer", str(customer)]))
        values = json.loads(online)
        assert values["customer_id"] == [customer] and all(v[0] is not None for v in values.values())
    finally:
        local.destroy()


def test_a_training_run_from_the_image_registers_the_first_champion(image, platform):
    """The training CronJob's container as its own `train-<model>` user with the read-only training
    S3 identity, on an applied and materialised store."""
    model = IMAGE_TRAINED_MODEL
    with applied_store(platform, "imagetrain", 400, seed=21) as (local, tables, _end):
        users = platform.mlflow.converge_users(workload_users((), (), (model,)))
        args = ModelTrainingArgs(PLACEMENT, TrainingOptions(models=(model,), schedule=None,
                                                            resources=Resources("250m", "1Gi", "4Gi")),
                                 "mlops-platform/workloads:0.1.0", platform.mlflow.url, "feast-config", local.endpoints(),
                                 {model: TrainingSecrets("mlflow-train", "s3-training", "registry")})
        pod = training_cronjob(args, model, {})["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        secrets = {"mlflow-train": users[f"train-{model}"], "s3-training": platform.object_store.credentials("training"),
                   "registry": {"password": platform.postgres.app_passwords[REGISTRY_DB]}}
        result = run_in_image(container, pod, secrets, image=image, files={"config": local.config_dir})
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"registered {model} v1 (alias champion)" in result.stdout
        assert result.stdout.rstrip().endswith("decision=promoted version=1 champion=1")

        # The batch scoring CronJob then scores every customer with that champion, from the image, as
        # its own `batch-<model>` user and S3 identity: features from the offline store, committed.
        scored = replace(IMAGE_SCORED_MODEL, input=f"{local.data_uri}/customers/")
        users = platform.mlflow.converge_users(workload_users((), (), (), (model,)))
        scoring = BatchScoringArgs(PLACEMENT, BatchScoringOptions(models=(scored,), batch_rows=100_000),
                                   "mlops-platform/workloads:0.1.0", platform.mlflow.url, "feast-config",
                                   local.endpoints(), {model: ScoringSecrets("mlflow-batch", "s3-batch", "registry")})
        pod = scoring_cronjob(scoring, scored, {})["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        secrets = {"mlflow-batch": users[scored.service_name],
                   "s3-batch": platform.object_store.credentials(scored.service_name),
                   "registry": {"password": platform.postgres.app_passwords[REGISTRY_DB]}}
        result = run_in_image(container, pod, secrets, image=image, files={"config": local.config_dir})
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"with {model} v1 (entities)" in result.stdout
        day = (pd.Timestamp.now(tz="UTC") - pd.Timedelta(days=1)).date().isoformat()
        manifest = json.loads(s3_client(platform, "admin").get_object(
            Bucket=PREDICTIONS_BUCKET, Key=f"{model}/dt={day}/_SUCCESS")["Body"].read())
        customers = len(pd.unique(tables.profiles["customer_id"]))
        assert manifest["rows_read"] == customers and manifest["rows_scored"] >= customers - 1


def secrets_for(deployment: dict, values: dict[str, str]) -> dict[str, dict[str, str]]:
    """The Secrets the Deployment's env refers to, filled from `values` (by variable name)."""
    secrets: dict[str, dict[str, str]] = {}
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for variable in container.get("env", []):
            ref = variable.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                secrets.setdefault(ref["name"], {})[ref["key"]] = values[variable["name"]]
    return secrets


def readiness_url(deployment: dict, port: int) -> str:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return f"http://127.0.0.1:{port}{container['readinessProbe']['httpGet']['path']}"


def test_the_rendered_serving_deployments_run_as_pods_and_serve_the_champion(image, platform, mlflow_login):
    """The dev stack's feature-server and model-<name> Deployments, rendered offline with the
    locally built image, played as pods: they start with their volumes, security context and
    probes, the model server finds its features through the feature server pod, answers exactly
    as the champion does in process, and logs every scored row for the drift monitor."""
    model = POD_SERVED_MODEL
    with applied_store(platform, "pods", 200, seed=33) as (local, tables, _end):
        users = platform.mlflow.converge_users(workload_users((model,), (), (model,)))
        checked(local.train(platform.mlflow.admin_env(), model))
        repository, tag = image.rsplit(":", 1)
        run = run_offline("dev", {"servedModels": [model], "trainedModels": [model], "workloadsImage": repository,
                                  "workloadsImageTag": tag})
        objects = {(m["kind"], m["metadata"]["name"]): m for m in manifests(run)}
        feature_server, model_server = objects["Deployment", "feature-server"], objects["Deployment", f"model-{model}"]
        assert {c["image"] for d in (feature_server, model_server) for c in d["spec"]["template"]["spec"]["containers"]} \
            == {image}
        (config_volume,) = [v for v in feature_server["spec"]["template"]["spec"]["volumes"] if "configMap" in v]
        pod_endpoints = replace(local.endpoints(), registry_host=CONTAINER_HOST, redis_host=CONTAINER_HOST,
                                s3_endpoint_url=from_pod(platform.object_store.endpoint))
        config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": config_volume["configMap"]["name"]},
                      "data": {"feature_store.yaml": feature_store_yaml(pod_endpoints, local.tuning), **repository_files()}}
        feature_port, model_port = free_port(), free_port()
        s3_endpoint = from_pod(platform.object_store.endpoint)
        feature_values = {"FEAST_REGISTRY_PASSWORD": platform.postgres.app_passwords[REGISTRY_DB],
                          "REDIS_PASSWORD": platform.redis.password, **platform.object_store.credentials("feast")}
        model_values = {"MLFLOW_TRACKING_USERNAME": f"model-{model}",
                        "MLFLOW_TRACKING_PASSWORD": users[f"model-{model}"]["password"],
                        **platform.object_store.credentials(f"model-{model}")}
        pods = PlayedPods(
            [config_map,
             local_deployment(feature_server, env={"AWS_ENDPOINT_URL": s3_endpoint, "FEATURE_DATA_URI": local.data_uri},
                              published={"http": feature_port}),
             local_deployment(model_server, env={"MLFLOW_TRACKING_URI": from_pod(platform.mlflow.url),
                                                 "AWS_ENDPOINT_URL": s3_endpoint},
                              flags={"--feature-server-url": f"http://{CONTAINER_HOST}:{feature_port}"},
                              published={"http": model_port})],
            {**secrets_for(feature_server, feature_values), **secrets_for(model_server, model_values)})
        try:
            pods.start()
            pods.wait_ready("feature-server", "feature-server", readiness_url(feature_server, feature_port))
            pods.wait_ready(f"model-{model}", "model-server", readiness_url(model_server, model_port))
            customers = sorted(int(c) for c in tables.labels["customer_id"])[:20]
            response = trained_sdk_features(local, customers)
            expected = mlflow.pyfunc.load_model(f"models:/{model}@champion").predict(response).tolist()
            scored = requests.post(f"http://127.0.0.1:{model_port}/invocations",
                                   json={"dataframe_records": [{"customer_id": c} for c in customers]}, timeout=60)
            assert scored.status_code == 200, f"{scored.text}\n{pods.logs(f'model-{model}', 'model-server')[-3000:]}"
            assert scored.json() == {"predictions": expected}
            logged = wait_for_logged_rows(platform, model, len(customers))
            assert sorted(logged["customer_id"]) == customers
            for deployment, container in (("feature-server", "feature-server"), (f"model-{model}", "model-server")):
                state = pods.inspect(deployment, container)
                assert state["State"]["Running"] and state["RestartCount"] == 0, pods.logs(deployment, container)
                assert state["Config"]["User"] == str(POD_UID) or state["Config"]["User"].startswith(f"{POD_UID}:")
        finally:
            pods.destroy()


def trained_sdk_features(local, customers: list[int]) -> pd.DataFrame:
    """The model's features for `customers` from the online store, read in process."""
    sdk = FeatureStore(repo_path=str(local.repo_dir))
    response = sdk.get_online_features(features=sdk.get_feature_service("churn_model_v1"),
                                       entity_rows=[{"customer_id": c} for c in customers])
    return pd.DataFrame(response.to_dict())[list(MODEL_FEATURES)]


def wait_for_logged_rows(platform, model: str, rows: int, timeout: float = 90) -> pd.DataFrame:
    """The model's prediction-log rows of today, once at least `rows` are there (the server
    flushes every `modelServerLogFlushSeconds`)."""
    s3 = s3_client(platform, "drift")
    prefix = f"{model}/dt={pd.Timestamp.now(tz='UTC').date().isoformat()}/"
    deadline = time.monotonic() + timeout
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=MONITORING_BUCKET, Prefix=prefix).get("Contents", [])]
        frames = [pd.read_parquet(io.BytesIO(s3.get_object(Bucket=MONITORING_BUCKET, Key=k)["Body"].read())) for k in keys]
        logged = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"customer_id": []})
        if len(logged) >= rows or time.monotonic() > deadline:
            return logged
        time.sleep(2)
