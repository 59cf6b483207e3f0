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
    setup_job_spec,
    single_statefulset_spec,
    startup_variant,
    volume_claim,
)
from platform_components.validation import ArgError, require_dns_label, require_pinned_image, require_quantity

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


def bootstrap_sql(databases: tuple[AppDatabase, ...]) -> str:
    """psql script that converges roles and databases; safe to run any number of times.

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
    return "\n".join(lines) + "\n"


def bootstrap_command(script: str = f"{BOOTSTRAP_DIR}/bootstrap.sql") -> list[str]:
    return ["psql", "--no-psqlrc", "--file", script]


def readiness_command(port: int = PORT) -> list[str]:
    return ["pg_isready", "--host", "127.0.0.1", "--port", str(port), "--username", "postgres"]


@dataclass(frozen=True)
class PostgresOptions:
    """What a stack tunes (config keys `postgres*`)."""

    resources: Resources
    storage_size: str = "8Gi"

    def __post_init__(self) -> None:
        require_quantity("storage_size", self.storage_size)


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
    namespace: str
    environment: str
    databases: tuple[AppDatabase, ...]
    options: PostgresOptions
    storage_class: str | None = None
    identity: PodIdentity = PodIdentity()
    image: str = images.POSTGRES
    service_name: str = "postgres"
    protect: bool = False
    external: ExternalServer | None = None

    def __post_init__(self) -> None:
        require_dns_label("service_name", self.service_name)
        require_pinned_image("image", self.image)
        if not self.databases:
            raise ArgError("databases", "must list at least one application database")
        names = [db.name for db in self.databases]
        if len(set(names)) != len(names) or "postgres" in names:
            raise ArgError("databases", f"must be unique and not 'postgres', got {names}")


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


class PostgresDatabase(pulumi.ComponentResource):
    host: str
    port: int
    superuser_secret_name: pulumi.Output[str]
    connections: dict[str, DatabaseConnection]
    selector: dict[str, str] | None  # None when the server is external: see `external_cidr`
    external_cidr: str | None
    job_selector: dict[str, str]

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:PostgresDatabase", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        meta_labels = labels("postgres", name, "database", args.environment)
        selector = selector_labels("postgres", name)
        external = args.external
        self.host = external.host if external else f"{args.service_name}.{args.namespace}.svc.cluster.local"
        self.port = PORT
        sslmode = external.sslmode if external else None

        def password(suffix: str) -> pulumi.Output[str]:
            generated = random.RandomPassword(f"{name}-{suffix}-password", length=32, special=False, opts=child)
            return pulumi.Output.secret(generated.result)

        superuser = k8s.core.v1.Secret(
            f"{name}-superuser",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            type="kubernetes.io/basic-auth",
            string_data=(
                {"username": external.admin_user, "password": pulumi.Output.secret(external.admin_password)}
                if external
                else {"username": "postgres", "password": password("superuser")}
            ),
            opts=child,
        )
        self.superuser_secret_name = superuser.metadata["name"]

        self.connections = {}
        app_secrets: dict[str, k8s.core.v1.Secret] = {}
        for db in args.databases:
            db_password = password(db.name.replace("_", "-"))
            secret = k8s.core.v1.Secret(
                f"{name}-{db.name.replace('_', '-')}",
                metadata={"namespace": args.namespace, "labels": meta_labels},
                type="kubernetes.io/basic-auth",
                string_data={
                    "username": db.name,
                    "password": db_password,
                    "database": db.name,
                    "host": self.host,
                    "port": str(PORT),
                    **({"sslmode": sslmode} if sslmode else {}),
                },
                opts=child,
            )
            app_secrets[db.name] = secret
            self.connections[db.name] = DatabaseConnection(
                self.host, PORT, db.name, db.name, secret.metadata["name"], db_password, sslmode
            )
        self.job_selector = selector_labels("postgres-bootstrap", name)
        self.selector = None if external else selector
        self.external_cidr = external.cidr if external else None
        server = [] if external else [self._server(name, args, selector, meta_labels, superuser)]
        self._bootstrap(name, args, superuser, app_secrets, depends_on=server)
        self.register_outputs(
            {
                "host": self.host,
                "superuser_secret_name": self.superuser_secret_name,
                "app_secret_names": {db: conn.secret_name for db, conn in self.connections.items()},
            }
        )

    def _server(self, name: str, args: PostgresArgs, selector: dict[str, str], meta_labels: dict[str, str],
                superuser: k8s.core.v1.Secret) -> k8s.apps.v1.StatefulSet:
        """The in-cluster server: headless Service and a one-replica StatefulSet with its volume."""
        child = pulumi.ResourceOptions(parent=self)

        service = k8s.core.v1.Service(
            f"{name}-service",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec={
                # Headless: it is also the StatefulSet's governing Service (stable pod DNS).
                "clusterIP": "None",
                "selector": selector,
                "ports": [{"name": "postgres", "port": PORT, "targetPort": "postgres"}],
            },
            opts=child,
        )

        ready = readiness_command()
        server = container(
            name="postgres",
            image=args.image,
            env=[
                secret_env("POSTGRES_PASSWORD", superuser.metadata["name"], "password"),
                {"name": "PGDATA", "value": f"{DATA_DIR}/pgdata"},
            ],
            ports=[{"name": "postgres", "containerPort": PORT}],
            resources=args.options.resources,
            volume_mounts=[
                {"name": "data", "mountPath": DATA_DIR},
                {"name": "run", "mountPath": "/var/run/postgresql"},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
            readiness=exec_probe(ready, period=10),
            liveness=exec_probe(ready, period=20, failures=6),
            startup=startup_variant(exec_probe(ready), budget_seconds=300),
        )
        statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata={"name": args.service_name, "namespace": args.namespace, "labels": meta_labels},
            spec=single_statefulset_spec(
                service_name=args.service_name,
                selector=selector,
                pod_labels=meta_labels,
                pod={
                    **pod_spec(
                        identity=args.identity,
                        containers=[server],
                        volumes=[empty_dir("run", "16Mi"), empty_dir("tmp", "256Mi")],
                    ),
                    # A clean shutdown checkpoints; SIGKILL after 30 s means crash recovery.
                    "terminationGracePeriodSeconds": 60,
                },
                claims=[volume_claim("data", args.options.storage_size, args.storage_class)],
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[service]),
        )

        return statefulset

    def _bootstrap(self, name: str, args: PostgresArgs, superuser: k8s.core.v1.Secret,
                   app_secrets: dict[str, k8s.core.v1.Secret], depends_on: list[pulumi.Resource]) -> None:
        child = pulumi.ResourceOptions(parent=self)
        meta_labels = labels("postgres", name, "database", args.environment)
        admin_user = args.external.admin_user if args.external else "postgres"
        script = k8s.core.v1.ConfigMap(
            f"{name}-bootstrap",
            metadata={"namespace": args.namespace, "labels": meta_labels},
            data={"bootstrap.sql": bootstrap_sql(args.databases)},
            opts=child,
        )
        job_labels = labels("postgres-bootstrap", name, "database-bootstrap", args.environment)
        job_env = [
            {"name": "PGHOST", "value": self.host},
            {"name": "PGPORT", "value": str(PORT)},
            {"name": "PGUSER", "value": admin_user},
            {"name": "PGDATABASE", "value": "postgres"},
            {"name": "HOME", "value": "/tmp"},
            secret_env("PGPASSWORD", superuser.metadata["name"], "password"),
            *([{"name": "PGSSLMODE", "value": args.external.sslmode}] if args.external else []),
        ] + [secret_env(db.password_env, app_secrets[db.name].metadata["name"], "password") for db in args.databases]
        bootstrap = container(
            name="bootstrap",
            image=args.image,
            command=bootstrap_command(),
            env=job_env,
            resources=Resources("50m", "64Mi", "128Mi"),
            volume_mounts=[
                {"name": "script", "mountPath": BOOTSTRAP_DIR, "readOnly": True},
                {"name": "tmp", "mountPath": "/tmp"},
            ],
        )
        # Auto-named: a changed script or Secret name gives a new Job, so it reruns on change.
        k8s.batch.v1.Job(
            f"{name}-bootstrap",
            metadata={"namespace": args.namespace, "labels": job_labels},
            spec=setup_job_spec(
                pod_labels=job_labels,
                pod=pod_spec(
                    identity=args.identity,
                    containers=[bootstrap],
                    volumes=[
                        {"name": "script", "configMap": {"name": script.metadata["name"]}},
                        empty_dir("tmp", "16Mi"),
                    ],
                    restart_policy="OnFailure",
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on),
        )
