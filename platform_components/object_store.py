"""ObjectStore: an in-cluster S3 server (MinIO or SeaweedFS) plus its buckets.

Creates: generated admin and per-client credentials (Secrets), the server StatefulSet with its
PVCs, a Service, and a Job that creates the buckets with versioning over the S3 API (the script
is `workloads/buckets`, run from the project's workloads image).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from platform_components import images
from platform_components.k8s import (
    Manifest,
    Placement,
    Resources,
    StatefulServerOptions,
    container,
    empty_dir,
    http_probe,
    pod_spec,
    secret_env,
    selector_labels,
    server_container,
    setup_job,
    stateful_server,
    volume_claim,
)
from platform_components.network_plan import Peer
from platform_components.quantities import parse_quantity
from platform_components.registration import register, register_objects
from platform_components.stack_keys import setting
from platform_components.validation import (
    ArgError,
    require_dns_label,
    require_one_of,
    require_pinned_image,
)
from platform_components.volumes import VolumeClaim, grow_in_place

ENGINES = ("minio", "seaweedfs")
# Both engines listen on this port in the cluster: the Service is headless (it governs the
# StatefulSet), so it cannot map a Service port to another pod port.
SERVICE_PORT = 9000
MINIO_DRIVES = 4  # MinIO needs erasure coding (>= 4 drives on one node) for bucket versioning.
SEAWEEDFS_CONFIG_DIR = "/etc/seaweedfs"


@dataclass(frozen=True)
class SeaweedfsPorts:
    """SeaweedFS runs master, volume, filer and S3 in one process; every port is explicit so a
    test can place them on free ports (the gRPC defaults are port + 10000 and would collide)."""

    s3: int = 8333
    master: int = 9333
    volume: int = 8080
    filer: int = 8888
    master_grpc: int = 19333
    volume_grpc: int = 18080
    filer_grpc: int = 18888
    s3_grpc: int = 18333


BUCKET_ACTIONS = ("Read", "Write", "List", "Tagging")


@dataclass(frozen=True)
class S3Grant:
    """What one client may do in one bucket: all of it, or only keys under `prefix`."""

    bucket: str
    prefix: str = ""
    actions: tuple[str, ...] = BUCKET_ACTIONS

    def seaweedfs_actions(self) -> list[str]:
        """SeaweedFS's `Action:bucket` grants, or `Action:bucket/prefix*` (its wildcard match)."""
        target = f"{self.bucket}/{self.prefix}*" if self.prefix else self.bucket
        return [f"{action}:{target}" for action in self.actions]


@dataclass(frozen=True)
class S3Identity:
    """One set of S3 credentials. `grants=None` means admin (all buckets, create/configure)."""

    name: str
    access_key: str
    secret_key: str
    grants: tuple[S3Grant, ...] | None


def seaweedfs_s3_config(identities: list[S3Identity]) -> str:
    """The `-s3.config` JSON. No anonymous identity, so unauthenticated requests are denied.
    Ref: https://github.com/seaweedfs/seaweedfs/wiki/Amazon-S3-API#static-configuration"""
    entries = []
    for identity in identities:
        if identity.grants is None:
            actions = ["Admin", "Read", "Write", "List", "Tagging"]
        else:
            actions = [action for grant in identity.grants for action in grant.seaweedfs_actions()]
        entries.append(
            {
                "name": identity.name,
                "credentials": [{"accessKey": identity.access_key, "secretKey": identity.secret_key}],
                "actions": actions,
            }
        )
    return json.dumps({"identities": entries}, indent=2, sort_keys=True)


def seaweedfs_args(*, data_dir: str, config_path: str, ports: SeaweedfsPorts, bind: str = "0.0.0.0") -> list[str]:
    """`weed` arguments for an all-in-one server (master + volume + filer + S3 gateway)."""
    return [
        "server",
        f"-dir={data_dir}",
        "-ip=127.0.0.1",
        f"-ip.bind={bind}",
        f"-master.port={ports.master}",
        f"-master.port.grpc={ports.master_grpc}",
        "-master.volumeSizeLimitMB=1024",
        f"-volume.port={ports.volume}",
        f"-volume.port.grpc={ports.volume_grpc}",
        "-volume.max=0",
        # Master and volume share this process: no point waiting for the master to notice the
        # volume leaving (default 10 s), which would eat most of the pod's termination grace.
        "-volume.preStopSeconds=1",
        "-filer",
        f"-filer.port={ports.filer}",
        f"-filer.port.grpc={ports.filer_grpc}",
        "-s3",
        f"-s3.port={ports.s3}",
        f"-s3.port.grpc={ports.s3_grpc}",
        # The Iceberg and Lance catalog endpoints are not used by the platform: keep them closed.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config_path}",
    ]


def minio_args(data_root: str, port: int) -> list[str]:
    return [
        "server",
        "--address", f":{port}",
        "--certs-dir", "/tmp/certs",
        f"{data_root}{{0...{MINIO_DRIVES - 1}}}",
    ]


