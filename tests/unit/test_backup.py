"""The PostgresBackup CronJob and the protection of stateful resources, under mocks."""

from __future__ import annotations

import json

import pytest

from platform_components.platform import DATABASES
from platform_components.postgres_backup import backup_command, verify_command
from tests.unit.conftest import _stack_run, env_of, objects, one, postgres_host, run_with
from tests.unit.test_settings import settings_error
from workloads.backup.postgres import COPY_START, EXTENSION_ENTRY, count_copy_rows, extensions
from workloads.backup.verify import compare

PROTECTED_STACKS = ("qa", "prod", "ha-example")


def backup_pod(run) -> dict:
    return one(run, "CronJob", "postgres-backup")["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_backup_cronjob_dumps_every_platform_database_on_schedule(stack_run):
    cronjob = one(stack_run, "CronJob", "postgres-backup")["spec"]
    assert cronjob["schedule"] == "30 2 * * *" and cronjob["timeZone"] == "Etc/UTC"
    assert cronjob["concurrencyPolicy"] == "Forbid"
    assert cronjob["startingDeadlineSeconds"] == 6 * 3600
    assert cronjob["jobTemplate"]["spec"]["activeDeadlineSeconds"] == 3 * 3600
    rule = cronjob["jobTemplate"]["spec"]["podFailurePolicy"]["rules"][0]
    assert rule["onExitCodes"] == {"containerName": "backup", "operator": "In", "values": [2]}
    (container,) = backup_pod(stack_run)["containers"]
    assert container["command"] == backup_command("backups", tuple(db.name for db in DATABASES), 7)
    assert backup_pod(stack_run)["restartPolicy"] == "Never"


def test_verify_cronjob_restores_every_database_weekly_with_the_backup_jobs_identity(stack_run):
    if stack_run.stack == "dev":  # turned off: throwaway data, and the minikube budget
        assert "postgres-backup-verify" not in {c["metadata"]["name"] for c in objects(stack_run, "CronJob")}
        return
    verify = one(stack_run, "CronJob", "postgres-backup-verify")
    spec = verify["spec"]
    assert spec["schedule"] == "30 4 * * 0" and spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == verify_command("backups", tuple(db.name for db in DATABASES))
    assert container["env"] == backup_pod(stack_run)["containers"][0]["env"]
    # Same pod labels as the backup job: the same NetworkPolicies let it reach Postgres and S3.
    backup = one(stack_run, "CronJob", "postgres-backup")["spec"]["jobTemplate"]["spec"]["template"]["metadata"]
    assert spec["jobTemplate"]["spec"]["template"]["metadata"]["labels"] == backup["labels"]


def test_verify_cronjob_is_optional():
    assert [c for c in objects(run_with("test", postgresBackupVerifySchedule=""), "CronJob")
            if c["metadata"]["name"] == "postgres-backup-verify"] == []


def test_the_archive_listing_names_its_extensions_and_their_comments():
    listing = ["2; 3079 16386 EXTENSION - pg_stat_statements ", "3416; 0 0 COMMENT - EXTENSION pg_stat_statements ",
               "3; 3079 16417 EXTENSION - postgres_fdw ", "219; 1259 16505 TABLE public t app",
               "3408; 0 16505 TABLE DATA public t app", "220; 1259 16510 TABLE public extension_log app"]
    assert extensions(listing) == ["pg_stat_statements", "postgres_fdw"]
    assert [line for line in listing if EXTENSION_ENTRY.match(line)] == listing[:3]


def test_rows_are_counted_per_table_from_copy_data_including_quoted_names_and_escaped_newlines():
    dump = [
        "SET client_encoding = 'UTF8';\n",
        "COPY public.t (id, s) FROM stdin;\n", "1\ta\\nb\n", "2\tc\n", "\\.\n", "\n",
        'COPY "My Schema"."odd ""name""" (id) FROM stdin;\n', "\\.\n",
        "COPY public.runs (run_uuid, name) FROM stdin;\n", "x\tCOPY public.fake (a) FROM stdin;\n", "\\.\n",
    ]
    assert count_copy_rows(dump) == {"public.t": 2, '"My Schema"."odd ""name"""': 0, "public.runs": 1}
    assert COPY_START.match('COPY public.t (id) FROM stdin;')["table"] == "public.t"


def test_verification_names_every_table_whose_count_differs():
    assert compare({"public.a": 3, "public.b": 0}, {"public.a": 3, "public.b": 0}) == []
    assert compare({"public.a": 3, "public.b": 1}, {"public.a": 2, "public.b": 1}) == [
        "public.a: 3 rows in the dump, 2 restored"]


def test_backup_credentials_come_from_secrets_and_reach_the_right_servers(stack_run):
    env = env_of(backup_pod(stack_run)["containers"][0])
    secrets = stack_run.outputs["secretNames"][0]
    assert env["PGHOST"]["value"] == postgres_host(stack_run)
    assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": secrets["postgresSuperuser"], "key": "password"}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        assert env[key]["valueFrom"]["secretKeyRef"]["name"] == secrets["objectStoreBackup"]
    assert env["AWS_ENDPOINT_URL"]["value"] == stack_run.outputs["s3Endpoint"][0]
    if "postgresHost" in stack_run.outputs:
        assert env["PGUSER"]["value"] == "mlopsadmin" and env["PGSSLMODE"]["value"] == "require"
    else:
        assert env["PGUSER"]["value"] == "postgres" and "PGSSLMODE" not in env
    assert stack_run.outputs["backupCronJob"][0] == "postgres-backup"
    names = {p["metadata"]["name"] for p in objects(stack_run, "NetworkPolicy")}
    assert {"postgres-backup-to-postgres-egress", "postgres-backup-to-object-store-egress"} <= names


def test_the_backup_s3_client_may_use_the_backups_bucket_only():
    from pulumi.runtime import rpc

    run = run_with(objectStoreEngine="seaweedfs")
    registration = [r for r in run.of_type("kubernetes:core/v1:Secret") if r.name == "mlops-object-store-s3-config"][0]
    config = json.loads(rpc.unwrap_rpc_secret(registration.inputs["stringData"])["s3.json"])
    (backup,) = [i for i in config["identities"] if i["name"] == "backup"]
    assert set(backup["actions"]) == {f"{a}:backups" for a in ("Read", "Write", "List", "Tagging")}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"postgresBackupKeep": 0}, "mlops-platform:postgresBackupKeep must be >= 1, got 0"),
        ({"postgresBackupSchedule": "nightly"}, "mlops-platform:postgresBackupSchedule must be a five-field cron expression"),
        ({"postgresBackupVerifySchedule": "weekly"},
         "mlops-platform:postgresBackupVerifySchedule must be a five-field cron expression"),
    ],
)
def test_backup_settings_errors_name_the_key(overrides, message):
    assert message in settings_error(**overrides)


