"""The qa and prod stacks on Azure: AKS, registry, Flexible Server and Blob artifacts, under mocks."""

from __future__ import annotations

import ipaddress

import pytest
import yaml
from mlflow.store.artifact.azure_blob_artifact_repo import AzureBlobArtifactRepository
from pulumi.runtime import rpc

from infra.aks import ACR_PULL_ROLE, MAINTENANCE_CONFIGS, with_kubelogin_mode
from infra.azure_blob import STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE, TOKEN_AUDIENCE
from infra.offline import MOCK_AKS_KUBECONFIG, OfflineRun, run_offline
from tests.unit.conftest import _stack_run, env_of, objects, one
from tests.unit.test_settings import settings_error

AZURE_STACKS = ("test", "qa", "prod")
MANAGED_STORE_STACKS = ("qa", "prod")  # Flexible Server and Blob artifacts; test keeps both in the cluster
STATEFUL = (
    "azure-native:dbforpostgresql:Server",
    "azure-native:dbforpostgresql:Database",
    "azure-native:storage:StorageAccount",
    "azure-native:storage:BlobContainer",
)


@pytest.fixture(params=AZURE_STACKS)
def azure_run(request) -> OfflineRun:
    return _stack_run(request.param)


@pytest.fixture(params=MANAGED_STORE_STACKS)
def managed_run(request) -> OfflineRun:
    return _stack_run(request.param)


def single(run: OfflineRun, typ: str):
    (registration,) = run.of_type(f"azure-native:{typ}")
    return registration


def cluster(run: OfflineRun) -> dict:
    return single(run, "containerservice:ManagedCluster").inputs


def pools(run: OfflineRun) -> dict[str, dict]:
    return {pool["name"]: pool for pool in cluster(run)["agentPoolProfiles"]}


def test_aks_has_overlay_networking_with_enforced_network_policy(azure_run):
    network = cluster(azure_run)["networkProfile"]
    assert network["networkPlugin"] == "azure" and network["networkPluginMode"] == "overlay"
    assert network["networkPolicy"] == "cilium" and network["networkDataplane"] == "cilium"
    vnet = ipaddress.IPv4Network(single(azure_run, "network:VirtualNetwork").inputs["addressSpace"]["addressPrefixes"][0])
    for outside in ("podCidr", "serviceCidr"):
        assert not ipaddress.IPv4Network(network[outside]).overlaps(vnet)
    assert ipaddress.IPv4Address(network["dnsServiceIP"]) in ipaddress.IPv4Network(network["serviceCidr"])
    subnets = {s.inputs["subnetName"]: s.inputs for s in azure_run.of_type("azure-native:network:Subnet")}
    assert set(subnets) == {"nodes", "postgres", "private-endpoints"}
    assert all(ipaddress.IPv4Network(s["addressPrefix"]).subnet_of(vnet) for s in subnets.values())
    node_subnet_id = pools(azure_run)["system"]["vnetSubnetID"]
    assert node_subnet_id == pools(azure_run)["user"]["vnetSubnetID"] and node_subnet_id.endswith("/aks-nodes")


def test_aks_identity_rbac_upgrades_and_monitoring(azure_run):
    inputs = cluster(azure_run)
    assert inputs["oidcIssuerProfile"] == {"enabled": True}
    assert inputs["securityProfile"]["workloadIdentity"] == {"enabled": True}
    assert inputs["aadProfile"]["managed"] and inputs["aadProfile"]["enableAzureRBAC"]
    assert inputs["aadProfile"]["adminGroupObjectIDs"] == ["11111111-2222-3333-4444-555555555555"]
    assert inputs["enableRBAC"] is True
    assert inputs["autoUpgradeProfile"]["nodeOSUpgradeChannel"] == "NodeImage"
    workspace = single(azure_run, "operationalinsights:Workspace")
    oms = inputs["addonProfiles"]["omsagent"]
    assert oms["enabled"] and oms["config"]["logAnalyticsWorkspaceResourceID"].endswith(f"/{workspace.name}")
    windows = {m.inputs["configName"]: m.inputs["maintenanceWindow"]
               for m in azure_run.of_type("azure-native:containerservice:MaintenanceConfiguration")}
    assert set(windows) == set(MAINTENANCE_CONFIGS)
    for window in windows.values():
        assert window["schedule"]["weekly"] == {"dayOfWeek": "Sunday", "intervalWeeks": 1}
        assert window["durationHours"] == 4 and window["startTime"] == "02:00" and window["utcOffset"] == "+00:00"


