"""PostgresDatabase: one role and database per app, on an in-cluster Postgres or a managed server.

Creates: generated passwords (pulumi-random, kept secret), a superuser Secret, one Secret per
application role, and an idempotent bootstrap Job that creates/updates the application roles and
databases on every change. In-cluster (the default) it also runs the server: a headless Service
and a StatefulSet with its PVC. Given an `ExternalServer` (Azure Flexible Server, say) it runs no
server and the bootstrap Job converges the roles on that server with its admin login.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    exec_probe,
    pod_spec,
    secret_env,
    selector_labels,
    server_container,
    setup_job,
    stateful_server,
    volume_claim,
)
from platform_components.network_plan import Peer
from platform_components.registration import register, register_objects
from platform_components.validation import ArgError, require_dns_label, require_pinned_image
from platform_components.volumes import VolumeClaim, grow_in_place

PORT = 5432
DATA_DIR = "/var/lib/postgresql/data"
BOOTSTRAP_DIR = "/bootstrap"


@dataclass(frozen=True)
class AppDatabase:
    """A database owned by a login role of the same name (one per application)."""

    name: str

    def __post_init__(self) -> None:
        if not self.name.replace("_", "").isalnum() or not self.name[0].isalpha() or self.name != self.name.lower():
            raise ArgError("databases", f"names must be lowercase SQL identifiers, got {self.name!r}")

    @property
    def password_env(self) -> str:
        return f"APP_PASSWORD_{self.name.upper()}"


def bootstrap_sql(databases: tuple[AppDatabase, ...], monitors: tuple[AppDatabase, ...] = ()) -> str:
    """psql script that converges roles and databases; safe to run any number of times.
    `monitors` are login roles without a database, members of `pg_monitor` only (the built-in
    role for reading statistics; a metrics exporter needs nothing more).

    Passwords come from environment variables via `\\getenv` (psql >= 15), so they never appear
    on a command line or in the script itself. `ALTER ROLE ... PASSWORD` on every run makes a
    rotated Secret take effect.
    """
    lines = ["\\set ON_ERROR_STOP on"]
    for db in databases:
        var = f"pw_{db.name}"
        lines += [
            f"\\getenv {var} {db.password_env}",
            f"SELECT format('CREATE ROLE %I LOGIN', '{db.name}') "
            f"WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{db.name}') \\gexec",
            # Not NOSUPERUSER: only a superuser may name that attribute, and a managed server's admin is
            # none. CREATE ROLE never makes a superuser, and nothing here grants it.
            f"ALTER ROLE {db.name} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'{var}';",
            f"SELECT format('CREATE DATABASE %I OWNER %I', '{db.name}', '{db.name}') "
            f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{db.name}') \\gexec",
            # A managed server's databases exist before their roles (the cloud API created them),
            # and its admin is no superuser: it must be a member of a role to hand it a database.
            f"GRANT {db.name} TO CURRENT_USER;",
            f"ALTER DATABASE {db.name} OWNER TO {db.name};",
            f"REVOKE ALL ON DATABASE {db.name} FROM PUBLIC;",
            f"GRANT ALL ON DATABASE {db.name} TO {db.name};",
        ]
    for role in monitors:
        var = f"pw_{role.name}"
        lines += [
            f"\\getenv {var} {role.password_env}",
            f"SELECT format('CREATE ROLE %I LOGIN', '{role.name}') "
            f"WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role.name}') \\gexec",
            f"ALTER ROLE {role.name} WITH LOGIN NOCREATEDB NOCREATEROLE PASSWORD :'{var}';",
            f"GRANT pg_monitor TO {role.name};",
        ]
    return "\n".join(lines) + "\n"


def bootstrap_command(script: str = f"{BOOTSTRAP_DIR}/bootstrap.sql") -> list[str]:
    return ["psql", "--no-psqlrc", "--file", script]


def readiness_command(port: int = PORT) -> list[str]:
    return ["pg_isready", "--host", "127.0.0.1", "--port", str(port), "--username", "postgres"]


@dataclass(frozen=True)
class PostgresOptions(StatefulServerOptions):
    """What a stack tunes (config keys `postgres*`)."""

    KEY_PREFIX = "postgres"


@dataclass(frozen=True)
class ExternalServer:
    """A Postgres server the platform does not run (a cloud's managed service)."""

    host: str
    admin_user: str
    admin_password: pulumi.Input[str]  # a Pulumi secret
    cidr: str  # where the server's addresses live, for the clients' egress NetworkPolicies
    sslmode: str = "require"  # libpq's PGSSLMODE for every client

    def __post_init__(self) -> None:
        if self.sslmode not in ("require", "verify-ca", "verify-full"):
            raise ArgError("sslmode", f"must encrypt (require, verify-ca or verify-full), got {self.sslmode!r}")


@dataclass(frozen=True)
class PostgresArgs:
    placement: Placement
    databases: tuple[AppDatabase, ...]
    options: PostgresOptions
    image: str = images.POSTGRES
    service_name: str = "postgres"
    external: ExternalServer | None = None
    monitors: tuple[AppDatabase, ...] = ()  # pg_monitor login roles (a metrics exporter's)

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("image", self.image)
        if not self.databases:
            raise ArgError("databases", "must list at least one application database")
        names = [db.name for db in self.databases]
        if len(set(names)) != len(names) or "postgres" in names:
            raise ArgError("databases", f"must be unique and not 'postgres', got {names}")

    @property
    def admin_user(self) -> str:
        return self.external.admin_user if self.external else "postgres"

    @property
    def sslmode(self) -> str | None:
        return self.external.sslmode if self.external else None


@dataclass(frozen=True)
class DatabaseConnection:
    """What a client needs: where to connect and which Secret holds its credentials."""

    host: str
    port: int
    database: str
    username: str
    secret_name: pulumi.Output[str]
    password: pulumi.Output[str]  # a Pulumi secret; for clients that need it in a config file
    sslmode: str | None = None  # PGSSLMODE the client must set, when the server requires TLS


def server_pod(args: PostgresArgs, superuser_secret: pulumi.Input[str]) -> Manifest:
    """The in-cluster server's pod: `postgres` with its data, socket and scratch directories."""
    server = server_container(
        name="postgres",
        image=args.image,
        env=[
            secret_env("POSTGRES_PASSWORD", superuser_secret, "password"),
            {"name": "PGDATA", "value": f"{DATA_DIR}/pgdata"},
        ],
        port_name="postgres", port=PORT,
        resources=args.options.resources,
        volume_mounts=[
            {"name": "data", "mountPath": DATA_DIR},
            {"name": "run", "mountPath": "/var/run/postgresql"},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
        probe=exec_probe(readiness_command()), startup_budget_seconds=300,
    )
    return {
        **pod_spec(identity=args.placement.identity, containers=[server],
                   volumes=[empty_dir("run", "16Mi"), empty_dir("tmp", "256Mi")]),
        # A clean shutdown checkpoints; SIGKILL after 30 s means crash recovery.
        "terminationGracePeriodSeconds": 60,
    }


def bootstrap_job(args: PostgresArgs, meta_labels: dict[str, str], host: str, superuser_secret: pulumi.Input[str],
                  app_secrets: dict[str, pulumi.Input[str]], script_config_map: pulumi.Input[str]) -> Manifest:
    """The bootstrap Job: psql runs bootstrap.sql as the admin, app passwords from their Secrets."""
    env = [
        {"name": "PGHOST", "value": host},
        {"name": "PGPORT", "value": str(PORT)},
        {"name": "PGUSER", "value": args.admin_user},
        {"name": "PGDATABASE", "value": "postgres"},
        {"name": "HOME", "value": "/tmp"},
        secret_env("PGPASSWORD", superuser_secret, "password"),
        *([{"name": "PGSSLMODE", "value": args.sslmode}] if args.sslmode else []),
    ] + [secret_env(db.password_env, app_secrets[db.name], "password") for db in (*args.databases, *args.monitors)]
    bootstrap = container(
        name="bootstrap",
        image=args.image,
        command=bootstrap_command(),
        env=env,
        resources=Resources("50m", "64Mi", "128Mi"),
        volume_mounts=[
            {"name": "script", "mountPath": BOOTSTRAP_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    )
    volumes = [{"name": "script", "configMap": {"name": script_config_map}}, empty_dir("tmp", "16Mi")]
    return setup_job(args.placement, meta_labels=meta_labels, job=bootstrap, volumes=volumes)


class PostgresDatabase(pulumi.ComponentResource):
    """Postgres with one login role and database per application, in the cluster or managed.

    Outputs: `connections` (per database: host, port, role, credentials Secret), the superuser
    Secret, and `peer`, where clients connect (in-cluster pods, or the managed server's CIDR)."""

    host: str
    port: int
    superuser_secret_name: pulumi.Output[str]
    connections: dict[str, DatabaseConnection]
    peer: Peer
    volume_claims: list[VolumeClaim]  # its StatefulSet's claims, grown in place; none when managed
    job_selector: dict[str, str]

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:PostgresDatabase", name, None, opts)
        placement, external = args.placement, args.external
        meta_labels = placement.labels("postgres", name, "database")
        selector = selector_labels("postgres", name)
        self.host = external.host if external else placement.service_host(args.service_name)
        self.port = PORT
        self.peer = (Peer("postgres", cidrs=(external.cidr,), port=PORT) if external
                     else Peer("postgres", selector=selector, port=PORT))
        self.job_selector = selector_labels("postgres-bootstrap", name)

        superuser = k8s.core.v1.Secret(
            f"{name}-superuser",
            metadata=placement.metadata(meta_labels),
            type="kubernetes.io/basic-auth",
            string_data=(
                {"username": external.admin_user, "password": pulumi.Output.secret(external.admin_password)}
                if external
                else {"username": "postgres",
                      "password": placement.credentials.password(f"{name}-superuser-password", 32, parent=self)}
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.superuser_secret_name = superuser.metadata["name"]
        self.connections = {db.name: self._connection(name, args, db, meta_labels)
                            for db in (*args.databases, *args.monitors)}

        server = []
        self.volume_claims = []
        if not external:
            objects = stateful_server(
                placement, name=args.service_name, meta_labels=meta_labels, selector=selector,
                pod=server_pod(args, self.superuser_secret_name),
                claims=[volume_claim("data", args.options.storage_size, placement.storage_class)],
                port_name="postgres", port=PORT,
            )
            server = [register_objects(name, objects, parent=self, protect=placement.protect)["statefulset"]]
            self.volume_claims = grow_in_place(name, objects["statefulset"], server[0], "postgresStorageSize",
                                               parent=self)
        self._bootstrap(name, args, meta_labels, depends_on=server)
        self.register_outputs(
            {
                "host": self.host,
                "superuser_secret_name": self.superuser_secret_name,
                "app_secret_names": {db: conn.secret_name for db, conn in self.connections.items()},
            }
        )

    def _connection(self, name: str, args: PostgresArgs, db: AppDatabase,
                    meta_labels: dict[str, str]) -> DatabaseConnection:
        """The application's role: a generated password and a basic-auth Secret with where to connect."""
        password = args.placement.credentials.password(f"{name}-{db.name.replace('_', '-')}-password", 32,
                                                       parent=self)
        secret = k8s.core.v1.Secret(
            f"{name}-{db.name.replace('_', '-')}",
            metadata=args.placement.metadata(meta_labels),
            type="kubernetes.io/basic-auth",
            string_data={
                "username": db.name,
                "password": password,
                "database": db.name if db in args.databases else "postgres",
                "host": self.host,
                "port": str(PORT),
                **({"sslmode": args.sslmode} if args.sslmode else {}),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        database = db.name if db in args.databases else "postgres"
        return DatabaseConnection(self.host, PORT, database, db.name, secret.metadata["name"], password, args.sslmode)

    def _bootstrap(self, name: str, args: PostgresArgs, meta_labels: dict[str, str],
                   depends_on: list[pulumi.Resource]) -> None:
        placement = args.placement
        script = k8s.core.v1.ConfigMap(
            f"{name}-bootstrap",
            metadata=placement.metadata(meta_labels),
            data={"bootstrap.sql": bootstrap_sql(args.databases, args.monitors)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        job_labels = placement.labels("postgres-bootstrap", name, "database-bootstrap")
        app_secrets = {db: connection.secret_name for db, connection in self.connections.items()}
        # A changed script or Secret name replaces the Job, so it reruns on change.
        job = bootstrap_job(args, job_labels, self.host, self.superuser_secret_name, app_secrets, script.metadata["name"])
        register(f"{name}-bootstrap", job, pulumi.ResourceOptions(parent=self, depends_on=depends_on))
