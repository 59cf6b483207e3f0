"""Run the Pulumi program offline under the mock engine, as `pulumi up` would run it.

Used by `make synth` and by the unit tests. It reads Pulumi.yaml (defaults) and
Pulumi.<stack>.yaml like the CLI does, records every resource registration, and emulates
what the providers would add: Kubernetes auto-naming (deterministic: `<name>-<hash of inputs>`,
so content changes rename ConfigMaps/Secrets just as a real deployment would), the secret
`result` of pulumi-random resources, the outputs Azure computes (IDs, the cluster's OIDC issuer and
kubelet identity, an identity's client ID) and the answers of the Azure invokes the program calls.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import rpc

from infra.settings import PROJECT

ROOT = Path(__file__).resolve().parent.parent
# Placeholder for secret settings the offline run cannot decrypt (no secrets provider) or that a
# stack leaves to `pulumi config set --secret` at deploy time. Nothing is ever contacted offline.
OFFLINE_SECRET_PLACEHOLDER = "offline-placeholder-not-a-real-credential"
SECRET_SETTINGS_NEEDED_BY = {"kubeconfig": ("clusterTarget", "kubeconfig")}
MOCK_SECRET_PREFIX = "mock-secret-"
MOCK_SUBSCRIPTION = "00000000-0000-0000-0000-000000000001"
MOCK_TENANT = "00000000-0000-0000-0000-000000000002"
# What listManagedClusterUserCredentials(format=exec) returns for an Entra ID cluster.
MOCK_AKS_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: mlops-aks
  cluster: {server: 'https://mlops-aks.hcp.westeurope.azmk8s.io:443', certificate-authority-data: bW9jaw==}
contexts:
- name: mlops-aks
  context: {cluster: mlops-aks, user: clusterUser_mlops_mlops-aks}
current-context: mlops-aks
users:
- name: clusterUser_mlops_mlops-aks
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: kubelogin
      args: [get-token, --environment, AzurePublicCloud, --server-id, 6dae42f8-4368-4678-94ff-3960e28e3630,
             --client-id, 80faf920-1908-4b52-b5ef-a8e7bedfc67a, --tenant-id, 00000000-0000-0000-0000-000000000002,
             --login, devicecode]
      interactiveMode: IfAvailable
"""


@dataclass(frozen=True)
class Registration:
    typ: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    custom: bool


@dataclass(frozen=True)
class Options:
    """The resource options tests care about (mocks do not see options, a transformation does)."""

    protect: bool
    retain_on_delete: bool
    aliases: tuple[str, ...] = ()  # the earlier logical names an alias keeps (no replacement)
    ignore_changes: tuple[str, ...] = ()


