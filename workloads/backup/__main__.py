"""`python -m workloads.backup` - Postgres backups in the object store, and restores from them.

  backup  --bucket backups --database mlflow [--database ...] --keep 7
          pg_dump (custom format) of each database -> s3://<bucket>/postgres/<db>/<UTC time>.dump
          with its SHA-256; the upload is read back and checked before older dumps beyond --keep
          are deleted.
  restore --from s3://backups/postgres/mlflow/<time>.dump --to "host=... dbname=mlflow user=mlflow"
          [--admin-user postgres]
          checks the checksum and that the target database is empty (objects of extensions aside),
          creates the dump's extensions the target lacks (as --admin-user when given: the app role
          may not create most), then restores everything else in one transaction.
  verify  --bucket backups --database mlflow [--database ...]
          restores the newest dump of each database into a scratch database on the same server,
          compares row counts per table with the dump's, and drops the scratch database.
  list    --bucket backups [--database mlflow]

Postgres connection: libpq's PGHOST, PGPORT, PGUSER, PGPASSWORD, PGSSLMODE (keep the password out
of --to); --admin-user's password in ADMIN_PGPASSWORD. `verify` needs a role that may create
databases (the backup job's admin). S3: AWS_ENDPOINT_URL (or --endpoint-url), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
Exit codes: 0 done, 1 a backup, restore or verification failed (the message says which and why),
2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from workloads import cli, outcomes
from workloads import metric_names as names
from workloads.backup import postgres, store, verify
from workloads.backup.errors import BackupError


def s3_client(endpoint: str | None):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}))


def backup_one(s3, bucket: str, database: str, keep: int, workdir: Path) -> str:
    path = workdir / f"{database}.dump"
    postgres.dump(database, path)
    entries = postgres.check_archive(path, f"dump of {database}")
    sha256, size = store.sha256_file(path), path.stat().st_size
    key = store.backup_key(database, datetime.now(UTC))
    store.upload(s3, bucket, key, path, sha256, database)
    store.verify_stored(s3, bucket, key, sha256, size, workdir / f"{database}.verify")
    deleted = store.prune(s3, bucket, database, keep)
    return (f"{database}: s3://{bucket}/{key} ({size} bytes, {entries} archive entries, sha256 {sha256[:12]}...); "
            f"kept newest {keep}, deleted {len(deleted)}")


def cmd_backup(args) -> int:
    if args.keep < 1:
        raise cli.UsageError("--keep must be at least 1 (a backup run never deletes its own dump)")
    s3, failed = s3_client(args.endpoint_url), []
    for database in args.database:
        with tempfile.TemporaryDirectory(prefix=f"backup-{database}-") as workdir:
            try:
                print(backup_one(s3, args.bucket, database, args.keep, Path(workdir)), flush=True)
            except BackupError as error:  # one database failing must not stop the others
                failed.append(database)
                print(f"backup of {database} FAILED, nothing deleted: {error}", file=sys.stderr, flush=True)
    if not failed:
        outcomes.record(names.BACKUP_NEWEST, datetime.now(UTC).timestamp())
    return 1 if failed else 0


def cmd_restore(args) -> int:
    if args.admin_user and "ADMIN_PGPASSWORD" not in os.environ:
        raise cli.UsageError("--admin-user needs its password in ADMIN_PGPASSWORD (PGPASSWORD is the restoring role's)")
    bucket, key = store.parse_uri(args.source)
    s3 = s3_client(args.endpoint_url)
    with tempfile.TemporaryDirectory(prefix="restore-") as workdir:
        path = Path(workdir) / "restore.dump"
        sha256 = store.download_verified(s3, bucket, key, path)
        entries = postgres.table_of_contents(path, f"s3://{bucket}/{key}")
        existing = postgres.user_relations(args.target)
        if existing:
            raise BackupError(f"the target database holds {existing} relations already; restore into an empty "
                              "database (nothing was changed)")
        created = restore_extensions(args, path, entries)
        postgres.restore(args.target, path, [e for e in entries if not postgres.EXTENSION_ENTRY.match(e)])
    made = f", created extension(s) {', '.join(created)}" if created else ""
    print(f"restored s3://{bucket}/{key} (sha256 {sha256[:12]}..., {len(entries)} archive entries{made})")
    return 0


def restore_extensions(args, path: Path, entries: list[str]) -> list[str]:
    """Create the dump's extensions that the target lacks, as --admin-user if given."""
    installed = postgres.installed_extensions(args.target)
    missing = [name for name in postgres.extensions(entries) if name not in installed]
    if missing:
        target, role, password = args.target, "the restoring role", None
        if args.admin_user:
            target, role = postgres.as_user(args.target, args.admin_user), args.admin_user
            password = os.environ["ADMIN_PGPASSWORD"]
        postgres.create_extensions(target, path, entries, missing, role, password)
    return missing


