"""RedisOnlineStore: Redis for Feast's online store, durable (AOF) and password-protected.

Creates: a generated password (Secret, with an `auth.conf` include), a ConfigMap with redis.conf,
a headless Service and a StatefulSet with a PVC. `redis_config` and `auth_config` are the single
source of truth for how Redis runs: the integration tests start a local redis-server from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from platform_components import images
from platform_components.k8s import (
    PodIdentity,
    Resources,
    container,
    empty_dir,
    exec_probe,
    labels,
    pod_spec,
    secret_env,
    selector_labels,
    single_statefulset_spec,
    startup_variant,
    volume_claim,
)
from platform_components.validation import require_dns_label, require_pinned_image, require_quantity

PORT = 6379
CONFIG_DIR = "/etc/redis"
AUTH_DIR = "/etc/redis-auth"
DATA_DIR = "/data"
# Headroom under the container limit for the AOF-rewrite fork (copy-on-write), buffers and
# fragmentation: with noeviction, Redis refuses writes at maxmemory instead of being OOM-killed.
MAXMEMORY_FRACTION = 0.75


def maxmemory_bytes(memory_limit_bytes: int) -> int:
    return int(memory_limit_bytes * MAXMEMORY_FRACTION)


def redis_config(*, maxmemory: int, port: int = PORT, bind: str = "0.0.0.0 -::*", data_dir: str = DATA_DIR,
                 auth_include: str = f"{AUTH_DIR}/auth.conf") -> str:
    """redis.conf without secrets; the password lives in the included file."""
    return "\n".join(
        [
            f"bind {bind}",
            f"port {port}",
            "protected-mode yes",
            f"dir {data_dir}",
            # Durability: every write is in the AOF, fsynced once a second (lose at most ~1 s).
            "appendonly yes",
            "appendfsync everysec",
            "aof-use-rdb-preamble yes",
            'save ""',
            f"maxmemory {maxmemory}",
            "maxmemory-policy noeviction",
            # Commands that could wipe or reconfigure the online store are not for clients.
            'rename-command FLUSHALL ""',
            'rename-command DEBUG ""',
            f"include {auth_include}",
            "",
        ]
    )


def auth_config(password: str) -> str:
    return f"requirepass {password}\n"


def server_command(config_path: str = f"{CONFIG_DIR}/redis.conf") -> list[str]:
    return ["redis-server", config_path]


def ping_command(port: int = PORT) -> list[str]:
    # REDISCLI_AUTH (set from the Secret) keeps the password off the command line.
    return ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"]


@dataclass(frozen=True)
class RedisOptions:
    """What a stack tunes (config keys `redis*`)."""

    resources: Resources
    storage_size: str = "2Gi"

    def __post_init__(self) -> None:
        require_quantity("storage_size", self.storage_size)


@dataclass(frozen=True)
class RedisArgs:
    namespace: str
    environment: str
    options: RedisOptions
    storage_class: str | None = None
    identity: PodIdentity = PodIdentity()
    image: str = images.REDIS
    service_name: str = "redis"
    protect: bool = False

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("image", self.image)


class RedisOnlineStore(pulumi.ComponentResource):
    host: str
    port: int
    secret_name: pulumi.Output[str]

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:RedisOnlineStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta_labels = labels("redis", name, "online-store", args.environment)
        self.selector = selector_labels("redis", name)
        self.host = f"{args.service_name}.{args.namespace}.svc.cluster.local"
        self.port = PORT

        password = pulumi.Output.secret(
            random.RandomPassword(f"{name}-password", length=32, special=False, opts=child).result
        )
        secret = k8s.core.v1.Secret(
            f"{name}-auth",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            string_data={"password": password, "auth.conf": password.apply(auth_config)},
            opts=child,
        )
        self.secret_name = secret.metadata["name"]
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            data={"redis.conf": redis_config(maxmemory=maxmemory_bytes(args.options.resources.memory_limit_bytes))},
            opts=child,
        )
        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec={
                "clusterIP": "None",
                "selector": self.selector,
                "ports": [{"name": "redis", "port": PORT, "targetPort": "redis"}],
            },
            opts=child,
        )
        ping = exec_probe(ping_command())
        server = container(
            name="redis",
            image=args.image,
            command=server_command(),
            env=[secret_env("REDISCLI_AUTH", secret.metadata["name"], "password")],
            ports=[{"name": "redis", "containerPort": PORT}],
            resources=args.options.resources,
            volume_mounts=[
                {"name": "data", "mountPath": DATA_DIR},
                {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
            readiness=ping,
            liveness={**ping, "periodSeconds": 20, "failureThreshold": 6},
            # Loading a large AOF takes a while; do not kill Redis while it replays.
            startup=startup_variant(ping, budget_seconds=600),
        )
        k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec=single_statefulset_spec(
                service_name=args.service_name,
                selector=self.selector,
                pod_labels=meta_labels,
                pod=pod_spec(
                    identity=args.identity,
                    containers=[server],
                    volumes=[
                        {"name": "config", "configMap": {"name": config.metadata["name"]}},
                        {"name": "auth", "secret": {"secretName": secret.metadata["name"], "defaultMode": 0o440}},
                        empty_dir("tmp", "16Mi"),
                    ],
                ),
                claims=[volume_claim("data", args.options.storage_size, args.storage_class)],
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[service]),
        )
        self.register_outputs({"host": self.host, "port": self.port, "secret_name": self.secret_name})
