"""The components are wired to each other: names, endpoints and Secrets line up."""

from __future__ import annotations

import json

from infra.offline import MOCK_SECRET_PREFIX
from tests.unit.conftest import env_of, objects, one, postgres_host, run_with, workloads_image


def mlflow_containers(run) -> dict:
    pod = one(run, "Deployment", "mlflow")["spec"]["template"]["spec"]
    return {c["name"]: c for c in pod["initContainers"] + pod["containers"]}


def test_mlflow_backend_store_is_the_postgres_service_and_secret(stack_run):
    server = mlflow_containers(stack_run)["mlflow"]
    command = server["command"]
    expected = f"postgresql://mlflow@{postgres_host(stack_run)}:5432/mlflow"
    assert command[command.index("--backend-store-uri") + 1] == expected
    password = env_of(server)["PGPASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": stack_run.outputs["secretNames"][0]["mlflowDatabase"], "key": "password"}
    if "postgresHost" in stack_run.outputs:  # a managed server: TLS required, no in-cluster Postgres
        assert env_of(server)["PGSSLMODE"]["value"] == "require"
        assert not [s for s in objects(stack_run, "StatefulSet") if s["metadata"]["name"] == "postgres"]
    else:
        assert one(stack_run, "Service", "postgres")["spec"]["ports"][0]["port"] == 5432
        assert "PGSSLMODE" not in env_of(server)


def test_mlflow_upgrades_the_same_database_before_serving(stack_run):
    containers = mlflow_containers(stack_run)
    command = containers["mlflow"]["command"]
    uri = command[command.index("--backend-store-uri") + 1]
    assert containers["db-upgrade"]["command"] == ["mlflow", "db", "upgrade", uri]
    assert containers["db-upgrade"]["env"] == containers["mlflow"]["env"]


def test_mlflow_serves_artifacts_from_the_object_store(stack_run):
    server = mlflow_containers(stack_run)["mlflow"]
    command, env = server["command"], env_of(server)
    assert "--serve-artifacts" in command
    if "mlflowArtifactsUri" in stack_run.outputs:  # Azure Blob: tests/unit/test_azure.py
        return
    assert command[command.index("--artifacts-destination") + 1] == "s3://mlflow-artifacts"
    assert env["MLFLOW_S3_ENDPOINT_URL"]["value"] == stack_run.outputs["s3Endpoint"][0]
    client_secret = stack_run.outputs["secretNames"][0]["objectStoreMlflow"]
    assert env["AWS_ACCESS_KEY_ID"]["valueFrom"]["secretKeyRef"]["name"] == client_secret
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == client_secret


