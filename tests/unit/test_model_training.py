"""ModelTraining under the mock engine: the CronJobs, their identities and policies, settings."""

from __future__ import annotations

import json

from tests.unit.conftest import env_of, objects, one, run_with
from tests.unit.test_settings import settings_error


def training_container(run, model: str = "churn") -> dict:
    cronjob = one(run, "CronJob", f"train-{model}")
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def test_training_is_off_by_default_and_its_cronjob_is_a_suspended_template():
    run = run_with()
    assert run.outputs["trainingCronJobs"][0] == ["train-churn"]
    assert one(run, "CronJob", "train-churn")["spec"]["suspend"] is True
    assert objects(run_with("qa"), "CronJob") and "train-churn" not in {
        c["metadata"]["name"] for c in objects(run_with("qa"), "CronJob")}


def test_a_schedule_turns_it_on():
    spec = one(run_with(trainingSchedule="0 4 * * 1"), "CronJob", "train-churn")["spec"]
    assert spec["schedule"] == "0 4 * * 1" and "suspend" not in spec
    assert spec["concurrencyPolicy"] == "Forbid" and spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 7200


def test_the_job_trains_with_its_own_identities_and_no_online_store():
    run = run_with()
    container = training_container(run)
    command = container["command"]
    assert command[:4] == ["python", "-m", "workloads.training", "run"]
    assert command[command.index("--kept-exit-code") + 1] == "0", "a kept champion is a decision, not a failure"
    env, secrets = env_of(container), run.outputs["secretNames"][0]
    assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == secrets["mlflowUser:train-churn"]
    assert "REDIS_PASSWORD" not in env, "training reads the offline store only"
    assert env["FEATURE_DATA_URI"]["value"] == "s3://features/churn"
    assert env["MLOPS_ENVIRONMENT"]["value"] == "dev"
    rule = one(run, "CronJob", "train-churn")["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["onExitCodes"]["values"] == [2, 3, 4, 8]


def test_the_training_user_may_edit_its_model_and_experiment_only():
    run = run_with()
    (job,) = [j for j in objects(run, "Job") if j["metadata"]["name"].startswith("mlops-mlflow-users-converge-")]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    users = {u["username"]: u["grants"] for u in json.loads(command[command.index("--spec") + 1])["users"]}
    assert {(g["resource_type"], g["name"], g["permission"]) for g in users["train-churn"]} == {
        ("registered_model", "churn", "EDIT"), ("experiment", "training/churn", "EDIT")}


def test_training_reaches_the_registry_the_object_store_and_mlflow():
    names = {p["metadata"]["name"] for p in objects(run_with(), "NetworkPolicy")}
    assert {"model-training-to-postgres-egress", "model-training-to-object-store-egress",
            "model-training-to-mlflow-egress"} <= names
    assert not any(name.startswith("model-training-to-redis") for name in names)


def test_training_settings_errors_name_the_key():
    assert "mlops-platform:trainingSchedule must be a five-field cron expression" in settings_error(trainingSchedule="daily")
    assert "mlops-platform:trainedModels must not repeat a model" in settings_error(trainedModels='["a", "a"]')
