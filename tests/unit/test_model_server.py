"""ModelServer and MlflowUsers under the mock engine: the served models' objects, identities and
policies in every stack, and the settings errors of `servedModels`."""

from __future__ import annotations

import json

import pytest

from tests.unit.conftest import containers, env_of, objects, one, run_with
from tests.unit.test_settings import settings_error


def served(run) -> list[str]:
    return sorted(run.outputs["modelServerUrls"][0])


def test_only_dev_and_ha_example_serve_the_example_model(stack_run):
    expected = ["churn"] if stack_run.stack in ("dev", "ha-example") else []
    assert served(stack_run) == expected


def test_a_served_model_runs_the_model_server_with_its_own_identities():
    run = run_with()
    deployment = one(run, "Deployment", "model-churn")
    (container,) = containers(deployment["spec"]["template"]["spec"])
    command = container["command"]
    assert command[:4] == ["python", "-m", "workloads.serving", "serve"]
    assert command[command.index("--model") + 1] == "churn" and command[command.index("--alias") + 1] == "champion"
    assert command[command.index("--feature-server-url") + 1] == run.outputs["featureServerUrl"][0]
    assert command[command.index("--log-bucket") + 1] == "monitoring"
    env, secrets = env_of(container), run.outputs["secretNames"][0]
    assert env["MLFLOW_TRACKING_URI"]["value"] == run.outputs["mlflowUrl"][0]
    assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == secrets["mlflowUser:model-churn"]
    assert secrets["mlflowUser:model-churn"] != secrets["mlflowAdmin"]
    s3 = env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"]
    assert s3 not in {secrets["objectStoreAdmin"], secrets["objectStoreDrift"]}
    assert run.outputs["modelServerUrls"][0] == {"churn": "http://model-churn.mlops.svc.cluster.local:8080"}


def test_readiness_waits_for_a_loaded_model_and_liveness_only_for_the_process():
    pod = one(run_with(), "Deployment", "model-churn")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ping"
    assert container["livenessProbe"]["httpGet"]["path"] == container["startupProbe"]["httpGet"]["path"] == "/version"
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    # Room for in-flight requests and the log flush after SIGTERM (20 s each) and the preStop sleep.
    assert pod["terminationGracePeriodSeconds"] >= 45
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]


def test_dev_serves_one_replica_without_disruption_budget_or_autoscaler():
    run = run_with()
    assert one(run, "Deployment", "model-churn")["spec"]["replicas"] == 1
    assert objects(run, "HorizontalPodAutoscaler") == [] and objects(run, "PodDisruptionBudget") == []


def test_an_autoscaled_model_gets_an_hpa_and_no_fixed_replica_count():
    run = run_with("ha-example")
    deployment = one(run, "Deployment", "model-churn")
    assert "replicas" not in deployment["spec"], "a fixed count would fight the autoscaler on every update"
    hpa = one(run, "HorizontalPodAutoscaler", "model-churn")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "model-churn"}
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert one(run, "PodDisruptionBudget", "model-churn")["spec"]["maxUnavailable"] == 1
    assert "podAntiAffinity" in deployment["spec"]["template"]["spec"]["affinity"]
    command = deployment["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--workers") + 1] == "2"


def test_entry_keys_override_the_model_server_defaults():
    run = run_with(servedModels=json.dumps(["churn", {"name": "fraud", "alias": "candidate", "memoryLimit": "3Gi"}]),
                   modelServerMemoryLimit="2Gi")
    limits = {name: one(run, "Deployment", f"model-{name}")["spec"]["template"]["spec"]["containers"][0]["resources"]
              for name in ("churn", "fraud")}
    assert limits["churn"]["limits"]["memory"] == "2Gi" and limits["fraud"]["limits"]["memory"] == "3Gi"
    command = one(run, "Deployment", "model-fraud")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[command.index("--alias") + 1] == "candidate"


def test_model_servers_reach_exactly_mlflow_the_object_store_and_the_feature_server():
    run = run_with()
    egress = {p["metadata"]["name"] for p in objects(run, "NetworkPolicy")
              if p["metadata"]["name"].startswith(("model-server-", "model-clients-")) and p["metadata"]["name"].endswith("-egress")}
    assert egress == {"model-server-to-mlflow-egress", "model-server-to-object-store-egress",
                      "model-server-to-feature-server-egress", "model-clients-to-model-server-egress"}
    ingress = one(run, "NetworkPolicy", "model-clients-to-model-server-ingress")["spec"]
    assert ingress["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"mlops-platform/model-client": "true"}}}]
    assert ingress["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 8080}]


def test_the_access_job_grants_each_workload_only_what_it_needs():
    run = run_with()
    (job,) = [j for j in objects(run, "Job") if j["metadata"]["name"].startswith("mlops-mlflow-users-converge-")]
    (container,) = job["spec"]["template"]["spec"]["containers"]
    spec = json.loads(container["command"][container["command"].index("--spec") + 1])
    grants = {user["username"]: {(g["resource_type"], g["name"], g["permission"]) for g in user["grants"]}
              for user in spec["users"]}
    assert grants["model-churn"] == {("registered_model", "churn", "READ"), ("experiment", "training/churn", "READ")}
    assert grants["drift-monitor"] == {("registered_model", "churn", "READ"), ("experiment", "training/churn", "READ"),
                                       ("experiment", "monitoring/churn", "EDIT")}
    env = env_of(container)
    assert env["MLFLOW_TRACKING_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == run.outputs["secretNames"][0]["mlflowAdmin"]
    assert all("valueFrom" in env[user["password_env"]] for user in spec["users"]), "passwords only from Secrets"


@pytest.mark.parametrize(("overrides", "message"), [
    ({"servedModels": json.dumps([{"name": "churn", "replicas": 0}])},
     "mlops-platform:servedModels[0] (churn).replicas must be >= 1, got 0"),
    ({"servedModels": json.dumps([{"name": "Churn"}])}, "mlops-platform:servedModels[0] (Churn).name must be a DNS label"),
    ({"servedModels": json.dumps([{"name": "churn", "replica": 2}])},
     "mlops-platform:servedModels[0] (churn) has unknown keys ['replica']"),
    ({"servedModels": json.dumps([{"name": "churn", "cpuRequest": "fast"}])},
     "mlops-platform:servedModels[0] (churn).cpuRequest must be a Kubernetes quantity"),
    ({"servedModels": json.dumps([{"name": "churn", "maxReplicas": 1, "replicas": 2}])},
     "mlops-platform:servedModels[0] (churn).maxReplicas must be 0 (no autoscaling) or >= replicas (2), got 1"),
    ({"servedModels": json.dumps(["churn", "churn"])}, "mlops-platform:servedModels must not serve a model twice"),
    ({"servedModels": json.dumps([{"alias": "x"}])}, "mlops-platform:servedModels [0] must be a name or an object"),
    ({"modelServerReplicas": 0}, "mlops-platform:servedModels[0] (churn).replicas must be >= 1, got 0"),
    ({"modelServerTargetCpuUtilization": 150}, "mlops-platform:modelServerTargetCpuUtilization must be a percentage"),
], ids=lambda value: str(value)[:50])
def test_serving_settings_errors_name_the_key(overrides, message):
    assert message in settings_error(**overrides)