def test_aks_runs_a_tainted_system_pool_and_an_autoscaling_user_pool(azure_run):
    system, user = pools(azure_run)["system"], pools(azure_run)["user"]
    assert system["mode"] == "System" and system["nodeTaints"] == ["CriticalAddonsOnly=true:NoSchedule"]
    assert not system["enableAutoScaling"]
    assert user["mode"] == "User" and user["enableAutoScaling"]
    assert 1 <= user["minCount"] <= user["count"] <= user["maxCount"]


def test_registry_is_private_to_the_kubelet_identity(azure_run):
    registry = single(azure_run, "containerregistry:Registry")
    assert registry.inputs["adminUserEnabled"] is False and registry.inputs["anonymousPullEnabled"] is False
    pulls = {a.inputs["scope"]: a.inputs for a in azure_run.of_type("azure-native:authorization:RoleAssignment")
             if a.inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{ACR_PULL_ROLE}")}
    kubelet = single(azure_run, "containerservice:ManagedCluster").state["identityProfile"]["kubeletidentity"]
    shared = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-mlops-build/providers/" \
             "Microsoft.ContainerRegistry/registries/mlopsbuildteam1"
    assert {scope.rsplit("/", 1)[-1] for scope in pulls} == {registry.name, "mlopsbuildteam1"}
    assert shared in pulls
    assert all(pull["principalId"] == kubelet["objectId"] for pull in pulls.values())
    images = {c["image"] for j in objects(azure_run, "Job") for c in j["spec"]["template"]["spec"]["containers"]}
    assert any(image.startswith("mlopsbuildteam1.azurecr.io/mlops-platform/workloads:") for image in images)


def test_a_workloads_image_without_registry_comes_from_the_stacks_own_registry():
    run = run_offline("qa", {"workloadsImage": "mlops-platform/workloads"})
    registry_host = run.outputs["registryLoginServer"][0]
    images = {c["image"] for j in objects(run, "Job") for c in j["spec"]["template"]["spec"]["containers"]}
    assert f"{registry_host}/mlops-platform/workloads:0.1.0" in images


def test_kubeconfig_is_a_secret_for_non_interactive_kubelogin(azure_run):
    (provider,) = [r for r in azure_run.resources if r.typ == "pulumi:providers:kubernetes"]
    assert provider.name == "aks"
    assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])
    config = yaml.safe_load(rpc.unwrap_rpc_secret(provider.inputs["kubeconfig"]))
    (user,) = config["users"]
    args = user["user"]["exec"]["args"]
    assert args[args.index("--login") + 1] == "azurecli"
    assert "kubeconfig" not in azure_run.outputs, "no kubeconfig in plain outputs"


def test_with_kubelogin_mode_rewrites_only_kubelogin_users():
    config = yaml.safe_load(MOCK_AKS_KUBECONFIG)
    config["users"].append({"name": "other", "user": {"exec": {"command": "aws", "args": ["eks", "get-token"]}}})
    rewritten = yaml.safe_load(with_kubelogin_mode(yaml.safe_dump(config), "workloadidentity"))
    kubelogin, other = (u["user"]["exec"]["args"] for u in rewritten["users"])
    assert kubelogin.count("--login") == 1 and kubelogin[kubelogin.index("--login") + 1] == "workloadidentity"
    assert other == ["eks", "get-token"]


def test_storage_account_has_no_public_exposure_and_keeps_history(managed_run):
    account = single(managed_run, "storage:StorageAccount").inputs
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["allowBlobPublicAccess"] is False
    assert account["allowSharedKeyAccess"] is False
    assert account["minimumTlsVersion"] == "TLS1_2" and account["enableHttpsTrafficOnly"] is True
    assert account["networkRuleSet"]["defaultAction"] == "Deny"
    assert single(managed_run, "storage:BlobContainer").inputs["publicAccess"] == "None"
    service = single(managed_run, "storage:BlobServiceProperties").inputs
    assert service["isVersioningEnabled"] is True
    assert service["deleteRetentionPolicy"]["enabled"] and service["containerDeleteRetentionPolicy"]["enabled"]
    endpoint = single(managed_run, "network:PrivateEndpoint").inputs
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["blob"] and endpoint["subnet"]["id"].endswith("/aks-endpoint-subnet")
    zones = {z.inputs["privateZoneName"] for z in managed_run.of_type("azure-native:privatedns:PrivateZone")}
    assert "privatelink.blob.core.windows.net" in zones


