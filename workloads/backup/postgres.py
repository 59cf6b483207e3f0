"""pg_dump, pg_restore and psql as the backup CLI runs them. Connection settings come from libpq's
environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE), so no password is on a command line."""

from __future__ import annotations

import subprocess
from pathlib import Path

from workloads.backup.errors import BackupError

# Relations a fresh database has none of: anything in a schema that is not the system's.
USER_RELATIONS = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'"
)


def dump_command(database: str, path: Path) -> list[str]:
    """Custom format: compressed, restorable table by table, checked with `pg_restore --list`."""
    return ["pg_dump", "--format=custom", "--no-password", "--dbname", database, "--file", str(path)]


def pg_restore_command(target: str, path: Path) -> list[str]:
    """Objects end up owned by the role that restores (the app's own role), all or nothing."""
    return ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            "--no-password", "--dbname", target, str(path)]


def run(command: list[str], what: str, timeout: float = 3600) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise BackupError(f"{what}: {command[0]} is not installed (the workloads image ships postgresql-client)") from None
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what}: {command[0]} did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        raise BackupError(f"{what}: {command[0]} failed: {result.stderr.strip()[-1500:]}")
    return result.stdout


def dump(database: str, path: Path) -> None:
    run(dump_command(database, path), f"dump of {database}")


def check_archive(path: Path, what: str) -> int:
    """Number of entries in the archive's table of contents; a damaged archive fails here."""
    listing = run(["pg_restore", "--list", str(path)], what, timeout=600)
    entries = [line for line in listing.splitlines() if line and not line.startswith(";")]
    if not entries:
        raise BackupError(f"{what}: the archive lists no objects")
    return len(entries)


def user_relations(target: str) -> int:
    out = run(["psql", "--no-psqlrc", "--no-password", "--tuples-only", "--no-align", "--dbname", target,
               "--command", USER_RELATIONS], "checking the target database")
    return int(out.strip() or 0)


def restore(target: str, path: Path) -> None:
    run(pg_restore_command(target, path), "restore")
