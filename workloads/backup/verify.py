"""`verify`: restore the newest dump of a database into a scratch database and compare row counts.

A dump that `pg_restore --list` can read may still fail to restore (an extension the role may not
create, a dependency missing); only a restore shows it. The scratch database is created on the same
server by the job's role (the backup job's admin), named `verify_<database>_<UTC time>`, restored
all or nothing, counted table by table against the rows in the archive's own data, and dropped,
whatever the outcome. Scratch databases a killed run left behind are dropped by a later run once
they are older than the Job's 3 h deadline (younger ones may be a run in progress).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workloads.backup import postgres, store
from workloads.backup.errors import BackupError

SCRATCH_PREFIX = "verify_"
STAMP = "%Y%m%d%H%M%S"
MAINTENANCE_DB = "postgres"
# A scratch database older than this belongs to a run that is over (the CronJob's Jobs are stopped
# after 3 h): younger ones may be another run's, started by hand beside the scheduled one.
ABANDONED_AFTER = timedelta(hours=3)
# Postgres truncates identifiers to 63 bytes; the scratch name adds 22 characters.
DATABASE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")


def check_database_name(database: str) -> None:
    if not DATABASE_NAME.match(database):
        raise BackupError(f"{database!r} is not a platform database name (lowercase identifier, at most 41 characters)")


def scratch_name(database: str, now: datetime) -> str:
    return f"{SCRATCH_PREFIX}{database}_{now.astimezone(UTC).strftime(STAMP)}"


def on_database(name: str) -> str:
    """A connection to database `name` on the server and as the role of libpq's environment."""
    return postgres.make_conninfo("", dbname=name)


def drop_database(name: str) -> None:
    postgres.query(on_database(MAINTENANCE_DB), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
                   f"dropping the scratch database {name}")


def drop_leftovers(database: str, now: datetime) -> list[str]:
    """Scratch databases of `database` that a run killed more than ABANDONED_AFTER ago left
    behind, dropped. (`database` is checked by `check_database_name`: safe inside the pattern.)"""
    pattern = f"^{SCRATCH_PREFIX}{database}_[0-9]{{14}}$"
    names = postgres.query(on_database(MAINTENANCE_DB), f"SELECT datname FROM pg_database WHERE datname ~ '{pattern}'",
                           "listing scratch databases")
    abandoned = [name for name in names
                 if datetime.strptime(name[-14:], STAMP).replace(tzinfo=UTC) < now - ABANDONED_AFTER]
    for name in abandoned:
        drop_database(name)
    return abandoned


def compare(expected: dict[str, int], restored: dict[str, int]) -> list[str]:
    """Tables whose restored row count differs from the archive's, as readable lines."""
    return [f"{table}: {count} rows in the dump, {restored.get(table)} restored"
            for table, count in expected.items() if restored.get(table) != count]


def _dropped(scratch: str) -> str:
    """Drop the scratch database; "" when done, else what went wrong, to add to the report."""
    try:
        drop_database(scratch)
    except BackupError as error:
        return f"; and the scratch database {scratch} could not be dropped: {error}"
    return ""


@dataclass(frozen=True)
class Verified:
    """A dump that restored with every table's rows: when it was written, and what was checked."""

    created: datetime
    summary: str


def verify_one(s3: Any, bucket: str, database: str, workdir: Path, now: datetime) -> Verified:
    """Restore the newest dump of `database` into a scratch database; BackupError unless every
    table holds the rows the dump holds."""
    check_database_name(database)
    backups = store.list_backups(s3, bucket, database)
    if not backups:
        raise BackupError(f"no dump of {database} under s3://{bucket}/{store.PREFIX}/{database}/")
    newest = backups[-1]
    path = workdir / f"{database}.dump"
    store.download_verified(s3, bucket, newest.key, path)
    postgres.check_archive(path, newest.uri)
    expected = postgres.archive_row_counts(path)
    drop_leftovers(database, now)
    scratch = scratch_name(database, now)
    postgres.query(on_database(MAINTENANCE_DB), f'CREATE DATABASE "{scratch}"', f"creating the scratch database {scratch}")
    try:
        postgres.restore(on_database(scratch), path)
        restored = postgres.table_row_counts(on_database(scratch), list(expected))
    except BackupError as error:
        raise BackupError(f"{newest.uri} does not restore: {error}{_dropped(scratch)}") from None
    dropped = _dropped(scratch)
    if dropped:
        raise BackupError(f"{newest.uri} restored{dropped}")
    mismatches = compare(expected, restored)
    if mismatches:
        raise BackupError(f"{newest.uri} restored, but row counts differ: " + "; ".join(mismatches))
    return Verified(newest.created, f"{database}: {newest.uri} restores: {len(expected)} tables, "
                                    f"{sum(expected.values())} rows, every count equal (scratch database {scratch} dropped)")
