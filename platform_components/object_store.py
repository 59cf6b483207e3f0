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
import pulumi_random as random

from platform_components import images
from platform_components.k8s import (
    PodIdentity,
    Resources,
    container,
    empty_dir,
    http_probe,
    labels,
    pod_spec,
    secret_env,
    selector_labels,
    setup_job_spec,
    single_statefulset_spec,
    startup_variant,
    volume_claim,
)
from platform_components.quantities import parse_quantity
from platform_components.validation import (
    ArgError,
    require_dns_label,
    require_one_of,
    require_pinned_image,
    require_quantity,
)

ENGINES = ("minio", "seaweedfs")
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


@dataclass(frozen=True)
class S3Identity:
    """One set of S3 credentials. `buckets=None` means admin (all buckets, create/configure)."""

    name: str
    access_key: str
    secret_key: str
    buckets: tuple[str, ...] | None


def seaweedfs_s3_config(identities: list[S3Identity]) -> str:
    """The `-s3.config` JSON. No anonymous identity, so unauthenticated requests are denied.
    Ref: https://github.com/seaweedfs/seaweedfs/wiki/Amazon-S3-API#static-configuration"""
    entries = []
    for identity in identities:
        if identity.buckets is None:
            actions = ["Admin", "Read", "Write", "List", "Tagging"]
        else:
            actions = [f"{action}:{bucket}" for bucket in identity.buckets for action in ("Read", "Write", "List", "Tagging")]
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
class ObjectStoreOptions:
    """What a stack tunes (config keys `objectStore*`)."""

    engine: str
    resources: Resources
    storage_size: str = "20Gi"

    def __post_init__(self) -> None:
        require_one_of("engine", self.engine, ENGINES)
        require_quantity("storage_size", self.storage_size)


@dataclass(frozen=True)
class ObjectStoreArgs:
    namespace: str
    environment: str
    options: ObjectStoreOptions
    workloads_image: str
    buckets: tuple[str, ...] = ("mlflow-artifacts", "monitoring", "features", "backups")
    # client name -> buckets it may use; each client gets its own credentials Secret.
    clients: dict[str, tuple[str, ...]] = field(default_factory=dict)
    storage_class: str | None = None
    identity: PodIdentity = PodIdentity()
    minio_image: str = images.MINIO
    seaweedfs_image: str = images.SEAWEEDFS
    service_name: str = "s3"
    protect: bool = False

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("workloads_image", self.workloads_image)
        require_pinned_image("minio_image", self.minio_image)
        require_pinned_image("seaweedfs_image", self.seaweedfs_image)
        for bucket in self.buckets:
            require_dns_label("buckets", bucket)
        for client, buckets in self.clients.items():
            unknown = set(buckets) - set(self.buckets)
            if unknown:
                raise ArgError("clients", f"client {client!r} names unknown buckets {sorted(unknown)}")


