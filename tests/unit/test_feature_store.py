"""FeastFeatureStore under the mock engine: config without secrets, jobs, server, policies."""

from __future__ import annotations

import yaml

from platform_components.feature_store import (
    apply_command,
    materialize_command,
    repository_files,
    serve_command,
)
from tests.unit.conftest import containers, env_of, objects, one, postgres_host, run_with
from workloads.features.errors import FAIL_FAST_EXIT_CODES, OnlineStoreAuthError, SourceDataError


def repository_config_map(run) -> dict:
    (config,) = [c for c in objects(run, "ConfigMap") if c["metadata"]["name"].startswith("mlops-features-repository-")]
    return config


def apply_job(run) -> dict:
    (job,) = [j for j in objects(run, "Job") if j["metadata"]["name"].startswith("mlops-features-apply-")]
    return job


def test_feature_store_yaml_points_at_the_platform_and_holds_no_secret(stack_run):
    data = repository_config_map(stack_run)["data"]
    config = yaml.safe_load(data["feature_store.yaml"])
    namespace = stack_run.outputs["namespace"][0]
    assert config["project"] == "churn" and config["provider"] == "local"
    assert config["registry"]["registry_type"] == "sql"
    assert config["registry"]["path"] == ("postgresql+psycopg://feast_registry:${FEAST_REGISTRY_PASSWORD}"
                                          f"@{postgres_host(stack_run)}:5432/feast_registry")
    assert config["online_store"] == {"type": "redis", "key_ttl_seconds": 2592000, "skip_dedup": False,
                                      "connection_string": f"redis.{namespace}.svc.cluster.local:6379,password=${{REDIS_PASSWORD}}"}
    assert config["offline_store"] == {"type": "file"}
    assert config["materialization"] == {"online_write_batch_size": 10_000, "pull_latest_features": False}
    assert {name: data[name] for name in repository_files()} == repository_files()
    assert "mock-secret" not in str(data)


def test_feast_containers_take_credentials_from_secrets(stack_run):
    secret_names = stack_run.outputs["secretNames"][0]
    expected = {"FEAST_REGISTRY_PASSWORD": secret_names["featureRegistryDatabase"], "REDIS_PASSWORD": secret_names["redis"],
                "AWS_ACCESS_KEY_ID": secret_names["objectStoreFeast"], "AWS_SECRET_ACCESS_KEY": secret_names["objectStoreFeast"]}
    pods = [apply_job(stack_run)["spec"]["template"]["spec"],
            one(stack_run, "CronJob", "feast-materialize")["spec"]["jobTemplate"]["spec"]["template"]["spec"],
            one(stack_run, "Deployment", "feature-server")["spec"]["template"]["spec"]]
    for pod in pods:
        (container,) = containers(pod)
        env = env_of(container)
        for name, secret in expected.items():
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret, (container["name"], name)
        assert env["AWS_ENDPOINT_URL"]["value"] == stack_run.outputs["s3Endpoint"][0]
        assert env["FEATURE_DATA_URI"]["value"] == "s3://features/churn"
        config_volume = next(v for v in pod["volumes"] if v["name"] == "config")
        assert config_volume["configMap"]["name"] == repository_config_map(stack_run)["metadata"]["name"]