def bucket_job_args(endpoint: str, buckets: tuple[str, ...]) -> list[str]:
    args = ["-m", "workloads.buckets", "--endpoint-url", endpoint]
    for bucket in buckets:
        args += ["--bucket", bucket]
    return args


@dataclass(frozen=True)
class ObjectStoreOptions(StatefulServerOptions):
    """What a stack tunes (config keys `objectStore*`)."""

    KEY_PREFIX = "objectStore"
    engine: str = setting("Engine")

    def __post_init__(self) -> None:
        super().__post_init__()
        require_one_of("engine", self.engine, ENGINES)


@dataclass(frozen=True)
class ObjectStoreArgs:
    placement: Placement
    options: ObjectStoreOptions
    workloads_image: str
    buckets: tuple[str, ...] = ("mlflow-artifacts", "monitoring", "features", "backups")
    # client name -> what it may do; each client gets its own credentials Secret.
    clients: dict[str, tuple[S3Grant, ...]] = field(default_factory=dict)
    minio_image: str = images.MINIO
    seaweedfs_image: str = images.SEAWEEDFS
    service_name: str = "s3"

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("workloads_image", self.workloads_image)
        require_pinned_image("minio_image", self.minio_image)
        require_pinned_image("seaweedfs_image", self.seaweedfs_image)
        for bucket in self.buckets:
            require_dns_label("buckets", bucket)
        for client, grants in self.clients.items():
            unknown = {grant.bucket for grant in grants} - set(self.buckets)
            if unknown:
                raise ArgError("clients", f"client {client!r} names unknown buckets {sorted(unknown)}")


@dataclass(frozen=True)
class EngineServer:
    """One engine's server container, the pod's other volumes, and its volume claims."""

    container: Manifest
    volumes: list[Manifest]
    claims: list[Manifest]


def minio_server(args: ObjectStoreArgs, admin_secret: pulumi.Input[str]) -> EngineServer:
    """MinIO on four drives of one node (erasure coding, which bucket versioning needs)."""
    server = server_container(
        name="minio",
        image=args.minio_image,
        args=minio_args("/data", SERVICE_PORT),
        env=[
            secret_env("MINIO_ROOT_USER", admin_secret, "AWS_ACCESS_KEY_ID"),
            secret_env("MINIO_ROOT_PASSWORD", admin_secret, "AWS_SECRET_ACCESS_KEY"),
            {"name": "MINIO_BROWSER", "value": "off"},
            {"name": "HOME", "value": "/tmp"},
        ],
        port_name="s3", port=SERVICE_PORT,
        resources=args.options.resources,
        volume_mounts=[{"name": f"data{i}", "mountPath": f"/data{i}"} for i in range(MINIO_DRIVES)]
        + [{"name": "tmp", "mountPath": "/tmp"}],
        probe=http_probe("/minio/health/ready", "s3"), liveness=http_probe("/minio/health/live", "s3"),
        startup_budget_seconds=120,
    )
    drive_size = f"{max(1, _gibibytes(args.options.storage_size) // MINIO_DRIVES)}Gi"
    claims = [volume_claim(f"data{i}", drive_size, args.placement.storage_class) for i in range(MINIO_DRIVES)]
    return EngineServer(server, [empty_dir("tmp", "64Mi")], claims)


def seaweedfs_server(args: ObjectStoreArgs, config_secret: pulumi.Input[str]) -> EngineServer:
    """SeaweedFS all-in-one (master, volume, filer, S3 gateway) with its identities from a Secret."""
    ports = SeaweedfsPorts(s3=SERVICE_PORT)
    server = server_container(
        name="seaweedfs",
        image=args.seaweedfs_image,
        command=["weed"],
        args=seaweedfs_args(data_dir="/data", config_path=f"{SEAWEEDFS_CONFIG_DIR}/s3.json", ports=ports),
        port_name="s3", port=ports.s3,
        resources=args.options.resources,
        volume_mounts=[
            {"name": "data", "mountPath": "/data"},
            {"name": "config", "mountPath": SEAWEEDFS_CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        probe=http_probe("/healthz", "s3"), startup_budget_seconds=120,
    )
    volumes = [{"name": "config", "secret": {"secretName": config_secret}}, empty_dir("tmp", "256Mi")]
    return EngineServer(server, volumes, [volume_claim("data", args.options.storage_size, args.placement.storage_class)])


def bucket_job(args: ObjectStoreArgs, meta_labels: dict[str, str], endpoint: str,
               admin_secret: pulumi.Input[str]) -> Manifest:
    """The set-up Job: `python -m workloads.buckets` with the admin credentials."""
    setup = container(
        name="buckets",
        image=args.workloads_image,
        command=["python"],
        args=bucket_job_args(endpoint, args.buckets),
        env=[
            secret_env("AWS_ACCESS_KEY_ID", admin_secret, "AWS_ACCESS_KEY_ID"),
            secret_env("AWS_SECRET_ACCESS_KEY", admin_secret, "AWS_SECRET_ACCESS_KEY"),
            {"name": "HOME", "value": "/tmp"},
        ],
        resources=Resources("50m", "64Mi", "256Mi"),
        volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}],
    )
    return setup_job(args.placement, meta_labels=meta_labels, job=setup, volumes=[empty_dir("tmp", "64Mi")])