def test_mlflow_runs_basic_auth_with_a_generated_admin_password(stack_run):
    server = mlflow_containers(stack_run)["mlflow"]
    command, env = server["command"], env_of(server)
    assert command[command.index("--app-name") + 1] == "basic-auth"
    admin_secret = stack_run.outputs["secretNames"][0]["mlflowAdmin"]
    assert env["MLFLOW_AUTH_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == admin_secret
    assert "password1234" not in json.dumps(objects(stack_run))
    auth_config_secret = [v for v in one(stack_run, "Deployment", "mlflow")["spec"]["template"]["spec"]["volumes"] if v["name"] == "auth-config"]
    assert auth_config_secret[0]["secret"]["secretName"].startswith("mlops-mlflow-auth-config-")


def test_mlflow_auth_database_is_its_own_role_and_database(stack_run):
    registration = [r for r in stack_run.of_type("kubernetes:core/v1:Secret") if r.name == "mlops-mlflow-auth-config"][0]
    ini = str(registration.inputs["stringData"])
    assert f"postgresql://mlflow_auth:{MOCK_SECRET_PREFIX}mlops-postgres-mlflow-auth-password@{postgres_host(stack_run)}:5432/mlflow_auth" in ini
    assert "default_permission = NO_PERMISSIONS" in ini


def test_mlflow_accepts_only_its_own_host_names(stack_run):
    command = mlflow_containers(stack_run)["mlflow"]["command"]
    hosts = command[command.index("--allowed-hosts") + 1].split(",")
    namespace = stack_run.outputs["namespace"][0]
    assert f"mlflow.{namespace}.svc.cluster.local:5000" in hosts
    assert "*" not in hosts


def test_postgres_bootstrap_creates_each_app_role_from_its_secret(stack_run):
    (job,) = [j for j in objects(stack_run, "Job") if j["metadata"]["name"].startswith("mlops-postgres-bootstrap-")]
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = env_of(container)
    assert env["PGHOST"]["value"] == postgres_host(stack_run)
    assert env["APP_PASSWORD_MLFLOW"]["valueFrom"]["secretKeyRef"]["name"].startswith("mlops-postgres-mlflow-")
    assert env["APP_PASSWORD_MLFLOW_AUTH"]["valueFrom"]["secretKeyRef"]["name"].startswith("mlops-postgres-mlflow-auth-")
    (script,) = [c for c in objects(stack_run, "ConfigMap") if c["metadata"]["name"].startswith("mlops-postgres-bootstrap-")]
    sql = script["data"]["bootstrap.sql"]
    assert "\\getenv pw_mlflow APP_PASSWORD_MLFLOW" in sql and "\\getenv pw_mlflow_auth APP_PASSWORD_MLFLOW_AUTH" in sql


def test_bucket_job_targets_the_object_store_endpoint_with_admin_credentials(stack_run):
    (job,) = [j for j in objects(stack_run, "Job") if j["metadata"]["name"].startswith("mlops-object-store-buckets-")]
    container = job["spec"]["template"]["spec"]["containers"][0]
    args = container["args"]
    assert args[:2] == ["-m", "workloads.buckets"]
    assert args[args.index("--endpoint-url") + 1] == stack_run.outputs["s3Endpoint"][0]
    assert [args[i + 1] for i, a in enumerate(args) if a == "--bucket"] == stack_run.outputs["buckets"][0]
    admin = stack_run.outputs["secretNames"][0]["objectStoreAdmin"]
    assert env_of(container)["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == admin
    assert container["image"] == workloads_image(stack_run)


def test_both_s3_engines_listen_on_the_service_port():
    """The s3 Service is headless (it governs the StatefulSet), so it maps no ports: each engine
    listens on 9000 itself, and the policies open exactly that port."""
    for engine in ("minio", "seaweedfs"):
        run = run_with(objectStoreEngine=engine)
        statefulset = one(run, "StatefulSet", "s3")
        (container,) = statefulset["spec"]["template"]["spec"]["containers"]
        assert container["name"] == engine
        assert container["ports"] == [{"containerPort": 9000, "name": "s3"}]
        assert one(run, "Service", "s3")["spec"]["ports"] == [{"name": "s3", "port": 9000, "targetPort": "s3"}]
        egress = one(run, "NetworkPolicy", "mlflow-to-object-store-egress")
        assert egress["spec"]["egress"][0]["ports"] == [{"port": 9000, "protocol": "TCP"}]


def test_every_statefulset_is_governed_by_a_headless_service_of_its_pods(stack_run):
    """Stable pod DNS needs the StatefulSet's serviceName to be a headless Service selecting its
    pods; headless Services do not map ports, so each port is one the pods listen on."""
    for statefulset in objects(stack_run, "StatefulSet"):
        governing = one(stack_run, "Service", statefulset["spec"]["serviceName"])["spec"]
        pod = statefulset["spec"]["template"]
        assert governing["clusterIP"] == "None"
        assert governing["selector"].items() <= pod["metadata"]["labels"].items()
        listening = {(p["name"], p["containerPort"]) for c in pod["spec"]["containers"] for p in c.get("ports", [])}
        assert {(p["targetPort"], p["port"]) for p in governing["ports"]} <= listening


def test_minio_gets_four_drives_for_erasure_coded_versioning():
    statefulset = one(run_with(objectStoreEngine="minio", objectStoreStorageSize="40Gi"), "StatefulSet", "s3")
    claims = statefulset["spec"]["volumeClaimTemplates"]
    assert [c["metadata"]["name"] for c in claims] == ["data0", "data1", "data2", "data3"]
    assert {c["spec"]["resources"]["requests"]["storage"] for c in claims} == {"10Gi"}
    assert statefulset["spec"]["template"]["spec"]["containers"][0]["args"][-1] == "/data{0...3}"


def test_seaweedfs_gives_mlflow_its_own_credentials_limited_to_its_bucket():
    run = run_with(objectStoreEngine="seaweedfs")
    registration = [r for r in run.of_type("kubernetes:core/v1:Secret") if r.name == "mlops-object-store-s3-config"][0]
    from pulumi.runtime import rpc

    config = json.loads(rpc.unwrap_rpc_secret(registration.inputs["stringData"])["s3.json"])
    by_name = {identity["name"]: identity for identity in config["identities"]}
    assert set(by_name) == {"admin", "mlflow", "drift", "feast", "backup", "model-churn",
                            "training"}, "no anonymous identity"
    assert set(by_name["training"]["actions"]) == {"Read:features", "List:features"}
    assert set(by_name["mlflow"]["actions"]) == {f"{a}:mlflow-artifacts" for a in ("Read", "Write", "List", "Tagging")}
    assert by_name["model-churn"]["actions"] == ["Write:monitoring/churn/*"], "a model server only appends its own log"
    secrets = run.outputs["secretNames"][0]
    assert secrets["objectStoreMlflow"] != secrets["objectStoreAdmin"]


def test_redis_keeps_data_with_aof_and_refuses_writes_before_its_limit(stack_run):
    (config,) = [c for c in objects(stack_run, "ConfigMap") if c["metadata"]["name"].startswith("mlops-redis-config-")]
    conf = config["data"]["redis.conf"]
    assert "appendonly yes" in conf and "appendfsync everysec" in conf
    assert "maxmemory-policy noeviction" in conf
    limit = one(stack_run, "StatefulSet", "redis")["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    from platform_components.quantities import parse_quantity

    maxmemory = int(next(line.split()[1] for line in conf.splitlines() if line.startswith("maxmemory ")))
    assert maxmemory < parse_quantity(limit)
    assert "requirepass" not in conf, "the password belongs in the Secret, not the ConfigMap"


def test_pdb_and_anti_affinity_only_with_more_than_one_mlflow_replica():
    single, double = run_with(mlflowReplicas=1), run_with(mlflowReplicas=2)
    assert objects(single, "PodDisruptionBudget") == []
    (pdb,) = objects(double, "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == 1
    assert "affinity" in one(double, "Deployment", "mlflow")["spec"]["template"]["spec"]
    assert "affinity" not in one(single, "Deployment", "mlflow")["spec"]["template"]["spec"]


def test_ingress_only_when_a_host_is_configured():
    assert objects(run_with(), "Ingress") == []
    run = run_with(mlflowIngressHost="mlflow.example.org")
    (ingress,) = objects(run, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "mlflow.example.org"
    command = one(run, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"][0]["command"]
    assert "mlflow.example.org" in command[command.index("--allowed-hosts") + 1].split(",")
    assert run.outputs["mlflowExternalUrl"][0] == "http://mlflow.example.org"
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/proxy-body-size"] == str(2 * 2**30)  # mlflowMaxArtifactSize
    assert annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] == "off"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 600
    assert "tls" not in ingress["spec"] and "nginx.ingress.kubernetes.io/force-ssl-redirect" not in annotations


def test_ingress_tls_from_an_existing_secret_or_cert_manager_redirects_plain_http():
    existing = run_with(mlflowIngressHost="mlflow.example.org", mlflowIngressTlsSecret="mlflow-cert")
    (ingress,) = objects(existing, "Ingress")
    assert ingress["spec"]["tls"] == [{"hosts": ["mlflow.example.org"], "secretName": "mlflow-cert"}]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"]
    assert existing.outputs["mlflowExternalUrl"][0] == "https://mlflow.example.org"

    issued = run_with(mlflowIngressHost="mlflow.example.org", mlflowIngressClusterIssuer="letsencrypt")
    (ingress,) = objects(issued, "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert ingress["spec"]["tls"] == [{"hosts": ["mlflow.example.org"], "secretName": "mlflow-tls"}]


def test_mlflow_loads_the_proxied_artifacts_plugin_and_sizes_its_scratch_from_config():
    from platform_components.mlflow_server import PLUGIN_DIR, plugin_files

    run = run_with(mlflowScratchSize="6Gi")
    pod = one(run, "Deployment", "mlflow")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["tmp"]["emptyDir"]["sizeLimit"] == "6Gi"
    plugins = volumes["plugins"]["configMap"]
    (config_map,) = [c for c in objects(run, "ConfigMap") if c["metadata"]["name"] == plugins["name"]]
    files = {item["path"]: config_map["data"][item["key"]] for item in plugins["items"]}
    assert files == plugin_files()
    assert "s3 = proxied_artifacts:ProxiedS3ArtifactRepository" in files[next(p for p in files if p.endswith("entry_points.txt"))]
    server = mlflow_containers(run)["mlflow"]
    env = env_of(server)
    assert env["PYTHONPATH"]["value"] == PLUGIN_DIR and env["TMPDIR"]["value"] == "/tmp"
    mounts = {m["name"]: m for m in server["volumeMounts"]}
    assert mounts["plugins"]["mountPath"] == PLUGIN_DIR and mounts["plugins"]["readOnly"] is True
    assert mounts["tmp"]["mountPath"] == "/tmp"


def test_changed_content_renames_auto_named_configmaps_so_pods_roll():
    def redis_config_name(run):
        return next(c["metadata"]["name"] for c in objects(run, "ConfigMap") if c["metadata"]["name"].startswith("mlops-redis-config-"))

    assert redis_config_name(run_with(redisMemoryLimit="512Mi")) != redis_config_name(run_with(redisMemoryLimit="1Gi"))
    assert redis_config_name(run_with()) == redis_config_name(run_with())


def test_services_and_workloads_have_stable_explicit_names(stack_run):
    for kind in ("Service", "StatefulSet", "Deployment"):
        for manifest in objects(stack_run, kind):
            assert manifest["metadata"]["name"] in {"postgres", "s3", "mlflow", "redis", "feature-server", "model-churn",
                                                    "pushgateway", "postgres-exporter", "redis-exporter"}


def test_every_object_carries_the_recommended_labels(stack_run):
    for manifest in objects(stack_run):
        labels = manifest["metadata"].get("labels", {})
        for key in ("name", "instance", "component", "part-of", "managed-by"):
            assert f"app.kubernetes.io/{key}" in labels, (manifest["kind"], manifest["metadata"]["name"], key)
        assert labels["mlops-platform/environment"] == stack_run.stack