@pytest.mark.parametrize("stack", PROTECTED_STACKS)
def test_stateful_kubernetes_resources_are_protected_where_data_is(stack):
    run = _stack_run(stack)
    for registration in run.of_type("kubernetes:apps/v1:StatefulSet"):
        assert run.options[(registration.typ, registration.name)].protect, registration.name
    (namespace,) = run.of_type("kubernetes:core/v1:Namespace")
    assert run.options[(namespace.typ, namespace.name)].protect


def test_volumes_outlive_their_statefulsets_in_every_stack(stack_run):
    for statefulset in objects(stack_run, "StatefulSet"):
        assert statefulset["spec"]["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain",
                                                                               "whenScaled": "Retain"}


@pytest.mark.parametrize("stack", ("qa", "prod"))
def test_azure_data_is_protected_and_outlives_a_destroy(stack):
    run = _stack_run(stack)
    for typ, retained in (("azure-native:dbforpostgresql:Server", True), ("azure-native:storage:StorageAccount", True),
                          ("azure-native:resources:ResourceGroup", True), ("azure-native:dbforpostgresql:Database", False),
                          ("azure-native:storage:BlobContainer", False)):
        for registration in run.of_type(typ):
            options = run.options[(typ, registration.name)]
            assert options.protect, f"{typ} {registration.name}"
            assert options.retain_on_delete == retained, f"{typ} {registration.name}"


def test_the_test_stack_protects_nothing():
    run = _stack_run("test")
    assert not any(options.protect for options in run.options.values())
