"""DriftMonitor: a CronJob per monitored model, wired to MLflow, S3 and the optional hook."""

from __future__ import annotations

import pytest

from infra.offline import run_offline
from infra.settings import SettingsError
from tests.unit.conftest import env_of, objects, one, run_with
from workloads.drift.errors import FAIL_FAST_EXIT_CODES


def cronjob(run, model: str) -> dict:
    return one(run, "CronJob", f"drift-{model}")


def drift_container(job: dict) -> dict:
    return job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def test_one_cronjob_per_monitored_model():
    run = run_with("ha-example")
    names = {c["metadata"]["name"] for c in objects(run, "CronJob")}
    assert {n for n in names if n.startswith("drift-")} == {"drift-churn", "drift-fraud"}
    assert run.outputs["driftCronJobs"][0] == ["drift-churn", "drift-fraud"]


def test_no_models_no_cronjobs_and_no_drift_network_links():
    run = run_with(driftModels="[]", trainedModels="[]")
    assert sorted(c["metadata"]["name"] for c in objects(run, "CronJob")) == ["feast-materialize", "postgres-backup"]
    assert not [p for p in objects(run, "NetworkPolicy") if p["metadata"]["name"].startswith("drift-")]


def test_cronjob_schedule_and_safety_limits(stack_run):
    spec = cronjob(stack_run, "churn")["spec"]
    assert spec["schedule"] == "30 1 * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 3600
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 5)
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 2 and job["activeDeadlineSeconds"] == 3600
    rule = job["podFailurePolicy"]["rules"][0]
    # Usage (2), bad input (3-6), not found (8), not ended (9): a retry cannot fix them; 7 is retried.
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == list(FAIL_FAST_EXIT_CODES) == [2, 3, 4, 5, 6, 8, 9]
    assert job["template"]["spec"]["restartPolicy"] == "Never"


def test_drift_job_runs_the_latest_interval_against_mlflow_and_s3(stack_run):
    container = drift_container(cronjob(stack_run, "churn"))
    command = container["command"]
    assert command[:4] == ["python", "-m", "workloads.drift", "run"]
    assert command[command.index("--model") + 1] == "churn"
    assert command[command.index("--s3-endpoint") + 1] == stack_run.outputs["s3Endpoint"][0]
    assert command[command.index("--bucket") + 1] == "monitoring"
    assert command[command.index("--mmd-permutations") + 1] == "1000"
    env = env_of(container)
    assert env["MLFLOW_TRACKING_URI"]["value"] == stack_run.outputs["mlflowUrl"][0]
    secrets = stack_run.outputs["secretNames"][0]
    # Its own MLflow user (EDIT on its monitoring experiments, READ on the model), not the admin.
    assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == secrets["mlflowUser:drift-monitor"]
    assert env["MLFLOW_TRACKING_USERNAME"]["valueFrom"]["secretKeyRef"]["name"] == secrets["mlflowUser:drift-monitor"]
    assert secrets["mlflowUser:drift-monitor"] != secrets["mlflowAdmin"]
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == secrets["objectStoreDrift"]


def test_retrain_hook_comes_from_the_configured_secret():
    with_hook = env_of(drift_container(cronjob(run_with("ha-example"), "churn")))
    assert with_hook["RETRAIN_HOOK_URL"]["valueFrom"]["secretKeyRef"] == {"name": "retrain-hook", "key": "url"}
    assert with_hook["RETRAIN_HOOK_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "retrain-hook", "key": "token"}
    assert "RETRAIN_HOOK_URL" not in env_of(drift_container(cronjob(run_with("dev"), "churn")))


def test_drift_pods_may_reach_mlflow_and_the_object_store_only(stack_run):
    names = {p["metadata"]["name"] for p in objects(stack_run, "NetworkPolicy")}
    assert {"drift-to-mlflow-egress", "drift-to-mlflow-ingress", "drift-to-object-store-egress",
            "drift-to-object-store-ingress"} <= names


def test_seaweedfs_drift_credentials_are_limited_to_its_logs_and_read_only_labels():
    import json

    from pulumi.runtime import rpc

    run = run_with(objectStoreEngine="seaweedfs")
    registration = [r for r in run.of_type("kubernetes:core/v1:Secret") if r.name == "mlops-object-store-s3-config"][0]
    config = json.loads(rpc.unwrap_rpc_secret(registration.inputs["stringData"])["s3.json"])
    drift = next(i for i in config["identities"] if i["name"] == "drift")
    assert set(drift["actions"]) == {"Read:monitoring", "Write:monitoring", "List:monitoring", "Tagging:monitoring",
                                     "Read:features", "List:features"}, "labels are read, never written"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"driftSchedule": "daily"}, "mlops-platform:driftSchedule must be a five-field cron expression"),
        ({"driftModels": '["Churn Model"]'}, "mlops-platform:driftModels must be a DNS label"),
        ({"driftModels": '["churn", "churn"]'}, "mlops-platform:driftModels must not repeat a model"),
        ({"driftMemoryRequest": "4Gi"}, "mlops-platform:driftMemoryRequest must not exceed the memory limit"),
        ({"driftMmdPermutations": "0"}, "mlops-platform:driftMmdPermutations must be >= 1, got 0"),
    ],
)
def test_bad_drift_settings_name_their_key(overrides, message):
    with pytest.raises(SettingsError) as caught:
        run_offline("dev", overrides)
    assert message in str(caught.value)


def test_mmd_permutations_are_tuned_per_stack():
    command = drift_container(cronjob(run_with(driftMmdPermutations="5000"), "churn"))["command"]
    assert command[command.index("--mmd-permutations") + 1] == "5000"