@dataclass
class OfflineRun:
    stack: str
    resources: list[Registration] = field(default_factory=list)
    outputs: dict[str, tuple[Any, bool]] = field(default_factory=dict)  # name -> (value, is_secret)
    options: dict[tuple[str, str], Options] = field(default_factory=dict)  # (type, name) -> options
    # What the stack's last deployment left: its outputs (read through the program's StackReference
    # to itself) and live objects the program reads with `.get` ((type, id) -> state).
    deployed_outputs: dict[str, Any] = field(default_factory=dict)
    live_objects: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def of_type(self, typ: str) -> list[Registration]:
        return [r for r in self.resources if r.typ == typ]

    def kubernetes(self) -> list[Registration]:
        return [r for r in self.resources if r.typ.startswith("kubernetes:")]

    def named(self, typ: str, name: str) -> Registration:
        matches = [r for r in self.of_type(typ) if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources of type {typ} named {name}")
        return matches[0]


def _config_string(value: Any) -> str:
    """Config values reach a Pulumi program as strings; objects and arrays as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def load_stack_config(stack: str, root: Path = ROOT) -> tuple[dict[str, str], list[str]]:
    """(config, secret keys) for a stack, with Pulumi.yaml defaults applied like the CLI does."""
    project = yaml.safe_load((root / "Pulumi.yaml").read_text())
    config: dict[str, str] = {}
    for name, declaration in (project.get("config") or {}).items():
        key = name if ":" in name else f"{PROJECT}:{name}"
        if isinstance(declaration, dict) and "default" in declaration:
            config[key] = _config_string(declaration["default"])
    stack_file = root / f"Pulumi.{stack}.yaml"
    if not stack_file.exists():
        raise FileNotFoundError(f"no stack file {stack_file.name}; stacks here: {', '.join(available_stacks(root))}")
    secret_keys: list[str] = []
    for key, value in ((yaml.safe_load(stack_file.read_text()) or {}).get("config") or {}).items():
        if isinstance(value, dict) and "secure" in value:
            config[key] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.append(key)
        else:
            config[key] = _config_string(value)
    for name, (selector, wanted) in SECRET_SETTINGS_NEEDED_BY.items():
        key = f"{PROJECT}:{name}"
        if config.get(f"{PROJECT}:{selector}") == wanted and not config.get(key):
            config[key] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.append(key)
    return config, secret_keys


def available_stacks(root: Path = ROOT) -> list[str]:
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in root.glob("Pulumi.*.yaml"))


def _plain(value: Any) -> Any:
    """Inputs with secret markers unwrapped, for hashing."""
    if rpc.is_rpc_secret(value):
        return _plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


class RecordingMocks(pulumi.runtime.Mocks):
    def __init__(self, run: OfflineRun):
        self.run = run

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == "pulumi:pulumi:StackReference":
            return args.name, {"name": args.inputs.get("name"), "outputs": dict(self.run.deployed_outputs),
                               "secretOutputNames": []}
        if args.resource_id:  # a read of an existing object (`Resource.get`)
            state = self.run.live_objects.get((args.typ, args.resource_id))
            if state is None:
                raise KeyError(f"the program read {args.typ} {args.resource_id}, which the test's cluster does not have")
            self.run.resources.append(Registration(args.typ, args.name, {}, state, bool(args.custom)))
            return args.resource_id, state
        state = dict(args.inputs)
        if args.typ.startswith("kubernetes:") and not args.typ.startswith("pulumi:providers"):
            metadata = dict(state.get("metadata") or {})
            if "name" not in metadata:
                digest = hashlib.sha256(json.dumps(_plain(args.inputs), sort_keys=True).encode()).hexdigest()
                metadata["name"] = f"{args.name}-{digest[:8]}"
            state["metadata"] = metadata
        elif args.typ == "random:index/randomPassword:RandomPassword":
            # The real provider marks `result` secret; so does this mock.
            state["result"] = rpc.wrap_rpc_secret(f"{MOCK_SECRET_PREFIX}{args.name}")
        elif args.typ == "random:index/randomString:RandomString":
            state["result"] = hashlib.sha256(args.name.encode()).hexdigest()[:20].upper()
        elif args.typ.startswith("azure-native:"):
            state.update(_azure_outputs(args))
            resource_id = f"/subscriptions/{MOCK_SUBSCRIPTION}/resourceGroups/mock/providers/{args.typ}/{args.name}"
            self.run.resources.append(Registration(args.typ, args.name, args.inputs, state, bool(args.custom)))
            return resource_id, state
        self.run.resources.append(Registration(args.typ, args.name, args.inputs, state, bool(args.custom)))
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list | None]:
        if args.token == "azure-native:authorization:getClientConfig":
            return {"subscriptionId": MOCK_SUBSCRIPTION, "tenantId": MOCK_TENANT, "clientId": _guid("client"),
                    "objectId": _guid("object")}, []
        if args.token == "azure-native:containerservice:listManagedClusterUserCredentials":
            value = base64.b64encode(MOCK_AKS_KUBECONFIG.encode()).decode()
            return {"kubeconfigs": [{"name": "clusterUser", "value": value}]}, []
        raise NotImplementedError(f"the offline run has no answer for invoke {args.token}")


def _guid(seed: str) -> str:
    digest = hashlib.sha256(seed.encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


# The input that names the resource itself (Azure's `name` output), per resource type.
AZURE_NAME_INPUTS = {
    "ResourceGroup": "resourceGroupName", "Workspace": "workspaceName", "VirtualNetwork": "virtualNetworkName",
    "Subnet": "subnetName", "Registry": "registryName", "Server": "serverName", "Database": "databaseName",
    "StorageAccount": "accountName", "BlobContainer": "containerName", "PrivateZone": "privateZoneName",
    "PrivateEndpoint": "privateEndpointName",
}


def _azure_outputs(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    """The outputs Azure would compute for the resource types the program reads them from."""
    resource = args.typ.split(":")[-1]
    outputs: dict[str, Any] = {
        "name": args.inputs.get(AZURE_NAME_INPUTS.get(resource, "resourceName"), args.name),
    }
    if resource == "ManagedCluster":
        outputs["oidcIssuerProfile"] = {"enabled": True,
                                        "issuerURL": f"https://westeurope.oic.prod-aks.azure.com/{MOCK_TENANT}/{_guid(args.name)}/"}
        outputs["identityProfile"] = {"kubeletidentity": {"objectId": _guid(f"{args.name}-kubelet"),
                                                          "clientId": _guid(f"{args.name}-kubelet-client")}}
    elif resource == "UserAssignedIdentity":
        outputs.update(clientId=_guid(f"{args.name}-client"), principalId=_guid(f"{args.name}-principal"),
                       tenantId=MOCK_TENANT)
    elif resource == "Registry":
        outputs["loginServer"] = f"{args.inputs.get('registryName', args.name)}.azurecr.io"
    return outputs


_current_run: OfflineRun | None = None
_transformation_root: object | None = None


def _record_options(args: pulumi.ResourceTransformationArgs) -> None:
    if _current_run is not None:
        opts = args.opts
        aliases = tuple(alias.name for alias in opts.aliases or () if isinstance(alias, pulumi.Alias)
                        and isinstance(alias.name, str))
        _current_run.options[(args.type_, args.name)] = Options(bool(opts.protect), bool(opts.retain_on_delete),
                                                                aliases, tuple(opts.ignore_changes or ()))
    return None


def _install_option_recorder() -> None:
    """Once per root stack resource (the mock runtime may keep it across runs)."""
    global _transformation_root
    root = pulumi.runtime.get_root_resource()
    if root is not _transformation_root:
        pulumi.runtime.register_stack_transformation(_record_options)
        _transformation_root = root


def run_offline(stack: str, overrides: dict[str, Any] | None = None, secret_overrides: dict[str, str] | None = None,
                root: Path = ROOT, deployed: OfflineRun | None = None) -> OfflineRun:
    """Evaluate the program for `stack`; `overrides` replace config values (`name` or `ns:name`).
    `deployed` (an OfflineRun with `deployed_outputs`/`live_objects`) stands for the last deployment."""
    from infra.program import deploy

    config, secret_keys = load_stack_config(stack, root)
    for name, value in (overrides or {}).items():
        config[name if ":" in name else f"{PROJECT}:{name}"] = _config_string(value)
    for name, value in (secret_overrides or {}).items():
        key = name if ":" in name else f"{PROJECT}:{name}"
        config[key] = value
        secret_keys.append(key)

    global _current_run
    run = OfflineRun(stack)
    if deployed is not None:
        run.deployed_outputs, run.live_objects = deployed.deployed_outputs, deployed.live_objects
    _current_run = run
    pulumi.runtime.set_mocks(RecordingMocks(run), project=PROJECT, stack=stack, preview=False)
    pulumi.runtime.set_all_config(config, secret_keys)
    _install_option_recorder()

    @pulumi.runtime.test
    def program():
        outputs = deploy()

        async def collect() -> bool:
            for name, value in outputs.items():
                output = pulumi.Output.from_input(value)
                run.outputs[name] = (await output.future(), await output.is_secret())
            return True

        return pulumi.Output.from_input(asyncio.ensure_future(collect()))

    program()
    return run