def test_jobs_and_server_run_the_shared_commands(stack_run):
    assert containers(apply_job(stack_run)["spec"]["template"]["spec"])[0]["command"] == apply_command()
    cron = one(stack_run, "CronJob", "feast-materialize")["spec"]
    assert containers(cron["jobTemplate"]["spec"]["template"]["spec"])[0]["command"] == materialize_command()
    server = containers(one(stack_run, "Deployment", "feature-server")["spec"]["template"]["spec"])[0]
    monitored = bool(objects(stack_run, "PodMonitor"))  # Feast's metrics endpoint with a monitoring stack
    assert server["command"] == serve_command(metrics=monitored)
    assert ({"name": "metrics", "containerPort": 8000} in server["ports"]) == monitored
    # Feast's default recycles the only worker every 1,000 requests, refusing connections meanwhile.
    assert server["command"][server["command"].index("--max-requests") + 1] == "0"
    assert server["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert server["startupProbe"]["httpGet"]["path"] == "/health"


def test_materialisation_schedule_and_safety_limits():
    spec = one(run_with(featureStoreMaterializeSchedule="*/15 * * * *"), "CronJob", "feast-materialize")["spec"]
    assert spec["schedule"] == "*/15 * * * *" and spec["timeZone"] == "Etc/UTC"
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 600
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 5)
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] == 2 and job["activeDeadlineSeconds"] == 3000
    rule = job["podFailurePolicy"]["rules"][0]
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == list(FAIL_FAST_EXIT_CODES)
    assert set(FAIL_FAST_EXIT_CODES) == {SourceDataError.exit_code, OnlineStoreAuthError.exit_code} == {3, 4}


def test_a_changed_repository_or_config_reruns_apply_and_rolls_the_server():
    def names(run):
        server = one(run, "Deployment", "feature-server")["spec"]["template"]["spec"]
        job = apply_job(run)["spec"]["template"]["spec"]
        return {next(v for v in pod["volumes"] if v["name"] == "config")["configMap"]["name"] for pod in (server, job)}

    default, changed = names(run_with()), names(run_with(featureStoreOnlineKeyTtlSeconds=86400))
    assert len(default) == len(changed) == 1 and default != changed
    assert names(run_with()) == default, "the ConfigMap name must be stable for unchanged content"


def test_more_than_one_feature_server_gets_a_pdb_and_spread():
    run = run_with(featureServerReplicas=2)
    deployment = one(run, "Deployment", "feature-server")["spec"]
    assert deployment["replicas"] == 2 and "podAntiAffinity" in deployment["template"]["spec"]["affinity"]
    assert one(run, "PodDisruptionBudget", "feature-server")["spec"]["maxUnavailable"] == 1
    assert not [p for p in objects(run_with(), "PodDisruptionBudget") if p["metadata"]["name"] == "feature-server"]


def test_only_feast_reaches_redis_and_only_labelled_clients_reach_the_feature_server(stack_run):
    policies = {p["metadata"]["name"]: p["spec"] for p in objects(stack_run, "NetworkPolicy")}
    redis_clients = [
        rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
        for spec in policies.values()
        if spec["podSelector"].get("matchLabels", {}).get("app.kubernetes.io/name") == "redis" and "ingress" in spec
        for rule in spec["ingress"]
    ]
    exporter = ["redis-exporter"] if objects(stack_run, "ServiceMonitor") else []  # INFO-only ACL user
    assert sorted(redis_clients) == ["feast-apply", "feast-materialize", "feast-server", *exporter]
    server_ingress = policies["feature-clients-to-feature-server-ingress"]["ingress"][0]
    assert server_ingress["from"] == [{"podSelector": {"matchLabels": {"mlops-platform/feature-client": "true"}}}]
    assert server_ingress["ports"] == [{"protocol": "TCP", "port": 6566}]


def test_the_registry_database_is_bootstrapped(stack_run):
    (script,) = [c for c in objects(stack_run, "ConfigMap") if c["metadata"]["name"].startswith("mlops-postgres-bootstrap-")]
    assert "CREATE DATABASE %I OWNER %I', 'feast_registry', 'feast_registry'" in script["data"]["bootstrap.sql"]


def test_the_feature_server_deployment_keeps_its_earlier_logical_name_as_an_alias():
    """Renamed from mlops-features-server to the shared shape's <name>-deployment: without the
    alias, `pulumi up` would replace the Deployment (a rollout from scratch)."""
    run = run_with()
    options = run.options[("kubernetes:apps/v1:Deployment", "mlops-features-deployment")]
    assert options.aliases == ("mlops-features-server",)
