"""RedisOnlineStore: Redis for Feast's online store, durable (AOF) and password-protected.

Creates: a generated password (Secret, with an `auth.conf` include), a ConfigMap with redis.conf,
a headless Service and a StatefulSet with a PVC. `redis_config` and `auth_config` are the single
source of truth for how Redis runs: the integration tests start a local redis-server from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components import images
from platform_components.k8s import (
    Manifest,
    Placement,
    StatefulServerOptions,
    empty_dir,
    exec_probe,
    pod_spec,
    secret_env,
    selector_labels,
    server_container,
    stateful_server,
    volume_claim,
)
from platform_components.network_plan import Peer
from platform_components.registration import register_objects
from platform_components.validation import require_dns_label, require_pinned_image
from platform_components.volumes import VolumeClaim, grow_in_place

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


# What redis_exporter runs (INFO, CONFIG GET maxmemory & co., CLIENT LIST, SLOWLOG, LATENCY), and
# nothing that reads or writes a key or a channel (https://redis.io/docs/latest/operate/oss_and_stack/management/security/acl/).
EXPORTER_ACL = ("resetkeys resetchannels -@all +ping +info +config|get +client|list +select +dbsize +slowlog|get "
                "+slowlog|len +latency|latest +latency|histogram +cluster|info +memory|stats")


def auth_config(password: str, exporter: tuple[str, str] | None = None) -> str:
    """The include with the default user's password and, given (user, password), the metrics
    exporter's ACL user (EXPORTER_ACL)."""
    lines = [f"requirepass {password}"]
    if exporter:
        user, secret = exporter
        lines.append(f"user {user} on >{secret} {EXPORTER_ACL}")
    return "\n".join(lines) + "\n"


def server_command(config_path: str = f"{CONFIG_DIR}/redis.conf") -> list[str]:
    return ["redis-server", config_path]


def ping_command(port: int = PORT) -> list[str]:
    # REDISCLI_AUTH (set from the Secret) keeps the password off the command line.
    return ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"]


@dataclass(frozen=True)
class RedisOptions(StatefulServerOptions):
    """What a stack tunes (config keys `redis*`)."""

    KEY_PREFIX = "redis"


@dataclass(frozen=True)
class RedisArgs:
    placement: Placement
    options: RedisOptions
    image: str = images.REDIS
    service_name: str = "redis"
    exporter_user: str | None = None  # an ACL user for the metrics exporter (with a monitoring stack)

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("image", self.image)


def server_pod(args: RedisArgs, secret_name: pulumi.Input[str], config_map: pulumi.Input[str]) -> Manifest:
    """redis-server with its config from a ConfigMap and the password include from the Secret."""
    server = server_container(
        name="redis",
        image=args.image,
        command=server_command(),
        env=[secret_env("REDISCLI_AUTH", secret_name, "password")],
        port_name="redis", port=PORT,
        resources=args.options.resources,
        volume_mounts=[
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "auth", "mountPath": AUTH_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        # Loading a large AOF takes a while; do not kill Redis while it replays.
        probe=exec_probe(ping_command()), startup_budget_seconds=600,
    )
    return pod_spec(
        identity=args.placement.identity,
        containers=[server],
        volumes=[
            {"name": "config", "configMap": {"name": config_map}},
            {"name": "auth", "secret": {"secretName": secret_name, "defaultMode": 0o440}},
            empty_dir("tmp", "16Mi"),
        ],
    )


class RedisOnlineStore(pulumi.ComponentResource):
    """Redis as Feast's online store: a single durable replica (AOF fsynced every second),
    password from a generated Secret, `maxmemory` under the container limit with `noeviction`."""

    host: str
    port: int
    secret_name: pulumi.Output[str]
    peer: Peer
    volume_claims: list[VolumeClaim]  # its StatefulSet's claims, grown in place (volumes.py)

    def __init__(self, name: str, args: RedisArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:RedisOnlineStore", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        placement = args.placement
        meta_labels = placement.labels("redis", name, "online-store")
        selector = selector_labels("redis", name)
        self.peer = Peer("redis", selector=selector, port=PORT)
        self.host = placement.service_host(args.service_name)
        self.port = PORT

        password = placement.credentials.password(f"{name}-password", 32, parent=self)
        data = {"password": password, "auth.conf": password.apply(auth_config)}
        if args.exporter_user:
            user = args.exporter_user
            exporter = placement.credentials.password(f"{name}-exporter-password", 32, parent=self)
            data = {"password": password, "exporter-password": exporter,
                    "auth.conf": pulumi.Output.all(password, exporter).apply(lambda p: auth_config(p[0], (user, p[1])))}
        secret = k8s.core.v1.Secret(f"{name}-auth", metadata=placement.metadata(meta_labels), string_data=data, opts=child)
        self.secret_name = secret.metadata["name"]
        config = k8s.core.v1.ConfigMap(
            f"{name}-config",
            metadata=placement.metadata(meta_labels),
            data={"redis.conf": redis_config(maxmemory=maxmemory_bytes(args.options.resources.memory_limit_bytes))},
            opts=child,
        )
        objects = stateful_server(
            placement, name=args.service_name, meta_labels=meta_labels, selector=selector,
            pod=server_pod(args, self.secret_name, config.metadata["name"]),
            claims=[volume_claim("data", args.options.storage_size, placement.storage_class)],
            port_name="redis", port=PORT,
        )
        statefulset = register_objects(name, objects, parent=self, protect=placement.protect)["statefulset"]
        self.volume_claims = grow_in_place(name, objects["statefulset"], statefulset, "redisStorageSize", parent=self)
        self.register_outputs({"host": self.host, "port": self.port, "secret_name": self.secret_name})