def cmd_verify(args) -> int:
    for database in args.database:
        if not verify.DATABASE_NAME.match(database):
            raise cli.UsageError(f"--database {database!r} is not a database name (lowercase identifier, at most 41 characters)")
    s3, failed, verified = s3_client(args.endpoint_url), [], []
    for database in args.database:
        with tempfile.TemporaryDirectory(prefix=f"verify-{database}-") as workdir:
            try:
                result = verify.verify_one(s3, args.bucket, database, Path(workdir), datetime.now(UTC))
                verified.append(result.created)
                print(result.summary, flush=True)
            except BackupError as error:  # one database failing must not stop the others
                failed.append(database)
                print(f"verification of {database} FAILED: {error}", file=sys.stderr, flush=True)
    if not failed:  # every database restorable up to the oldest of their newest dumps
        outcomes.record(names.BACKUP_NEWEST_VERIFIED, min(verified).timestamp())
    return 1 if failed else 0


def cmd_list(args) -> int:
    backups = store.list_backups(s3_client(args.endpoint_url), args.bucket, args.database)
    for backup in backups:
        print(f"{backup.database}\t{backup.created.isoformat()}\t{backup.size}\t{backup.uri}")
    if not backups:
        print(f"no backups under s3://{args.bucket}/{store.PREFIX}/{args.database or ''}", file=sys.stderr)
    return 0


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workloads.backup", description=__doc__.splitlines()[0],
                                     epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint-url", default=os.environ.get("AWS_ENDPOINT_URL"))
    commands = parser.add_subparsers(dest="command", required=True)
    backup = commands.add_parser("backup", help="dump each database to the bucket, then apply retention")
    backup.add_argument("--bucket", required=True)
    backup.add_argument("--database", action="append", required=True)
    backup.add_argument("--keep", type=int, required=True, help="newest dumps kept per database (>= 1)")
    backup.set_defaults(handler=cmd_backup)
    restore = commands.add_parser("restore", help="restore one dump into an empty database")
    restore.add_argument("--from", dest="source", required=True, help="s3://bucket/postgres/<db>/<time>.dump")
    restore.add_argument("--to", dest="target", required=True, help="libpq connection string or URI, no password")
    restore.add_argument("--admin-user", help="role that creates the dump's extensions (password: ADMIN_PGPASSWORD)")
    restore.set_defaults(handler=cmd_restore)
    check = commands.add_parser("verify", help="restore the newest dumps into scratch databases and count rows")
    check.add_argument("--bucket", required=True)
    check.add_argument("--database", action="append", required=True)
    check.set_defaults(handler=cmd_verify)
    listing = commands.add_parser("list", help="list the dumps in the bucket")
    listing.add_argument("--bucket", required=True)
    listing.add_argument("--database")
    listing.set_defaults(handler=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli.main("backup", parser(), argv, outcome=_outcome_key)


def _outcome_key(args):
    """The scheduled commands report: backup and verify."""
    return {"backup": (names.BACKUP_JOB, None), "verify": (names.VERIFY_JOB, None)}.get(args.command)


if __name__ == "__main__":
    sys.exit(main())
