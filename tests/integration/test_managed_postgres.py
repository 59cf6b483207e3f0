"""The bootstrap Job on a managed server (Azure Flexible Server): its admin is no superuser, and the
databases exist before their roles because the cloud API created them. A real Postgres plays it."""

from __future__ import annotations

import secrets
import uuid

import psycopg
import pytest

from platform_components.mlflow_server import postgres_uri
from platform_components.postgres import AppDatabase


@pytest.fixture
def managed_admin(platform):
    """A role with Azure's admin powers (CREATEROLE, CREATEDB, not superuser) owning two databases."""
    suffix = uuid.uuid4().hex[:8]
    admin, password = f"azure_admin_{suffix}", secrets.token_urlsafe(16)
    databases = (AppDatabase(f"managed_a_{suffix}"), AppDatabase(f"managed_b_{suffix}"))
    superuser = platform.postgres.superuser_uri()
    with psycopg.connect(superuser, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {admin} LOGIN CREATEROLE CREATEDB PASSWORD '{password}'")
    admin_uri = superuser.replace(f"postgres:{platform.postgres.superuser_password}@", f"{admin}:{password}@")
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        for db in databases:
            conn.execute(f"CREATE DATABASE {db.name}")  # what `dbforpostgresql.Database` does
    yield (admin, password), databases
    with psycopg.connect(superuser, autocommit=True) as conn:
        for db in databases:
            conn.execute(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
            conn.execute(f"DROP ROLE IF EXISTS {db.name}")
        conn.execute(f"DROP ROLE IF EXISTS {admin}")


def test_bootstrap_as_a_non_superuser_admin_hands_each_database_to_its_role(platform, managed_admin):
    admin, databases = managed_admin
    for _ in range(2):  # converges, and a second run (any later `pulumi up`) changes nothing
        platform.postgres.bootstrap(databases, admin=admin)
    with psycopg.connect(platform.postgres.superuser_uri()) as conn:
        for db in databases:
            owner, superuser = conn.execute(
                "SELECT r.rolname, r.rolsuper FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba "
                "WHERE d.datname = %s", (db.name,)).fetchone()
            assert (owner, superuser) == (db.name, False)
    first, second = databases
    with psycopg.connect(platform.postgres.uri(first.name), autocommit=True) as conn:
        conn.execute("CREATE TABLE migrations_work (id int)")  # what `mlflow db upgrade` needs
    other = postgres_uri(first.name, "127.0.0.1", platform.postgres.port, second.name,
                         platform.postgres.app_passwords[first.name])
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(other).close()
