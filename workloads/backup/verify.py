"""`verify`: restore the newest dump of a database into a scratch database and compare row counts.

A dump that `pg_restore --list` can read may still fail to restore (an extension the role may not
create, a dependency missing); only a restore shows it. The scratch database is created on the same
server by the job's role (the backup job's admin), named `verify_<database>_<UTC time>`, restored
all or nothing, counted table by table against the rows in the archive's own data, and dropped,
whatever the outcome. Scratch databases left by a killed run are dropped by the next one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workloads.backup import postgres, store
from workloads.backup.errors import BackupError

SCRATCH_PREFIX = "verify_"
MAINTENANCE_DB = "postgres"


def scratch_name(database: str, now: datetime) -> str:
    return f"{SCRATCH_PREFIX}{database}_{now.astimezone(UTC):%Y%m%d%H%M%S}"


def on_database(name: str) -> str:
    """A connection to database `name` on the server and as the role of libpq's environment."""
    return postgres.make_conninfo("", dbname=name)


def drop_database(name: str) -> None:
    postgres.query(on_database(MAINTENANCE_DB), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                   f"dropping the scratch database {name}")


def drop_leftovers(database: str) -> list[str]:
    """Scratch databases of `database` that an interrupted run left behind, dropped. (Database
    names are lowercase identifiers, safe inside the pattern.)"""
    pattern = f"^{SCRATCH_PREFIX}{database}_[0-9]{{14}}$"
    names = postgres.query(on_database(MAINTENANCE_DB), f"SELECT datname FROM pg_database WHERE datname ~ '{pattern}'",
                           "listing scratch databases")
    for name in names:
        drop_database(name)
    return names


def compare(expected: dict[str, int], restored: dict[str, int]) -> list[str]:
    """Tables whose restored row count differs from the archive's, as readable lines."""
    return [f"{table}: {count} rows in the dump, {restored.get(table)} restored"
            for table, count in expected.items() if restored.get(table) != count]


def verify_one(s3: Any, bucket: str, database: str, workdir: Path, now: datetime) -> str:
    """Restore the newest dump of `database` into a scratch database; BackupError unless every
    table holds the rows the dump holds."""
    backups = store.list_backups(s3, bucket, database)
    if not backups:
        raise BackupError(f"no dump of {database} under s3://{bucket}/{store.PREFIX}/{database}/")
    newest = backups[-1]
    path = workdir / f"{database}.dump"
    store.download_verified(s3, bucket, newest.key, path)
    postgres.check_archive(path, newest.uri)
    expected = postgres.archive_row_counts(path)
    drop_leftovers(database)
    scratch = scratch_name(database, now)
    postgres.query(on_database(MAINTENANCE_DB), f'CREATE DATABASE "{scratch}"', f"creating the scratch database {scratch}")
    try:
        postgres.restore(on_database(scratch), path)
        restored = postgres.table_row_counts(on_database(scratch), list(expected))
    finally:
        drop_database(scratch)
    mismatches = compare(expected, restored)
    if mismatches:
        raise BackupError(f"{newest.uri} restored, but row counts differ: " + "; ".join(mismatches))
    return (f"{database}: {newest.uri} restores: {len(expected)} tables, {sum(expected.values())} rows, "
            f"every count equal (scratch database {scratch} dropped)")