class ObjectStore(pulumi.ComponentResource):
    endpoint: str
    buckets: tuple[str, ...]
    admin_secret_name: pulumi.Output[str]
    client_secret_names: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:ObjectStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta_labels = labels(args.options.engine, name, "object-store", args.environment)
        self.selector = selector_labels(args.options.engine, name)
        self.endpoint = f"http://{args.service_name}.{args.namespace}.svc.cluster.local:{SERVICE_PORT}"
        self.buckets = args.buckets

        def credentials(who: str) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
            key_id = random.RandomString(f"{name}-{who}-access-key", length=20, special=False, upper=True, lower=False, opts=child)
            secret = random.RandomPassword(f"{name}-{who}-secret-key", length=40, special=False, opts=child)
            return key_id.result, pulumi.Output.secret(secret.result)

        def credentials_secret(who: str, key_id: pulumi.Input[str], secret_key: pulumi.Input[str]) -> k8s.core.v1.Secret:
            return k8s.core.v1.Secret(
                f"{name}-{who}-credentials",
                metadata={"namespace": args.namespace, "labels": meta_labels},
                string_data={
                    "AWS_ACCESS_KEY_ID": key_id,
                    "AWS_SECRET_ACCESS_KEY": secret_key,
                    "endpoint": self.endpoint,
                },
                opts=child,
            )

        admin_key, admin_secret = credentials("admin")
        admin = credentials_secret("admin", admin_key, admin_secret)
        self.admin_secret_name = admin.metadata["name"]

        self.client_secret_names = {}
        identities: list[pulumi.Output[S3Identity]] = [
            pulumi.Output.all(admin_key, admin_secret).apply(lambda ks: S3Identity("admin", ks[0], ks[1], None))
        ]
        for client, client_buckets in args.clients.items():
            if args.options.engine == "seaweedfs":
                key, secret_key = credentials(client)
                identities.append(
                    pulumi.Output.all(key, secret_key).apply(
                        lambda ks, c=client, b=client_buckets: S3Identity(c, ks[0], ks[1], b)
                    )
                )
            else:
                # MinIO users can only be created through its admin API, not S3; clients share
                # the root credentials there (see docs/decisions.md).
                key, secret_key = admin_key, admin_secret
            self.client_secret_names[client] = credentials_secret(client, key, secret_key).metadata["name"]

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec={
                "selector": self.selector,
                "ports": [{"name": "s3", "port": SERVICE_PORT, "targetPort": "s3"}],
            },
            opts=child,
        )

        if args.options.engine == "minio":
            server, volumes, claims = self._minio_container(args, admin)
        else:
            server, volumes, claims = self._seaweedfs_container(name, args, identities, meta_labels)

        statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec=single_statefulset_spec(
                service_name=args.service_name,
                selector=self.selector,
                pod_labels=meta_labels,
                pod=pod_spec(identity=args.identity, containers=[server], volumes=volumes),
                claims=claims,
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[service]),
        )

        job_labels = labels("bucket-setup", name, "object-store-setup", args.environment)
        self.job_selector = selector_labels("bucket-setup", name)
        setup = container(
            name="buckets",
            image=args.workloads_image,
            command=["python"],
            args=bucket_job_args(self.endpoint, args.buckets),
            env=[
                secret_env("AWS_ACCESS_KEY_ID", admin.metadata["name"], "AWS_ACCESS_KEY_ID"),
                secret_env("AWS_SECRET_ACCESS_KEY", admin.metadata["name"], "AWS_SECRET_ACCESS_KEY"),
                {"name": "HOME", "value": "/tmp"},
            ],
            resources=Resources("50m", "128Mi", "256Mi"),
            volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}],
        )
        k8s.batch.v1.Job(
            f"{name}-buckets",
            metadata={"namespace": args.namespace, "labels": job_labels},
            spec=setup_job_spec(
                pod_labels=job_labels,
                pod=pod_spec(
                    identity=args.identity,
                    containers=[setup],
                    volumes=[empty_dir("tmp", "64Mi")],
                    restart_policy="OnFailure",
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[statefulset]),
        )
        self.register_outputs(
            {
                "endpoint": self.endpoint,
                "buckets": list(self.buckets),
                "admin_secret_name": self.admin_secret_name,
                "client_secret_names": self.client_secret_names,
            }
        )

    @staticmethod
    def _minio_container(args: ObjectStoreArgs, admin: k8s.core.v1.Secret):
        probe_port = "s3"
        server = container(
            name="minio",
            image=args.minio_image,
            args=minio_args("/data", SERVICE_PORT),
            env=[
                secret_env("MINIO_ROOT_USER", admin.metadata["name"], "AWS_ACCESS_KEY_ID"),
                secret_env("MINIO_ROOT_PASSWORD", admin.metadata["name"], "AWS_SECRET_ACCESS_KEY"),
                {"name": "MINIO_BROWSER", "value": "off"},
                {"name": "HOME", "value": "/tmp"},
            ],
            ports=[{"name": "s3", "containerPort": SERVICE_PORT}],
            resources=args.options.resources,
            volume_mounts=[{"name": f"data{i}", "mountPath": f"/data{i}"} for i in range(MINIO_DRIVES)]
            + [{"name": "tmp", "mountPath": "/tmp"}],
            readiness=http_probe("/minio/health/ready", probe_port),
            liveness=http_probe("/minio/health/live", probe_port, period=20),
            startup=startup_variant(http_probe("/minio/health/live", probe_port), budget_seconds=120),
        )
        drive_size = f"{max(1, _gibibytes(args.options.storage_size) // MINIO_DRIVES)}Gi"
        claims = [volume_claim(f"data{i}", drive_size, args.storage_class) for i in range(MINIO_DRIVES)]
        return server, [empty_dir("tmp", "64Mi")], claims

    def _seaweedfs_container(self, name, args: ObjectStoreArgs, identities, meta_labels):
        config = k8s.core.v1.Secret(
            f"{name}-s3-config",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            string_data={"s3.json": pulumi.Output.all(*identities).apply(seaweedfs_s3_config)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        ports = SeaweedfsPorts()
        server = container(
            name="seaweedfs",
            image=args.seaweedfs_image,
            command=["weed"],
            args=seaweedfs_args(data_dir="/data", config_path=f"{SEAWEEDFS_CONFIG_DIR}/s3.json", ports=ports),
            ports=[{"name": "s3", "containerPort": ports.s3}],
            resources=args.options.resources,
            volume_mounts=[
                {"name": "data", "mountPath": "/data"},
                {"name": "config", "mountPath": SEAWEEDFS_CONFIG_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
            readiness=http_probe("/healthz", "s3"),
            liveness=http_probe("/healthz", "s3", period=20),
            startup=startup_variant(http_probe("/healthz", "s3"), budget_seconds=120),
        )
        volumes = [{"name": "config", "secret": {"secretName": config.metadata["name"]}}, empty_dir("tmp", "256Mi")]
        return server, volumes, [volume_claim("data", args.options.storage_size, args.storage_class)]


def _gibibytes(quantity: str) -> int:
    return int(parse_quantity(quantity) // 2**30)
