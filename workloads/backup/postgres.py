"""pg_dump, pg_restore and psql as the backup CLI runs them. Connection settings come from libpq's
environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE), so no password is on a command line."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from psycopg.conninfo import make_conninfo

from workloads.backup.errors import BackupError

# Relations a fresh database has none of: anything in a schema that is not the system's, except
# what an extension owns (pg_stat_statements' views, say: an admin may create those first).
USER_RELATIONS = (
    "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
    "AND d.objid = c.oid AND d.deptype = 'e')"
)
# pg_restore --list lines of an extension and of its comment: "<id>; <oid> <oid> EXTENSION - <name> "
# and "<id>; 0 0 COMMENT - EXTENSION <name> ". Only an extension's owner may comment on it.
EXTENSION_ENTRY = re.compile(r"^\d+; \d+ \d+ (?:EXTENSION - |COMMENT - EXTENSION )(?P<name>\S+)")
# COPY's text format escapes newlines in values, so each data line is one row (PostgreSQL docs, COPY).
COPY_START = re.compile(r'^COPY (?P<table>(?:"(?:[^"]|"")+"|[^\s."]+)\.(?:"(?:[^"]|"")+"|[^\s."]+)) .*FROM stdin;$')


def dump_command(database: str, path: Path) -> list[str]:
    """Custom format: compressed, restorable table by table, checked with `pg_restore --list`."""
    return ["pg_dump", "--format=custom", "--no-password", "--dbname", database, "--file", str(path)]


def pg_restore_command(target: str, path: Path) -> list[str]:
    """Objects end up owned by the role that restores (the app's own role), all or nothing."""
    return ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
            "--no-password", "--dbname", target, str(path)]


def run(command: list[str], what: str, timeout: float = 3600, password: str | None = None) -> str:
    """`password`, if given, replaces libpq's PGPASSWORD for this command only."""
    env = {**os.environ, "PGPASSWORD": password} if password is not None else None
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except FileNotFoundError:
        raise BackupError(f"{what}: {command[0]} is not installed (the workloads image ships postgresql-client)") from None
    except subprocess.TimeoutExpired:
        raise BackupError(f"{what}: {command[0]} did not finish within {timeout:.0f} s") from None
    if result.returncode != 0:
        raise BackupError(f"{what}: {command[0]} failed: {result.stderr.strip()[-1500:]}")
    return result.stdout


def dump(database: str, path: Path) -> None:
    run(dump_command(database, path), f"dump of {database}")


def table_of_contents(path: Path, what: str) -> list[str]:
    """The archive's entries (`pg_restore --list`); a damaged archive fails here. An empty
    database (the Feast registry before its first `feast apply`) has none, and is a valid dump."""
    listing = run(["pg_restore", "--list", str(path)], what, timeout=600)
    return [line for line in listing.splitlines() if line and not line.startswith(";")]


def check_archive(path: Path, what: str) -> int:
    """Number of entries in the archive's table of contents; a damaged archive fails here."""
    return len(table_of_contents(path, what))


def extensions(entries: list[str]) -> list[str]:
    """Names of the extensions the archive creates, in its order."""
    return list(dict.fromkeys(m["name"] for line in entries if (m := EXTENSION_ENTRY.match(line))))


def query(target: str, sql: str, what: str) -> list[str]:
    out = run(["psql", "--no-psqlrc", "--no-password", "--tuples-only", "--no-align", "--field-separator=\t",
               "--set=ON_ERROR_STOP=1", "--dbname", target, "--command", sql], what)
    return [line for line in out.splitlines() if line]


def user_relations(target: str) -> int:
    return int((query(target, USER_RELATIONS, "checking the target database") or ["0"])[0])


def installed_extensions(target: str) -> set[str]:
    return set(query(target, "SELECT extname FROM pg_extension", "listing the target's extensions"))


def as_user(target: str, user: str) -> str:
    """The same connection (string or URI) as another role."""
    return make_conninfo(target, user=user)


def create_extensions(target: str, path: Path, entries: list[str], names: list[str], role: str,
                      password: str | None = None) -> None:
    """Run the archive's own CREATE EXTENSION (and COMMENT ON EXTENSION) statements for `names`,
    all or nothing, on `target` (a connection as `role`, with `password` if given)."""
    wanted = [line for line in entries if (m := EXTENSION_ENTRY.match(line)) and m["name"] in names]
    use_list = path.with_suffix(".extensions.list")
    use_list.write_text("\n".join(wanted) + "\n")
    sql = run(["pg_restore", "--use-list", str(use_list), "--file", "-", str(path)], "reading the dump's extensions")
    script = path.with_suffix(".extensions.sql")
    script.write_text(sql)
    try:
        run(["psql", "--no-psqlrc", "--no-password", "--set=ON_ERROR_STOP=1", "--single-transaction",
             "--dbname", target, "--file", str(script)], f"creating extension(s) {', '.join(names)} as {role}",
            password=password)
    except BackupError as error:
        raise BackupError(f"the dump needs extension(s) {', '.join(names)}, which {role} could not create; "
                          "restore with --admin-user (a role allowed to create them, its password in "
                          f"ADMIN_PGPASSWORD); nothing was restored. {error}") from None


def restore(target: str, path: Path, entries: list[str] | None = None) -> None:
    """Restore the archive, or only `entries` of its table of contents."""
    command = pg_restore_command(target, path)
    if entries is not None:
        use_list = path.with_suffix(".restore.list")
        use_list.write_text("\n".join(entries) + "\n")
        command[1:1] = ["--use-list", str(use_list)]
    run(command, "restore")


def archive_row_counts(path: Path, timeout: float = 3600) -> dict[str, int]:
    """Rows per table in the archive's data, by schema-qualified name as pg_dump quotes it. Read
    as bytes: a database in any encoding counts the same."""
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(["pg_restore", "--data-only", "--file", "-", str(path)], stdout=subprocess.PIPE,
                                   stderr=errors)
        try:
            counts = count_copy_rows(line.decode("utf-8", "replace") for line in process.stdout)
            process.wait(timeout=timeout)
        finally:
            process.stdout.close()
            if process.poll() is None:
                process.kill()
                process.wait()
        errors.seek(0)
        error = errors.read().decode("utf-8", "replace")
    if process.returncode != 0:
        raise BackupError(f"reading the data of {path.name}: pg_restore failed: {error.strip()[-1500:]}")
    return counts


def count_copy_rows(lines: Iterable[str]) -> dict[str, int]:
    """Rows per table of `pg_restore --file -` output: the lines between `COPY ... FROM stdin;`
    and `\\.`."""
    counts: dict[str, int] = {}
    table = None
    for line in lines:
        if table is None:
            match = COPY_START.match(line.rstrip("\n"))
            if match:
                table = match["table"]
                counts[table] = 0
        elif line.rstrip("\n") == "\\.":
            table = None
        else:
            counts[table] += 1
    return counts


def table_row_counts(target: str, tables: list[str]) -> dict[str, int]:
    """`SELECT count(*)` of each table (names as pg_dump quotes them), in one query."""
    if not tables:
        return {}
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {table})" for table in tables)
    values = query(target, sql, "counting the restored rows")[0].split("\t")
    return dict(zip(tables, map(int, values), strict=True))
