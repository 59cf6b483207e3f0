"""Restore drill on real servers: fill MLflow and the Feast registry, back up with the CronJob's
command, drop the databases, restore into fresh ones, and compare everything through MLflow's API.

The drill runs its own Postgres and MLflow (dropping databases must not disturb other tests) and
the shared S3 server. Commands and env come from platform_components/postgres_backup.py, as the
CronJob and docs/operations.md run them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import psycopg
import pytest
from botocore.config import Config
from feast import FeatureStore
from mlflow.tracking import MlflowClient

from platform_components.k8s import resolve_env
from platform_components.platform import BACKUPS_BUCKET, DATABASES
from platform_components.postgres import AppDatabase
from platform_components.postgres_backup import (
    BackupEndpoints,
    BackupSecrets,
    backup_command,
    backup_env,
    list_command,
    restore_command,
    verify_command,
)
from tools.servers.feast import LocalFeatureStore
from tools.servers.mlflow import LocalMlflow
from tools.servers.postgres import LocalPostgres

ROOT = Path(__file__).resolve().parents[2]
DATABASE_NAMES = tuple(db.name for db in DATABASES)


@dataclass
class Drill:
    postgres: LocalPostgres
    mlflow: LocalMlflow
    features: LocalFeatureStore
    object_store: object

    def env(self) -> dict[str, str]:
        endpoints = BackupEndpoints("127.0.0.1", self.postgres.port, "postgres", self.object_store.endpoint)
        values = {"pg": {"password": self.postgres.superuser_password},
                  "s3": self.object_store.credentials("backup")}
        return {**os.environ, **resolve_env(backup_env(endpoints, BackupSecrets("pg", "s3")), values),
                "PYTHONPATH": str(ROOT)}

    def run(self, command: list[str], **env: str) -> subprocess.CompletedProcess:
        command = [sys.executable, *command[1:]] if command[0] == "python" else command
        return subprocess.run(command, env={**self.env(), **env}, cwd=ROOT, capture_output=True, text=True, timeout=600)

    def backup(self, keep: int = 3) -> subprocess.CompletedProcess:
        return self.run(backup_command(BACKUPS_BUCKET, DATABASE_NAMES, keep))

    def newest(self, database: str) -> str:
        listing = self.run(list_command(BACKUPS_BUCKET))
        assert listing.returncode == 0, listing.stderr
        uris = [line.split("\t")[3] for line in listing.stdout.splitlines() if line.startswith(f"{database}\t")]
        return uris[-1]

    def restore(self, database: str, source: str) -> subprocess.CompletedProcess:
        target = f"host=127.0.0.1 port={self.postgres.port} dbname={database} user={database}"
        return self.run(restore_command(source, target), PGPASSWORD=self.postgres.app_passwords[database],
                        PGUSER=database)

    def drop_and_recreate(self) -> None:
        with psycopg.connect(self.postgres.superuser_uri(), autocommit=True) as conn:
            for database in DATABASE_NAMES:
                conn.execute(f"DROP DATABASE {database} WITH (FORCE)")
        self.postgres.bootstrap(DATABASES)  # fresh, empty databases owned by the same roles


def s3(object_store):
    return boto3.client("s3", endpoint_url=object_store.endpoint, region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}),
                        **{key.lower(): value for key, value in object_store.credentials("admin").items()})


def snapshot(client: MlflowClient, model: str, scratch: Path) -> dict:
    """Everything a team would miss: experiments, runs (params, metric histories, tags, artifact
    bytes), registered models with their versions, aliases and tags."""
    experiments = sorted((e.name, e.experiment_id, e.lifecycle_stage) for e in client.search_experiments())
    runs = {}
    for run in client.search_runs([e[1] for e in experiments]):
        history = {key: [(m.step, m.value, m.timestamp) for m in client.get_metric_history(run.info.run_id, key)]
                   for key in run.data.metrics}
        target = scratch / run.info.run_id
        target.mkdir(parents=True, exist_ok=True)
        artifact = Path(client.download_artifacts(run.info.run_id, "report.txt", str(target))).read_bytes()
        runs[run.info.run_id] = (run.info.run_name, run.info.status, run.data.params,
                                 {k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.")}, history, artifact)
    registered = client.get_registered_model(model)
    versions = sorted((v.version, v.run_id, v.source, v.status) for v in client.search_model_versions(f"name='{model}'"))
    return {"experiments": experiments, "runs": runs, "aliases": dict(registered.aliases),
            "model_tags": dict(registered.tags), "versions": versions}


def registry_contents(features: LocalFeatureStore) -> dict:
    env = features.env()
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        store = FeatureStore(repo_path=str(features.repo_dir))
        return {"views": sorted(v.name for v in store.list_feature_views()),
                "entities": sorted(e.name for e in store.list_entities()),
                "services": sorted(s.name for s in store.list_feature_services())}
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def drill(object_store, platform) -> Iterator[Drill]:
    postgres = LocalPostgres().start()
    try:
        postgres.bootstrap(DATABASES)
        mlflow = LocalMlflow(postgres, object_store).start()
        features = LocalFeatureStore(postgres, platform.redis, object_store, project=f"drill{uuid.uuid4().hex[:6]}",
                                     data_uri=f"s3://features/drill-{uuid.uuid4().hex[:6]}")
        yield Drill(postgres, mlflow, features, object_store)
        mlflow.destroy()
    finally:
        postgres.destroy()


def test_restore_drill_brings_back_mlflow_and_the_feature_registry(drill, tmp_path, monkeypatch):
    username, password = drill.mlflow.admin
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", username)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    client = MlflowClient(drill.mlflow.url)
    experiment = client.create_experiment("restore-drill")
    run_ids = []
    for index in range(2):
        run = client.create_run(experiment, run_name=f"run-{index}", tags={"team": "ml"})
        client.log_param(run.info.run_id, "depth", str(4 + index))
        for step in range(3):
            client.log_metric(run.info.run_id, "auc", 0.7 + step / 100 + index / 10, step=step)
        report = tmp_path / "report.txt"
        report.write_bytes(os.urandom(2048))
        client.log_artifact(run.info.run_id, str(report))
        client.set_terminated(run.info.run_id)
        run_ids.append(run.info.run_id)
    model = "drill-model"
    client.create_registered_model(model, tags={"owner": "ml"})
    for run_id in run_ids:
        client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    client.set_registered_model_alias(model, "champion", "2")
    applied = drill.features.apply()
    assert applied.returncode == 0, applied.stderr[-2000:]
    before, registry_before = snapshot(client, model, tmp_path / "before"), registry_contents(drill.features)
    assert len(before["runs"]) == 2 and before["aliases"] == {"champion": "2"} and registry_before["views"]

    backup = drill.backup()
    assert backup.returncode == 0, backup.stderr
    assert backup.stdout.count("kept newest 3") == len(DATABASE_NAMES)

    drill.mlflow.stop()
    drill.drop_and_recreate()
    for database in DATABASE_NAMES:
        restored = drill.restore(database, drill.newest(database))
        assert restored.returncode == 0, restored.stderr
        assert "restored s3://backups/postgres/" in restored.stdout
    drill.mlflow.start()  # runs `mlflow db upgrade` on the restored database first, as the pod does

    after = snapshot(client, model, tmp_path / "after")
    assert after == before
    assert registry_contents(drill.features) == registry_before


def test_retention_keeps_exactly_the_newest_n(drill):
    listing_before = drill.run(list_command(BACKUPS_BUCKET)).stdout
    for _ in range(3):
        result = drill.backup(keep=2)
        assert result.returncode == 0, result.stderr
    lines = drill.run(list_command(BACKUPS_BUCKET)).stdout.splitlines()
    for database in DATABASE_NAMES:
        kept = [line for line in lines if line.startswith(f"{database}\t")]
        assert len(kept) == 2
        assert all(line.split("\t")[3] not in listing_before for line in kept), "the newest two are the new ones"


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_a_damaged_dump_is_refused_and_the_target_untouched(drill, damage):
    result = drill.backup(keep=5)
    assert result.returncode == 0, result.stderr
    source = drill.newest("mlflow_auth")
    bucket, key = source[len("s3://"):].split("/", 1)
    client = s3(drill.object_store)
    stored = client.get_object(Bucket=bucket, Key=key)
    body, metadata = stored["Body"].read(), stored["Metadata"]
    damaged = body[: len(body) // 2] if damage == "truncated" else body[:100] + bytes([body[100] ^ 0xFF]) + body[101:]
    client.put_object(Bucket=bucket, Key=key, Body=damaged, Metadata=metadata)  # same recorded checksum

    with psycopg.connect(drill.postgres.superuser_uri(), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS drill_target WITH (FORCE)")
        conn.execute("CREATE DATABASE drill_target OWNER mlflow_auth")
    target = f"host=127.0.0.1 port={drill.postgres.port} dbname=drill_target user=mlflow_auth"
    refused = drill.run(restore_command(source, target), PGPASSWORD=drill.postgres.app_passwords["mlflow_auth"])
    assert refused.returncode == 1
    assert f"{source} is corrupted or truncated" in refused.stderr and "refusing to restore it" in refused.stderr
    with psycopg.connect(drill.postgres.superuser_uri("drill_target")) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)


def test_restore_refuses_a_database_that_is_not_empty_and_an_object_without_checksum(drill):
    result = drill.backup(keep=5)
    assert result.returncode == 0, result.stderr
    occupied = drill.restore("mlflow", drill.newest("mlflow"))  # the live tracking database
    assert occupied.returncode == 1
    assert "the target database holds" in occupied.stderr and "restore into an empty database" in occupied.stderr
    s3(drill.object_store).put_object(Bucket=BACKUPS_BUCKET, Key="postgres/mlflow/stray.dump", Body=b"not a dump")
    stray = drill.restore("mlflow", f"s3://{BACKUPS_BUCKET}/postgres/mlflow/stray.dump")
    assert stray.returncode == 1 and "has no recorded checksum" in stray.stderr


def test_backup_of_a_missing_database_fails_clearly_and_deletes_nothing(drill):
    before = drill.run(list_command(BACKUPS_BUCKET)).stdout
    result = drill.run(backup_command(BACKUPS_BUCKET, ("no_such_db",), 1))
    assert result.returncode == 1
    assert "backup of no_such_db FAILED, nothing deleted" in result.stderr and "no_such_db" in result.stderr
    assert drill.run(list_command(BACKUPS_BUCKET)).stdout == before


# What an admin adds that the app role may not create (pg_stat_statements, postgres_fdw: not
# trusted), and one it may (pg_trgm, trusted) that the app's own index depends on.
EXTENSIONS = ("pg_stat_statements", "postgres_fdw", "pg_trgm")


@pytest.fixture(scope="module")
def extension_dump(drill) -> str:
    """A backup of database `extapp`: extensions created by the superuser, a table with an index
    that needs pg_trgm, 500 rows."""
    drill.postgres.bootstrap((AppDatabase("extapp"),))
    with psycopg.connect(drill.postgres.superuser_uri("extapp"), autocommit=True) as conn:
        for extension in EXTENSIONS:
            conn.execute(f"CREATE EXTENSION IF NOT EXISTS {extension}")
    with psycopg.connect(drill.postgres.uri("extapp"), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (id int PRIMARY KEY, body text)")
        conn.execute("INSERT INTO notes SELECT g, 'line ' || g || E'\\nwith a newline' FROM generate_series(1, 500) g "
                     "ON CONFLICT DO NOTHING")
        conn.execute("CREATE INDEX IF NOT EXISTS notes_trgm ON notes USING gin (body gin_trgm_ops)")
    result = drill.run(backup_command(BACKUPS_BUCKET, ("extapp",), 3))
    assert result.returncode == 0, result.stderr
    return drill.newest("extapp")


def empty_database(drill, name: str, *extensions: str) -> str:
    """A fresh database owned by `extapp`, with `extensions` created by the superuser; its target string."""
    with psycopg.connect(drill.postgres.superuser_uri(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name} OWNER extapp")
    with psycopg.connect(drill.postgres.superuser_uri(name), autocommit=True) as conn:
        for extension in extensions:
            conn.execute(f"CREATE EXTENSION {extension}")
    return f"host=127.0.0.1 port={drill.postgres.port} dbname={name} user=extapp"


def contents(drill, name: str) -> tuple:
    with psycopg.connect(drill.postgres.superuser_uri(name)) as conn:
        return (conn.execute("SELECT count(*) FROM notes WHERE body LIKE '%line 42%'").fetchone()[0],
                conn.execute("SELECT count(*) FROM notes").fetchone()[0],
                sorted(r[0] for r in conn.execute("SELECT extname FROM pg_extension WHERE extname <> 'plpgsql'")),
                conn.execute("SELECT indexdef LIKE '%gin_trgm_ops%' FROM pg_indexes WHERE indexname = 'notes_trgm'").fetchone())


def test_a_dump_with_admin_extensions_restores_as_the_app_role_with_an_admin_for_the_extensions(drill, extension_dump):
    password = {"PGPASSWORD": drill.postgres.app_passwords["extapp"]}
    target = empty_database(drill, "extapp_restored")

    refused = drill.run(restore_command(extension_dump, target), **password)
    assert refused.returncode == 1
    assert "needs extension(s) pg_stat_statements, pg_trgm, postgres_fdw" in refused.stderr and "--admin-user" in refused.stderr
    with psycopg.connect(drill.postgres.superuser_uri("extapp_restored")) as conn:  # all or nothing
        assert conn.execute("SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)

    restored = drill.run(restore_command(extension_dump, target, admin_user="postgres"),
                         ADMIN_PGPASSWORD=drill.postgres.superuser_password, **password)
    assert restored.returncode == 0, restored.stderr
    assert "created extension(s) pg_stat_statements, pg_trgm, postgres_fdw" in restored.stdout
    assert contents(drill, "extapp_restored") == (11, 500, sorted(EXTENSIONS), (True,))
    with psycopg.connect(drill.postgres.superuser_uri("extapp_restored")) as conn:
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'notes'").fetchone()
    assert owner == ("extapp",), "the app's objects belong to the app role, not the admin"


def test_extensions_an_admin_created_beforehand_do_not_count_as_a_non_empty_target(drill, extension_dump):
    target = empty_database(drill, "extapp_prepared", *EXTENSIONS)
    restored = drill.run(restore_command(extension_dump, target), PGPASSWORD=drill.postgres.app_passwords["extapp"])
    assert restored.returncode == 0, restored.stderr
    assert "created extension" not in restored.stdout
    assert contents(drill, "extapp_prepared") == (11, 500, sorted(EXTENSIONS), (True,))


def test_verify_restores_the_newest_dumps_into_scratch_databases_and_counts_every_row(drill, extension_dump):
    backup = drill.backup(keep=5)
    assert backup.returncode == 0, backup.stderr
    leftover = "verify_mlflow_20200101000000"  # from a run killed before it cleaned up
    running = f"verify_mlflow_{datetime.now(UTC) - timedelta(hours=1):%Y%m%d%H%M%S}"  # another run's, in progress
    with psycopg.connect(drill.postgres.superuser_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {leftover}")
        conn.execute(f"CREATE DATABASE {running}")
    result = drill.run(verify_command(BACKUPS_BUCKET, (*DATABASE_NAMES, "extapp")))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(DATABASE_NAMES) + 1 and all("every count equal" in line for line in lines), lines
    assert any(line.startswith("extapp: ") and " 500 rows" in line for line in lines), lines
    tables = {line.split(":")[0]: int(line.split(" restores: ")[1].split(" tables")[0]) for line in lines}
    assert tables["mlflow"] >= 20 and tables["mlflow_auth"] >= 3, tables  # every table's data was read
    with psycopg.connect(drill.postgres.superuser_uri(), autocommit=True) as conn:
        scratch = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'verify%'").fetchall()
        conn.execute(f"DROP DATABASE {running}")
    assert scratch == [(running,)], "only the abandoned scratch database is dropped"


def test_restore_with_an_admin_but_no_admin_password_is_a_usage_error(drill, extension_dump):
    target = empty_database(drill, "extapp_nopassword")
    result = drill.run(restore_command(extension_dump, target, admin_user="postgres"),
                       PGPASSWORD=drill.postgres.app_passwords["extapp"])
    assert result.returncode == 2 and "ADMIN_PGPASSWORD" in result.stderr


def test_verify_fails_clearly_for_a_database_without_dumps(drill):
    result = drill.run(verify_command(BACKUPS_BUCKET, ("never_backed_up",)))
    assert result.returncode == 1
    assert "verification of never_backed_up FAILED: no dump of never_backed_up" in result.stderr


def test_an_empty_database_backs_up_verifies_and_restores(drill):
    """The Feast registry has no tables until the first `feast apply`: the nightly job must not fail on it."""
    drill.postgres.bootstrap((AppDatabase("emptyapp"),))
    backup = drill.run(backup_command(BACKUPS_BUCKET, ("emptyapp",), 3))
    assert backup.returncode == 0, backup.stderr
    verified = drill.run(verify_command(BACKUPS_BUCKET, ("emptyapp",)))
    assert verified.returncode == 0, verified.stderr
    assert "restores: 0 tables, 0 rows" in verified.stdout
    target = f"host=127.0.0.1 port={drill.postgres.port} dbname=emptyapp user=emptyapp"
    restored = drill.run(restore_command(drill.newest("emptyapp"), target), PGUSER="emptyapp",
                         PGPASSWORD=drill.postgres.app_passwords["emptyapp"])
    assert restored.returncode == 0, restored.stderr
