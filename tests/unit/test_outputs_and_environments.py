"""Stack outputs, secrecy, and what differs between the committed environments."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from infra.offline import MOCK_SECRET_PREFIX, load_stack_config
from platform_components import images
from tests.unit.conftest import objects, one, run_with
from tools.synth import manifests, pod_template, synth, totals

EXPECTED_OUTPUTS = {
    "namespace", "mlflowUrl", "mlflowExternalUrl", "s3Endpoint", "buckets", "redisHost",
    "featureServerUrl", "modelServerUrls", "mlflowAdminPassword", "secretNames", "driftCronJobs", "trainingCronJobs", "scoringCronJobs", "backupCronJob",
    "volumeSizes",
}
AZURE_OUTPUTS = {"azureResourceGroup", "aksClusterName", "aksOidcIssuerUrl", "registryLoginServer"}
FLEXIBLE_SERVER_OUTPUTS = {"postgresHost"}
BLOB_ARTIFACT_OUTPUTS = {"mlflowArtifactsUri", "mlflowIdentityClientId"}


def azure_parts(run, parts: dict[str, set[str]]) -> set[str]:
    """What a stack adds for AKS and for each managed store it chose (from its Azure resources)."""
    chosen = set()
    for resource_type, names in parts.items():
        if run.of_type(resource_type):
            chosen |= names
    return chosen


def test_outputs_are_present(stack_run):
    azure = azure_parts(stack_run, {
        "azure-native:containerservice:ManagedCluster": AZURE_OUTPUTS,
        "azure-native:dbforpostgresql:Server": FLEXIBLE_SERVER_OUTPUTS,
        "azure-native:storage:StorageAccount": BLOB_ARTIFACT_OUTPUTS,
    })
    assert set(stack_run.outputs) == EXPECTED_OUTPUTS | azure
    namespace = stack_run.outputs["namespace"][0]
    assert stack_run.outputs["mlflowUrl"][0] == f"http://mlflow.{namespace}.svc.cluster.local:5000"
    assert stack_run.outputs["s3Endpoint"][0] == f"http://s3.{namespace}.svc.cluster.local:9000"
    assert stack_run.outputs["redisHost"][0] == f"redis.{namespace}.svc.cluster.local"
    artifacts = [] if "mlflowArtifactsUri" in stack_run.outputs else ["mlflow-artifacts"]
    assert stack_run.outputs["buckets"][0] == [*artifacts, "monitoring", "features", "backups", "predictions"]


def test_credentials_are_secret_outputs_and_names_are_not(stack_run):
    value, secret = stack_run.outputs["mlflowAdminPassword"]
    assert secret and value.startswith(MOCK_SECRET_PREFIX)
    names, names_secret = stack_run.outputs["secretNames"]
    assert not names_secret
    secret_objects = {s["metadata"]["name"] for s in objects(stack_run, "Secret")}
    assert set(names.values()) <= secret_objects


def test_generated_passwords_are_pulumi_secrets_inside_kubernetes_secrets(stack_run):
    from pulumi.runtime import rpc

    for registration in stack_run.of_type("kubernetes:core/v1:Secret"):
        assert rpc.is_rpc_secret(registration.inputs["stringData"]), registration.name


def test_synth_writes_no_secret_value(stack_run, tmp_path: Path):
    out, summary = synth(stack_run.stack, tmp_path)
    written = summary + "".join(p.read_text() for p in (out / "manifests").glob("*.yaml"))
    assert MOCK_SECRET_PREFIX not in written
    for registration in stack_run.of_type("random:index/randomString:RandomString"):
        assert registration.state["result"] not in written, "access key ids are credentials too"


def test_synth_keeps_whole_numbers_as_integers(stack_run, tmp_path: Path):
    out, _ = synth(stack_run.stack, tmp_path)
    deployment = (out / "manifests" / "deployment-mlflow.yaml").read_text()
    assert re.search(r"^  replicas: \d+$", deployment, re.MULTILINE)
    assert not re.search(r"(Seconds|Threshold|replicas|Port|port|Mode): \d+\.0$", deployment, re.MULTILINE)


def test_dev_fits_a_default_minikube_beside_its_system_pods():
    """`minikube start --cpus 2 --memory 4g`, of which minikube's own pods request 0.75 CPU
    (tools/cluster/kwok.py lists them): every pod of the dev stack, model server, Jobs and CronJobs included, all at once, must stay
    within 1.5 CPU and 3 GiB of requests, or something stays Pending (and `pulumi up` waits)."""
    objects = manifests(run_with("dev"))
    steady, jobs = totals(objects)
    assert any(m["kind"] == "Deployment" and m["metadata"]["name"] == "model-churn" for m in objects)
    assert steady.values["requests.cpu"] + jobs.values["requests.cpu"] <= 1.5
    assert steady.values["requests.memory"] + jobs.values["requests.memory"] <= 3 * 2**30


def test_ha_example_differs_from_dev_only_where_its_stack_file_says():
    dev, ha = run_with("dev"), run_with("ha-example")
    assert one(dev, "StatefulSet", "s3")["spec"]["template"]["spec"]["containers"][0]["name"] == "minio"
    assert one(ha, "StatefulSet", "s3")["spec"]["template"]["spec"]["containers"][0]["name"] == "seaweedfs"
    assert one(dev, "Deployment", "mlflow")["spec"]["replicas"] == 1
    assert one(ha, "Deployment", "mlflow")["spec"]["replicas"] == 2
    # MLflow's and the two-replica model server's.
    assert len(objects(ha, "PodDisruptionBudget")) == 2 and objects(dev, "PodDisruptionBudget") == []
    assert dev.outputs["namespace"][0] == "mlops" and ha.outputs["namespace"][0] == "mlops-ha"


def test_stateful_resources_are_protected_where_the_stack_asks():
    ha = run_with("ha-example")
    protected = {name for (typ, name), options in ha.options.items() if options.protect}
    assert protected == {
        "mlops-namespace",
        "mlops-postgres-statefulset",
        "mlops-object-store-statefulset",
        "mlops-redis-statefulset",
    }
    assert not any(options.protect for options in run_with("dev").options.values())


def test_volume_claims_outlive_their_statefulsets(stack_run):
    for statefulset in objects(stack_run, "StatefulSet"):
        policy = statefulset["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert policy == {"whenDeleted": "Retain", "whenScaled": "Retain"}


def test_components_use_the_mlops_platform_type_tokens(stack_run):
    components = {r.typ for r in stack_run.resources if not r.custom}
    azure = azure_parts(stack_run, {
        "azure-native:containerservice:ManagedCluster": {"mlops:infra:AksCluster"},
        "azure-native:dbforpostgresql:Server": {"mlops:infra:FlexiblePostgres"},
        "azure-native:storage:StorageAccount": {"mlops:infra:BlobArtifactStore"},
    })
    assert components == {
        "mlops:platform:MlopsPlatform", "mlops:platform:Namespace", "mlops:platform:PostgresDatabase",
        "mlops:platform:ObjectStore", "mlops:platform:MlflowTrackingServer", "mlops:platform:RedisOnlineStore",
        "mlops:platform:NetworkPolicies", "mlops:platform:DriftMonitor", "mlops:platform:FeastFeatureStore",
        "mlops:platform:PostgresBackup", "mlops:platform:MlflowUsers",
    } | azure | ({"mlops:platform:ModelServer"} if stack_run.outputs["modelServerUrls"][0] else set()) | (
        {"mlops:platform:ModelTraining"} if stack_run.outputs["trainingCronJobs"][0] else set()) | (
        {"mlops:platform:BatchScoring"} if stack_run.outputs["scoringCronJobs"][0] else set()) | (
        {"mlops:platform:Monitoring"} if any(r.typ.startswith("kubernetes:monitoring.coreos.com") for r in stack_run.resources)
        else set())


def test_mlflow_image_matches_the_mlflow_pin_in_requirements():
    requirements = (Path(__file__).resolve().parents[2] / "requirements-dev.txt").read_text()
    pinned = re.search(r"^mlflow(?:\[[a-z,]+\])?==(\S+)$", requirements, re.MULTILINE)
    assert pinned, "requirements-dev.txt must pin mlflow"
    assert f"ghcr.io/mlflow/mlflow:v{pinned.group(1)}-full" == images.MLFLOW


def secret_references(manifest: dict) -> list[tuple[str, str | None, bool]]:
    """(Secret name, key or None for the whole Secret, optional) for every reference in a pod
    template: env `secretKeyRef`, `envFrom` `secretRef`, and secret or projected volumes."""
    pod = pod_template(manifest)
    if pod is None:
        return []
    found = []
    for container in pod.get("initContainers", []) + pod.get("containers", []):
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                found.append((ref["name"], ref["key"], ref.get("optional", False)))
        for source in container.get("envFrom", []):
            if "secretRef" in source:
                found.append((source["secretRef"]["name"], None, source["secretRef"].get("optional", False)))
    for volume in pod.get("volumes", []):
        sources = [volume] + volume.get("projected", {}).get("sources", [])
        for source in sources:
            secret = source.get("secret")
            if secret:
                name = secret.get("secretName") or secret.get("name")
                keys = [item["key"] for item in secret.get("items", [])] or [None]
                found += [(name, key, secret.get("optional", False)) for key in keys]
    return found


def test_every_secret_reference_resolves_in_the_rendered_manifests(stack_run, tmp_path: Path):
    """What `make synth` writes applies: each Secret a pod reads is rendered with the key it reads
    (a key-less Secret would apply and then leave the pod in CreateContainerConfigError). Secrets
    the platform does not own (the retrain hook's, written by the pipeline) are named in the stack."""
    out, _ = synth(stack_run.stack, tmp_path)
    rendered = [yaml.safe_load(p.read_text()) for p in (out / "manifests").glob("*.yaml")]
    secrets = {m["metadata"]["name"]: set(m.get("stringData", {})) | set(m.get("data", {}))
               for m in rendered if m["kind"] == "Secret"}
    config, _ = load_stack_config(stack_run.stack)
    external = {value for key, value in config.items() if key.endswith("Secret") and value}
    references = [(m["metadata"]["name"], ref) for m in rendered for ref in secret_references(m)]
    assert references, "the platform's pods read their credentials from Secrets"
    for owner, (name, key, optional) in references:
        if optional or name in external:
            continue
        assert name in secrets, f"{owner} reads Secret {name}, which is not rendered"
        assert not {"<", ">"} & secrets[name], f"Secret {name} is rendered with placeholder characters as keys"
        assert key is None or key in secrets[name], f"{owner} reads key {key!r} of Secret {name}: it has {sorted(secrets[name])}"
