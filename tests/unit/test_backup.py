"""The PostgresBackup CronJob and the protection of stateful resources, under mocks."""

from __future__ import annotations

import json

import pytest

from platform_components.platform import DATABASES
from platform_components.postgres_backup import backup_command
from tests.unit.conftest import _stack_run, env_of, objects, one, postgres_host, run_with
from tests.unit.test_settings import settings_error

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