def test_postgres_is_private_and_requires_tls(managed_run):
    server = single(managed_run, "dbforpostgresql:Server").inputs
    assert server["network"]["publicNetworkAccess"] == "Disabled"
    assert server["network"]["delegatedSubnetResourceId"].endswith("/aks-postgres-subnet")
    assert server["network"]["privateDnsZoneArmResourceId"].endswith("/postgres-dns")
    assert server["version"] == "15"
    assert server["administratorLogin"] == "mlopsadmin"
    settings = {c.inputs["configurationName"]: c.inputs["value"]
                for c in managed_run.of_type("azure-native:dbforpostgresql:Configuration")}
    assert settings == {"require_secure_transport": "on", "ssl_min_protocol_version": "TLSv1.2"}
    databases = {d.inputs["databaseName"] for d in managed_run.of_type("azure-native:dbforpostgresql:Database")}
    assert databases == {"mlflow", "mlflow_auth", "feast_registry"}
    bootstrap = [j for j in objects(managed_run, "Job") if j["metadata"]["name"].startswith("mlops-postgres-bootstrap-")]
    env = env_of(bootstrap[0]["spec"]["template"]["spec"]["containers"][0])
    assert env["PGUSER"]["value"] == "mlopsadmin" and env["PGSSLMODE"]["value"] == "require"


