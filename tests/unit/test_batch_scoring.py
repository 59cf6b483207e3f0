"""BatchScoring under the mock engine: the CronJobs, their identities, links and policies, settings."""

from __future__ import annotations

import json

from pulumi.runtime import rpc

from tests.unit.conftest import env_of, objects, one, run_with
from tests.unit.test_settings import settings_error
from workloads.scoring.errors import FAIL_FAST_EXIT_CODES

SCORED = {"scoredModels": '["churn", {"name": "fraud", "input": "s3://features/fraud/dt={ds}/", "schedule": "0 5 * * *", '
                          '"memoryLimit": "2Gi", "workers": 2, "cpuRequest": "2"}]'}


def scoring_container(run, model: str = "churn") -> dict:
    return one(run, "CronJob", f"score-{model}")["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]


def test_no_scored_models_no_cronjob_and_qa_scores_the_customer_list():
    assert run_with().outputs["scoringCronJobs"][0] == []
    qa = run_with("qa")
    assert qa.outputs["scoringCronJobs"][0] == ["score-churn"]
    command = scoring_container(qa)["command"]
    assert command[command.index("--input") + 1] == "s3://features/churn/customers/"


def test_each_model_gets_a_cronjob_with_its_own_input_schedule_and_resources():
    run = run_with(**SCORED)
    assert run.outputs["scoringCronJobs"][0] == ["score-churn", "score-fraud"]
    cronjob = one(run, "CronJob", "score-fraud")
    assert cronjob["spec"]["schedule"] == "0 5 * * *" and cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    assert one(run, "CronJob", "score-churn")["spec"]["schedule"] == "30 0 * * *", "before the drift jobs' 01:30"
    container = scoring_container(run, "fraud")
    command = container["command"]
    assert command[:4] == ["python", "-m", "workloads.scoring", "batch"]
    assert command[command.index("--input") + 1] == "s3://features/fraud/dt={ds}/"
    assert command[command.index("--output") + 1] == "s3://predictions"
    assert command[command.index("--log-uri") + 1] == "s3://monitoring"
    assert command[command.index("--alias") + 1] == "champion"
    assert command[command.index("--workers") + 1] == "2" and container["resources"]["requests"]["cpu"] == "2"
    churn = scoring_container(run, "churn")["command"]
    assert churn[churn.index("--workers") + 1] == "1", "one worker unless asked"
    assert container["resources"]["limits"]["memory"] == "2Gi"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    rule = cronjob["spec"]["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["onExitCodes"]["values"] == list(FAIL_FAST_EXIT_CODES) == [2, 3, 4, 5, 6, 8, 9]


def test_the_job_runs_as_its_own_users_without_the_online_store():
    run = run_with(**SCORED)
    env, secrets = env_of(scoring_container(run)), run.outputs["secretNames"][0]
    assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == secrets["mlflowUser:batch-churn"]
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] not in (
        secrets["objectStoreAdmin"], secrets["objectStoreDrift"], secrets["objectStoreFeast"])
    assert "REDIS_PASSWORD" not in env, "entity inputs are joined in the offline store, never the online one"
    (job,) = [j for j in objects(run, "Job") if j["metadata"]["name"].startswith("mlops-mlflow-users-converge-")]
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    users = {u["username"]: u["grants"] for u in json.loads(command[command.index("--spec") + 1])["users"]}
    assert {(g["resource_type"], g["name"], g["permission"]) for g in users["batch-fraud"]} == {
        ("registered_model", "fraud", "READ"), ("experiment", "training/fraud", "READ")}


def test_its_s3_identity_reads_its_input_and_owns_only_its_own_prefixes():
    run = run_with(objectStoreEngine="seaweedfs", **SCORED)
    registration = [r for r in run.of_type("kubernetes:core/v1:Secret") if r.name == "mlops-object-store-s3-config"][0]
    config = json.loads(rpc.unwrap_rpc_secret(registration.inputs["stringData"])["s3.json"])
    by_name = {identity["name"]: identity for identity in config["identities"]}
    assert set(by_name["batch-fraud"]["actions"]) == {
        "Read:features", "List:features",
        *(f"{a}:predictions/fraud/*" for a in ("Read", "Write", "List", "Tagging")),
        *(f"{a}:monitoring/fraud/*" for a in ("Read", "Write", "List", "Tagging"))}
    assert "predictions" in run.outputs["buckets"][0]


def test_scoring_reaches_the_registry_the_object_store_and_mlflow_only():
    names = {p["metadata"]["name"] for p in objects(run_with(**SCORED), "NetworkPolicy")}
    assert {"batch-scoring-to-postgres-egress", "batch-scoring-to-object-store-egress",
            "batch-scoring-to-mlflow-egress"} <= names
    assert not any(name.startswith(("batch-scoring-to-redis", "batch-scoring-to-feature-server")) for name in names)


def test_scoring_settings_errors_name_the_key():
    assert "must be an s3://bucket/prefix/" in settings_error(scoredModels='[{"name": "a", "input": "/data/x"}]')
    assert "mlops-platform:scoredModels[0] (a) input 's3://landing/a/' is not in one of the platform's buckets" in \
        settings_error(scoredModels='[{"name": "a", "input": "s3://landing/a/"}]')
    assert "mlops-platform:scoredModels must not score a model twice" in settings_error(scoredModels='["a", "a"]')
    assert "mlops-platform:scoredModels[0] (a).schedule must be a five-field cron" in settings_error(
        scoredModels='["a"]', batchScoringSchedule="nightly")
    assert "mlops-platform:batchScoringBatchRows must be >= 1000" in settings_error(batchScoringBatchRows=10)
    assert "mlops-platform:scoredModels[0] (a).workers must be >= 1" in settings_error(
        scoredModels='[{"name": "a", "workers": 0}]')