class ObjectStore(pulumi.ComponentResource):
    """An in-cluster S3 server (MinIO or SeaweedFS) and its buckets, created with versioning by a
    set-up Job over the S3 API. Every client gets its own credentials Secret; on SeaweedFS each
    client's identity may use only its own buckets, and anonymous requests are refused."""

    endpoint: str
    buckets: tuple[str, ...]
    admin_secret_name: pulumi.Output[str]
    client_secret_names: dict[str, pulumi.Output[str]]
    peer: Peer
    volume_claims: list[VolumeClaim]  # its StatefulSet's claims, grown in place (volumes.py)
    job_selector: dict[str, str]

    def __init__(self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:ObjectStore", name, None, opts)
        placement = args.placement
        meta_labels = placement.labels(args.options.engine, name, "object-store")
        selector = selector_labels(args.options.engine, name)
        self.peer = Peer("object-store", selector=selector, port=SERVICE_PORT)
        self.endpoint = placement.service_url(args.service_name, SERVICE_PORT)
        self.buckets = args.buckets
        self.job_selector = selector_labels("bucket-setup", name)

        admin_key, admin_secret = self._credentials(placement, name, "admin")
        self.admin_secret_name = self._credentials_secret(name, args, "admin", admin_key, admin_secret)
        identities = [pulumi.Output.all(admin_key, admin_secret).apply(lambda ks: S3Identity("admin", ks[0], ks[1], None))]
        self.client_secret_names = {}
        for client, grants in args.clients.items():
            if args.options.engine == "seaweedfs":
                key, secret_key = self._credentials(placement, name, client)
                identities.append(pulumi.Output.all(key, secret_key).apply(
                    lambda ks, c=client, g=grants: S3Identity(c, ks[0], ks[1], g)))
            else:
                # MinIO users can only be created through its admin API, not S3; clients share
                # the root credentials there (see docs/decisions.md).
                key, secret_key = admin_key, admin_secret
            self.client_secret_names[client] = self._credentials_secret(name, args, client, key, secret_key)

        if args.options.engine == "minio":
            engine = minio_server(args, self.admin_secret_name)
        else:
            config = k8s.core.v1.Secret(
                f"{name}-s3-config",
                metadata=placement.metadata(meta_labels),
                string_data={"s3.json": pulumi.Output.all(*identities).apply(seaweedfs_s3_config)},
                opts=pulumi.ResourceOptions(parent=self),
            )
            engine = seaweedfs_server(args, config.metadata["name"])
        objects = stateful_server(
            placement, name=args.service_name, meta_labels=meta_labels, selector=selector,
            pod=pod_spec(identity=placement.identity, containers=[engine.container], volumes=engine.volumes),
            claims=engine.claims, port_name="s3", port=SERVICE_PORT,
        )
        statefulset = register_objects(name, objects, parent=self, protect=placement.protect)["statefulset"]
        self.volume_claims = grow_in_place(name, objects["statefulset"], statefulset, "objectStoreStorageSize",
                                           parent=self)

        job_labels = placement.labels("bucket-setup", name, "object-store-setup")
        job = bucket_job(args, job_labels, self.endpoint, self.admin_secret_name)
        register(f"{name}-buckets", job, pulumi.ResourceOptions(parent=self, depends_on=[statefulset]))
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "buckets": list(self.buckets),
                "admin_secret_name": self.admin_secret_name,
                "client_secret_names": self.client_secret_names,
            }
        )

    def _credentials(self, placement: Placement, name: str,
                     who: str) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """A generated access key ID and secret key (the latter a Pulumi secret)."""
        credentials = placement.credentials
        return (credentials.access_key_id(f"{name}-{who}-access-key", parent=self),
                credentials.password(f"{name}-{who}-secret-key", 40, parent=self))

    def _credentials_secret(self, name: str, args: ObjectStoreArgs, who: str, key_id: pulumi.Input[str],
                            secret_key: pulumi.Input[str]) -> pulumi.Output[str]:
        """The Secret a client's pods read its S3 credentials and endpoint from; returns its name."""
        secret = k8s.core.v1.Secret(
            f"{name}-{who}-credentials",
            metadata=args.placement.metadata(args.placement.labels(args.options.engine, name, "object-store")),
            string_data={"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret_key, "endpoint": self.endpoint},
            opts=pulumi.ResourceOptions(parent=self),
        )
        return secret.metadata["name"]


def _gibibytes(quantity: str) -> int:
    return int(parse_quantity(quantity) // 2**30)
