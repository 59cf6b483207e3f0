"""Bad stack configuration fails at preview, naming the key, the value and what is allowed."""

from __future__ import annotations

import shutil

import pulumi
import pytest

from infra.offline import ROOT, load_stack_config, run_offline
from infra.settings import PROJECT, SETTINGS_CLASSES, SettingsError, declared_settings, load_settings
from infra.stack_reader import StackReader, entry_class, keyed_fields


def settings_error(stack: str = "dev", secrets: dict[str, str] | None = None, **overrides) -> str:
    with pytest.raises(SettingsError) as caught:
        run_offline(stack, overrides, secret_overrides=secrets)
    return str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"mlflowReplicas": 0}, "mlops-platform:mlflowReplicas must be >= 1, got 0"),
        ({"mlflowWorkers": 0}, "mlops-platform:mlflowWorkers must be >= 1, got 0"),
        ({"mlflowAuthCacheSeconds": -1}, "mlops-platform:mlflowAuthCacheSeconds must be >= 0, got -1"),
        ({"mlflowAuthCacheSeconds": 86400}, "mlops-platform:mlflowAuthCacheSeconds must be at most 3600"),
        ({"objectStoreEngine": "ceph"}, "mlops-platform:objectStoreEngine must be one of minio, seaweedfs, got 'ceph'"),
        ({"clusterTarget": "gke"}, "mlops-platform:clusterTarget must be one of minikube, kubeconfig, aks, got 'gke'"),
        ({"namespace": "MLOps"}, "mlops-platform:namespace must be a DNS label"),
        ({"podSecurityVersion": "latest"}, "mlops-platform:podSecurityVersion must be a pinned Kubernetes minor version"),
        ({"workloadsImageTag": "latest"}, "mlops-platform:workloadsImageTag must not use the 'latest' tag"),
        ({"postgresMemoryRequest": "lots"}, "mlops-platform:postgresMemoryRequest must be a Kubernetes quantity"),
        ({"mlflowCpuRequest": "0"}, "mlops-platform:mlflowCpuRequest must be > 0, got '0'"),
        ({"redisMemoryRequest": "2Gi"}, "mlops-platform:redisMemoryRequest must not exceed the memory limit (512Mi), got 2Gi"),
        ({"postgresStorageSize": "big"}, "mlops-platform:postgresStorageSize must be a Kubernetes quantity"),
        ({"runAsUser": 0}, "mlops-platform:runAsUser must be a non-root UID (>= 1), got 0"),
        ({"mlflowIngressHost": "http://mlflow.example/"}, "mlops-platform:mlflowIngressHost must be a bare host name"),
        ({"mlflowScratchSize": "1Gi"}, "mlops-platform:mlflowScratchSize must hold the largest artifact (2Gi)"),
        ({"mlflowMaxArtifactSize": "huge"}, "mlops-platform:mlflowMaxArtifactSize must be a Kubernetes quantity"),
        ({"mlflowIngressTlsSecret": "mlflow-cert"}, "mlops-platform:mlflowIngressTlsSecret needs an Ingress: set mlflowIngressHost"),
        ({"mlflowIngressHost": "m.example", "mlflowIngressClusterIssuer": "Lets_Encrypt"},
         "mlops-platform:mlflowIngressClusterIssuer must be a Kubernetes object name"),
        ({"mlflowExtraAllowedHosts": '{"a": 1}'}, "mlops-platform:mlflowExtraAllowedHosts must be a list of strings"),
        ({"mlflowReplicas": "two"}, "'mlops-platform:mlflowReplicas' value 'two' is not a valid 'int'"),
        ({"ingressControllerNamespace": "Ingress_Nginx"}, "mlops-platform:ingressControllerNamespace must be a DNS label"),
        ({"clusterTarget": "kubeconfig", "kubeconfig": ""}, "mlops-platform:kubeconfig must be set when clusterTarget is kubeconfig"),
        ({"featureStoreMaterializeSchedule": "hourly"},
         "mlops-platform:featureStoreMaterializeSchedule must be a five-field cron expression, got 'hourly'"),
        ({"featureStoreOnlineKeyTtlSeconds": 10}, "mlops-platform:featureStoreOnlineKeyTtlSeconds must be >= 60, got 10"),
        ({"featureServerReplicas": 0}, "mlops-platform:featureServerReplicas must be >= 1, got 0"),
        ({"featureJobMemoryLimit": "1Mi"}, "mlops-platform:featureJobMemoryRequest must not exceed the memory limit (1Mi)"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_invalid_value_is_reported_under_its_key(overrides, message):
    assert message in settings_error(**overrides)


def test_unknown_key_is_rejected_with_a_suggestion():
    message = settings_error(mlflowReplica=2)
    assert "mlops-platform:mlflowReplica is not a setting of this project" in message
    assert "did you mean mlops-platform:mlflowReplicas?" in message


def stack_file_error(tmp_path, text: str) -> str:
    """The error of a stack file as a user writes it (beside a copy of the project's Pulumi.yaml)."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.typo.yaml").write_text(text)
    with pytest.raises(SettingsError) as caught:
        run_offline("typo", root=tmp_path)
    return str(caught.value)


@pytest.mark.parametrize(("line", "message"), [
    ("mlops-platfrom:mlflowReplicas: 2",
     "mlops-platfrom:mlflowReplicas is in namespace 'mlops-platfrom', which nothing reads; did you mean mlops-platform:mlflowReplicas?"),
    ("mlops_platform:mlflowReplicas: 2", "did you mean mlops-platform:mlflowReplicas?"),
    ("mlflowReplicas: 2", "'mlflowReplicas' has no namespace, so nothing reads it; write mlops-platform:mlflowReplicas"),
])
def test_a_key_meant_for_the_project_but_outside_its_namespace_is_rejected(tmp_path, line, message):
    assert message in stack_file_error(tmp_path, f"config:\n  {line}\n")


def test_keys_of_other_namespaces_are_left_to_their_providers(tmp_path):
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "Pulumi.other.yaml").write_text("config:\n  kubernetes:context: minikube\n  azure-native:location: westeurope\n")
    run_offline("other", root=tmp_path)


@pytest.mark.parametrize("value", ["churn", "'churn, fraud'", "{name: churn}"])
def test_a_list_setting_given_something_else_shows_the_form_it_takes(tmp_path, value):
    message = stack_file_error(tmp_path, f"config:\n  mlops-platform:driftModels: {value}\n")
    assert "mlops-platform:driftModels must be a list of strings, written in Pulumi.<stack>.yaml as" in message
    assert "- first" in message and "is not a valid 'JSON object'" not in message


def test_azure_zones_may_be_written_as_numbers():
    run = run_offline("qa", {"aksZones": [1, 2, 3]})
    cluster = run.named("azure-native:containerservice:ManagedCluster", "aks-cluster")
    assert [pool["availabilityZones"] for pool in cluster.inputs["agentPoolProfiles"]] == [["1", "2", "3"]] * 2


def test_kubeconfig_in_plain_text_is_rejected():
    message = settings_error(clusterTarget="kubeconfig", kubeconfig="apiVersion: v1")
    assert "mlops-platform:kubeconfig holds a credential and must be stored encrypted" in message


def test_every_problem_is_reported_at_once():
    message = settings_error(mlflowReplicas=0, objectStoreEngine="ceph", mlflowReplica=1)
    assert message.count("\n  - ") == 3


def test_secret_kubeconfig_selects_the_kubeconfig_provider():
    run = run_offline("dev", {"clusterTarget": "kubeconfig"}, secret_overrides={"kubeconfig": "apiVersion: v1"})
    provider = run.named("pulumi:providers:kubernetes", "cluster")
    assert provider.inputs["kubeconfig"] != "apiVersion: v1", "kubeconfig must reach the provider as a secret"


def test_minikube_target_uses_the_configured_context():
    run = run_offline("dev", {"kubeContext": "my-minikube"})
    assert run.named("pulumi:providers:kubernetes", "minikube").inputs["context"] == "my-minikube"


def test_openshift_leaves_uids_to_the_platform():
    run = run_offline("dev", {"openShift": True})
    for registration in run.kubernetes():
        assert "runAsUser" not in str(registration.inputs), registration.name


def test_settings_read_exactly_the_keys_declared_in_pulumi_yaml():
    """Pulumi.yaml is the schema: no key is read without a declaration, none declared unused
    (the Azure keys are read by the stacks that provision AKS with both managed stores)."""
    read: set[str] = set()
    for stack in ("dev", "prod"):
        config, secret_keys = load_stack_config(stack)
        reader = StackReader(PROJECT)
        pulumi.runtime.set_mocks(_NoMocks(), project=PROJECT, stack=stack)
        pulumi.runtime.set_all_config(config, secret_keys)
        load_settings(reader)
        read |= reader.read_keys
    assert read == set(declared_settings())


PULUMI_TYPES = {str: "string", int: "integer", bool: "boolean", tuple[str, ...]: "array", str | None: "string",
                dict[str, str]: "object"}


def pulumi_type(hint) -> str | None:
    """None for a list of entries: each a name or an object, which Pulumi's project types cannot say."""
    return None if entry_class(hint) is not None else PULUMI_TYPES[hint]


def test_each_key_is_declared_once_next_to_its_field_with_the_type_of_pulumi_yaml():
    """Field metadata is the only map from fields to keys: every Pulumi.yaml key is set by exactly
    one field of the settings classes, whose annotation agrees with the key's declared type."""
    seen: dict[str, object] = {}
    for cls in SETTINGS_CLASSES:
        for key, hint in keyed_fields(cls).items():
            assert key not in seen or seen[key] == hint, f"{key} declared with two types"
            seen[key] = hint
    declared = declared_settings()
    assert set(seen) == set(declared)
    for key, hint in seen.items():
        expected = "string" if key == "kubeconfig" else pulumi_type(hint)
        assert declared[key].get("type") == expected, key


def test_option_classes_carry_no_default_of_their_own():
    """Pulumi.yaml is the one home of a stack-tunable default: keyed fields have none."""
    from dataclasses import MISSING, fields
    from typing import get_type_hints

    from platform_components import stack_keys

    def check(cls) -> None:
        hints = get_type_hints(cls)
        for field in fields(cls):
            if stack_keys.KEY in field.metadata or stack_keys.PREFIX in field.metadata:
                assert field.default is MISSING and field.default_factory is MISSING, f"{cls.__name__}.{field.name}"
            if stack_keys.PREFIX in field.metadata:
                check(hints[field.name])  # a setting group (Resources, AksOptions, ...)
            elif (entry := entry_class(hints[field.name])) is not None:
                check(entry)  # the entries of a list setting (ServedModel)

    for cls in SETTINGS_CLASSES:
        check(cls)


def test_every_declared_setting_has_a_default_and_description_and_a_type_the_cli_accepts():
    """The Pulumi CLI refuses a project file whose array setting has no `items` type
    (workspace.Project.Validate); lists of entries go untyped (see pulumi_type)."""
    for name, declaration in declared_settings().items():
        assert {"default", "description"} <= set(declaration), name
        if declaration.get("type") == "array":
            assert declaration.get("items", {}).get("type"), f"{name}: an array needs `items: {{type: ...}}`"


class _NoMocks(pulumi.runtime.Mocks):
    def new_resource(self, args):
        return None, {}

    def call(self, args):
        return {}, None


def test_a_bad_group_does_not_hide_the_other_problems_of_its_class():
    message = settings_error(mlflowCpuRequest="lots", mlflowReplicas=0)
    assert "mlops-platform:mlflowCpuRequest must be a Kubernetes quantity" in message
    assert "mlops-platform:mlflowReplicas must be >= 1, got 0" in message


def test_a_bad_store_choice_does_not_hide_the_aks_problems():
    message = settings_error("prod", postgresEngine="bogus", aksSystemNodeCount=0)
    assert "mlops-platform:postgresEngine must be one of" in message
    assert "mlops-platform:aksSystemNodeCount must be >= 1, got 0" in message


def test_openshift_ignores_run_as_user_as_documented():
    run = run_offline("dev", {"openShift": True, "runAsUser": 0})
    assert run.outputs["namespace"][0] == "mlops"


def test_a_flexible_server_too_small_for_mlflows_connection_pools_fails_at_preview():
    message = settings_error("qa", postgresFlexibleSku="Standard_B1ms")
    assert "mlops-platform:postgresFlexibleSku Standard_B1ms allows 35 user connections, but MLflow may open 180" in message
    assert "mlops-platform:mlflowWorkers" in message
    run_offline("qa", {"postgresFlexibleSku": "Standard_B2s"})  # 414 connections hold (1 + 1) x 2 x 45 + 10
    run_offline("prod", {})  # D2ds_v5: 844 hold (2 + 1) replicas x 4 workers x 45 = 540, plus 10