def test_postgres_clients_may_reach_only_the_database_subnet(managed_run):
    subnet = {s.inputs["subnetName"]: s.inputs["addressPrefix"] for s in managed_run.of_type("azure-native:network:Subnet")}
    for client in ("mlflow", "postgres-bootstrap", "feast-apply", "feast-materialize", "feature-server"):
        policy = one(managed_run, "NetworkPolicy", f"{client}-to-postgres-egress")
        (rule,) = policy["spec"]["egress"]
        assert rule["to"] == [{"ipBlock": {"cidr": subnet["postgres"]}}]
        assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_workload_identity_chain_from_identity_to_mlflow_pod(managed_run):
    identity = single(managed_run, "managedidentity:UserAssignedIdentity")
    federation = single(managed_run, "managedidentity:FederatedIdentityCredential").inputs
    issuer = single(managed_run, "containerservice:ManagedCluster").state["oidcIssuerProfile"]["issuerURL"]
    namespace = managed_run.outputs["namespace"][0]
    assert federation["resourceName"] == identity.inputs["resourceName"]
    assert federation["issuer"] == issuer
    assert federation["audiences"] == [TOKEN_AUDIENCE]
    account = one(managed_run, "ServiceAccount", "mlflow")
    assert federation["subject"] == f"system:serviceaccount:{namespace}:{account['metadata']['name']}"
    assert account["metadata"]["annotations"] == {"azure.workload.identity/client-id": identity.state["clientId"]}
    assert account["automountServiceAccountToken"] is False
    template = one(managed_run, "Deployment", "mlflow")["spec"]["template"]
    assert template["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    assert template["spec"]["serviceAccountName"] == "mlflow"
    (access,) = [a for a in managed_run.of_type("azure-native:authorization:RoleAssignment") if a.name == "artifacts-mlflow-blob-access"]
    assert access.inputs["principalId"] == identity.state["principalId"]
    assert access.inputs["roleDefinitionId"].endswith(f"/roleDefinitions/{STORAGE_BLOB_DATA_CONTRIBUTOR_ROLE}")
    assert access.inputs["scope"].endswith("/artifacts-container"), "the container, not the whole account"
    assert managed_run.outputs["mlflowIdentityClientId"][0] == identity.state["clientId"]


def test_mlflow_writes_artifacts_to_blob_without_any_storage_credential(managed_run):
    server = [c for c in one(managed_run, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"] if c["name"] == "mlflow"][0]
    command = server["command"]
    destination = command[command.index("--artifacts-destination") + 1]
    account = single(managed_run, "storage:StorageAccount").inputs["accountName"]
    container, parsed_account, _path, suffix = AzureBlobArtifactRepository.parse_wasbs_uri(destination)
    assert (container, parsed_account, suffix) == ("mlflow-artifacts", account, "blob.core.windows.net")
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_S3_ENDPOINT_URL", "AZURE_STORAGE_ACCESS_KEY",
                "AZURE_STORAGE_CONNECTION_STRING"} & set(env_of(server))
    endpoint_cidr = {s.inputs["subnetName"]: s.inputs["addressPrefix"]
                     for s in managed_run.of_type("azure-native:network:Subnet")}["private-endpoints"]
    blob = one(managed_run, "NetworkPolicy", "mlflow-to-blob-endpoint-egress")["spec"]["egress"][0]
    assert blob == {"to": [{"ipBlock": {"cidr": endpoint_cidr}}], "ports": [{"protocol": "TCP", "port": 443}]}
    assert "mlflow-artifacts" not in managed_run.outputs["buckets"][0]
    assert not [p for p in objects(managed_run, "NetworkPolicy") if p["metadata"]["name"].startswith("mlflow-to-object-store")]


@pytest.mark.parametrize("typ", STATEFUL)
@pytest.mark.parametrize("stack", MANAGED_STORE_STACKS)
def test_stateful_azure_resources_are_protected(stack, typ):
    run = _stack_run(stack)
    for registration in run.of_type(typ):
        assert run.options[(typ, registration.name)].protect, f"{typ} {registration.name}"


def test_prod_is_highly_available_where_qa_is_cheap():
    qa, prod = _stack_run("qa"), _stack_run("prod")
    assert cluster(qa)["sku"]["tier"] == "Free" and cluster(prod)["sku"]["tier"] == "Standard"
    assert "availabilityZones" not in pools(qa)["user"]
    for pool in pools(prod).values():
        assert pool["availabilityZones"] == ["1", "2", "3"]
    assert pools(prod)["system"]["count"] == 3 and pools(qa)["system"]["count"] == 1
    assert pools(prod)["user"]["minCount"] > pools(qa)["user"]["minCount"]
    assert cluster(prod)["disableLocalAccounts"] is True and cluster(qa)["disableLocalAccounts"] is False
    qa_db, prod_db = single(qa, "dbforpostgresql:Server").inputs, single(prod, "dbforpostgresql:Server").inputs
    assert qa_db["highAvailability"] == {"mode": "Disabled"} and qa_db["sku"]["tier"] == "Burstable"
    assert prod_db["highAvailability"] == {"mode": "ZoneRedundant", "standbyAvailabilityZone": "2"}
    assert prod_db["availabilityZone"] == "1"
    assert prod_db["backup"] == {"backupRetentionDays": 35, "geoRedundantBackup": "Enabled"}
    assert qa_db["backup"] == {"backupRetentionDays": 7, "geoRedundantBackup": "Disabled"}
    assert single(qa, "storage:StorageAccount").inputs["sku"]["name"] == "Standard_LRS"
    assert single(prod, "storage:StorageAccount").inputs["sku"]["name"] == "Standard_ZRS"
    for name in ("mlflow", "feature-server"):
        assert one(prod, "Deployment", name)["spec"]["replicas"] == 2
        assert one(prod, "PodDisruptionBudget", name)["spec"]["maxUnavailable"] == 1
        assert one(qa, "Deployment", name)["spec"]["replicas"] == 1
    assert not objects(qa, "PodDisruptionBudget")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"azureLocation": ""}, "mlops-platform:azureLocation must name an Azure region"),
        ({"azureNameSuffix": ""}, "mlops-platform:azureNameSuffix must be 3-8 lowercase letters or digits"),
        ({"aksAdminGroupObjectIds": []}, "mlops-platform:aksAdminGroupObjectIds must list at least one Microsoft Entra group"),
        ({"aksServiceCidr": "10.50.128.0/17"}, "mlops-platform:aksServiceCidr 10.50.128.0/17 overlaps the VNet"),
        ({"postgresFlexibleTier": "Burstable"}, "mlops-platform:postgresFlexibleHighAvailability needs the GeneralPurpose"),
        ({"postgresFlexibleStorageGb": 100}, "mlops-platform:postgresFlexibleStorageGb must be one of 32, 64"),
        ({"aksZones": ["4"]}, "mlops-platform:aksZones must be one of 1, 2, 3, got '4'"),
        ({"azureStorageReplication": "Premium_LRS"}, "mlops-platform:azureStorageReplication must be one of"),
    ],
)
def test_azure_settings_errors_name_the_key(overrides, message):
    assert message in settings_error("prod", **overrides)


def test_managed_stores_need_an_aks_stack():
    message = settings_error("dev", postgresEngine="azure-flexible")
    assert "mlops-platform:postgresEngine azure-flexible needs clusterTarget aks" in message
    message = settings_error("ha-example", mlflowArtifactStore="azure-blob")
    assert "mlops-platform:mlflowArtifactStore azure-blob needs clusterTarget aks (its private network), got 'kubeconfig'" in message


def test_the_test_stack_keeps_postgres_and_artifacts_in_the_cluster():
    run = _stack_run("test")
    assert not run.of_type("azure-native:dbforpostgresql:Server")
    assert not run.of_type("azure-native:storage:StorageAccount")
    assert run.of_type("azure-native:containerservice:ManagedCluster")
    assert one(run, "StatefulSet", "postgres")
    assert "mlflow-artifacts" in run.outputs["buckets"][0]
