"""PostgresBackup: a CronJob that dumps every platform database to the `backups` bucket, and one
that proves the newest dumps restore.

It runs `python -m workloads.backup backup` from the workloads image (pg_dump 15, the server's
major version): custom-format dumps with a SHA-256 each, read back before retention deletes the
oldest beyond `keep`. `postgres-backup-verify` (optional, `postgresBackupVerifySchedule`) runs
`verify`: each newest dump restored into a scratch database on the same server, row counts
compared, scratch dropped. `backup_command`, `verify_command`, `backup_env` and `restore_command`
are the single source of truth: the integration drill and docs/operations.md run exactly these.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from platform_components.k8s import (
    Manifest,
    Placement,
    Resources,
    container,
    cron_job,
    empty_dir,
    pushgateway_env,
    secret_env,
    selector_labels,
)
from platform_components.registration import register
from platform_components.stack_keys import setting, setting_group
from platform_components.validation import ArgError, require_cron, require_min, require_pinned_image
from workloads.cli import EXIT_USAGE

# pg_dump streams to a file under /tmp before upload; the emptyDir must hold the largest dump.
SCRATCH = "8Gi"
CRONJOB_NAME = "postgres-backup"
VERIFY_CRONJOB_NAME = "postgres-backup-verify"


@dataclass(frozen=True)
class BackupOptions:
    """What a stack tunes (config keys `postgresBackup*`)."""

    schedule: str = setting("postgresBackupSchedule")
    keep: int = setting("postgresBackupKeep")
    verify_schedule: str | None = setting("postgresBackupVerifySchedule")  # None: no verify CronJob
    resources: Resources = setting_group("postgresBackup")

    def __post_init__(self) -> None:
        require_cron("schedule", self.schedule)
        if self.verify_schedule is not None:
            require_cron("verify_schedule", self.verify_schedule)
        require_min("keep", self.keep, 1)


@dataclass(frozen=True)
class BackupEndpoints:
    """Where the job connects; credentials are in `BackupSecrets`."""

    postgres_host: str
    postgres_port: int
    postgres_user: str
    s3_endpoint_url: str
    sslmode: str | None = None


@dataclass(frozen=True)
class BackupSecrets:
    postgres_secret: pulumi.Input[str]  # key "password": the superuser (or managed admin) password
    s3_secret: pulumi.Input[str]  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, backups bucket only


def backup_command(bucket: str, databases: tuple[str, ...], keep: int) -> list[str]:
    command = ["python", "-m", "workloads.backup", "backup", "--bucket", bucket, "--keep", str(keep)]
    for database in databases:
        command += ["--database", database]
    return command


def restore_command(source: str, target: str, admin_user: str | None = None) -> list[str]:
    """`target` is a libpq connection string without password (PGPASSWORD carries it); `admin_user`
    creates the dump's extensions (its password in ADMIN_PGPASSWORD)."""
    admin = ["--admin-user", admin_user] if admin_user else []
    return ["python", "-m", "workloads.backup", "restore", "--from", source, "--to", target, *admin]


def verify_command(bucket: str, databases: tuple[str, ...]) -> list[str]:
    command = ["python", "-m", "workloads.backup", "verify", "--bucket", bucket]
    for database in databases:
        command += ["--database", database]
    return command


def list_command(bucket: str) -> list[str]:
    return ["python", "-m", "workloads.backup", "list", "--bucket", bucket]


def backup_env(endpoints: BackupEndpoints, secrets: BackupSecrets) -> list[Manifest]:
    tls = [{"name": "PGSSLMODE", "value": endpoints.sslmode}] if endpoints.sslmode else []
    return [
        {"name": "PGHOST", "value": endpoints.postgres_host},
        {"name": "PGPORT", "value": str(endpoints.postgres_port)},
        {"name": "PGUSER", "value": endpoints.postgres_user},
        secret_env("PGPASSWORD", secrets.postgres_secret, "password"),
        *tls,
        {"name": "AWS_ENDPOINT_URL", "value": endpoints.s3_endpoint_url},
        secret_env("AWS_ACCESS_KEY_ID", secrets.s3_secret, "AWS_ACCESS_KEY_ID"),
        secret_env("AWS_SECRET_ACCESS_KEY", secrets.s3_secret, "AWS_SECRET_ACCESS_KEY"),
        {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"},
        {"name": "HOME", "value": "/tmp"},
        {"name": "TMPDIR", "value": "/tmp"},
    ]


@dataclass(frozen=True)
class PostgresBackupArgs:
    placement: Placement
    options: BackupOptions
    workloads_image: str
    endpoints: BackupEndpoints
    secrets: BackupSecrets
    databases: tuple[str, ...]
    bucket: str = "backups"
    pushgateway_url: str | None = None  # where each run reports its outcome (a monitoring stack's)

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)
        if not self.databases:
            raise ArgError("databases", "must list at least one database to back up")


def backup_job(args: PostgresBackupArgs, meta_labels: dict[str, str], *, name: str, schedule: str,
               command: list[str]) -> Manifest:
    """A CronJob running `command` with the backup job's env and scratch volume. A missed night is
    better taken late than skipped: start up to 6 h late; give up after 3 h."""
    job = container(
        name=name.removeprefix("postgres-"),
        image=args.workloads_image,
        command=command,
        env=[*backup_env(args.endpoints, args.secrets), *pushgateway_env(args.pushgateway_url)],
        resources=args.options.resources,
        volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}],
    )
    return cron_job(
        args.placement, name=name, meta_labels=meta_labels, schedule=schedule, job=job,
        volumes=[empty_dir("tmp", SCRATCH)], fail_on_exit_codes=[EXIT_USAGE],
        starting_deadline_seconds=6 * 3600, active_deadline_seconds=3 * 3600,
    )


def backup_cronjob(args: PostgresBackupArgs, meta_labels: dict[str, str]) -> Manifest:
    """CronJob `postgres-backup`: `python -m workloads.backup backup` of every database."""
    return backup_job(args, meta_labels, name=CRONJOB_NAME, schedule=args.options.schedule,
                      command=backup_command(args.bucket, args.databases, args.options.keep))


def verify_cronjob(args: PostgresBackupArgs, meta_labels: dict[str, str], schedule: str) -> Manifest:
    """CronJob `postgres-backup-verify`: the newest dump of every database restored and counted."""
    return backup_job(args, meta_labels, name=VERIFY_CRONJOB_NAME, schedule=schedule,
                      command=verify_command(args.bucket, args.databases))


class PostgresBackup(pulumi.ComponentResource):
    """A nightly CronJob that dumps every platform database to the backups bucket, reads each dump
    back before retention deletes old ones, and never overlaps itself; optionally a second one that
    restores the newest dumps into scratch databases to prove they restore."""

    selector: dict[str, str]
    cronjob_name: str

    def __init__(self, name: str, args: PostgresBackupArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:PostgresBackup", name, None, opts)
        placement = args.placement
        self.selector = selector_labels("postgres-backup", name)
        self.cronjob_name = CRONJOB_NAME
        meta_labels = placement.labels("postgres-backup", name, "backup")
        register(f"{name}-cronjob", backup_cronjob(args, meta_labels), pulumi.ResourceOptions(parent=self))
        if args.options.verify_schedule:
            register(f"{name}-verify-cronjob", verify_cronjob(args, meta_labels, args.options.verify_schedule),
                     pulumi.ResourceOptions(parent=self))
        self.register_outputs({"cronjob_name": self.cronjob_name})
