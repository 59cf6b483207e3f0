"""Pure spec builders: validation helpers, quantities, SQL, configs, command lines."""

from __future__ import annotations

import json

import pytest

from platform_components.k8s import PodIdentity, Resources, pod_security_context
from platform_components.mlflow_server import auth_config_ini, cluster_allowed_hosts, postgres_uri
from platform_components.network_policies import Link, link_policies
from platform_components.object_store import S3Grant, S3Identity, SeaweedfsPorts, seaweedfs_args, seaweedfs_s3_config
from platform_components.postgres import AppDatabase, bootstrap_sql
from platform_components.quantities import parse_quantity
from platform_components.redis import maxmemory_bytes, redis_config
from platform_components.validation import ArgError, require_pinned_image


@pytest.mark.parametrize(
    ("quantity", "value"),
    [("250m", 0.25), ("1", 1.0), ("1.5", 1.5), ("512Mi", 512 * 2**20), ("1Gi", 2**30), ("1G", 1e9), ("100k", 1e5)],
)
def test_parse_quantity(quantity, value):
    assert parse_quantity(quantity) == pytest.approx(value)


@pytest.mark.parametrize("bad", ["", "1.5.2", "-1", "12 Mi", "Gi"])
def test_parse_quantity_rejects_garbage(bad):
    with pytest.raises(ValueError):
        parse_quantity(bad)


@pytest.mark.parametrize("image", ["redis:8.2.2", "ghcr.io/a/b:v1", "registry:5000/x/y:1.0", "x@sha256:abc"])
def test_pinned_images_pass(image):
    require_pinned_image("image", image)


@pytest.mark.parametrize("image", ["redis", "redis:latest", "registry:5000/x/y"])
def test_unpinned_images_fail(image):
    with pytest.raises(ArgError):
        require_pinned_image("image", image)


def test_resources_reject_a_request_above_the_limit():
    with pytest.raises(ArgError) as caught:
        Resources("100m", "2Gi", "1Gi")
    assert caught.value.field == "memory_request"


def test_openshift_identity_sets_no_uid():
    assert "runAsUser" not in pod_security_context(PodIdentity(None))
    assert pod_security_context(PodIdentity(10001))["runAsUser"] == 10001


def test_bootstrap_sql_is_idempotent_and_keeps_passwords_out_of_the_script():
    sql = bootstrap_sql((AppDatabase("mlflow"), AppDatabase("mlflow_auth")))
    assert sql.startswith("\\set ON_ERROR_STOP on")
    assert "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlflow')" in sql
    assert "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow_auth')" in sql
    assert "PASSWORD :'pw_mlflow_auth'" in sql
    assert "REVOKE ALL ON DATABASE mlflow FROM PUBLIC;" in sql


@pytest.mark.parametrize("bad", ["MLflow", "1db", "ml-flow", "drop table"])
def test_app_database_names_must_be_identifiers(bad):
    with pytest.raises(ArgError):
        AppDatabase(bad)


def test_postgres_uri_escapes_credentials():
    assert postgres_uri("u", "h", 5432, "d") == "postgresql://u@h:5432/d"
    assert postgres_uri("u", "h", 5432, "d", "p@ss/word") == "postgresql://u:p%40ss%2Fword@h:5432/d"


def test_auth_config_grants_nothing_by_default():
    ini = auth_config_ini("postgresql://a:b@h:1/d", 60)
    assert "default_permission = NO_PERMISSIONS" in ini
    assert "admin_password" not in ini


def test_mlflow_reads_the_credential_cache_from_the_auth_config(tmp_path, monkeypatch):
    from mlflow.server.auth.config import read_auth_config

    path = tmp_path / "basic_auth.ini"
    path.write_text(auth_config_ini("postgresql://a:b@h:1/d", 45))
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    config = read_auth_config()
    assert config.auth_cache_ttl_seconds == 45
    assert config.default_permission == "NO_PERMISSIONS" and config.database_uri == "postgresql://a:b@h:1/d"


def test_allowed_hosts_cover_service_names_with_and_without_port():
    hosts = cluster_allowed_hosts("mlflow", "ns", ("mlflow.example.org",))
    assert {"mlflow", "mlflow:5000", "mlflow.ns.svc.cluster.local:5000", "mlflow.example.org"} <= set(hosts)
    assert len(hosts) == len(set(hosts))


def test_redis_config_reserves_headroom_below_the_limit():
    assert maxmemory_bytes(1000) == 750
    conf = redis_config(maxmemory=750, port=7000, bind="127.0.0.1", data_dir="/x", auth_include="/y/auth.conf")
    assert "port 7000" in conf and "dir /x" in conf and "include /y/auth.conf" in conf


def test_seaweedfs_has_no_anonymous_identity_and_explicit_ports():
    config = seaweedfs_s3_config([S3Identity("admin", "k", "s", None), S3Identity("c", "k2", "s2", (S3Grant("b"),)),
                                  S3Identity("w", "k3", "s3", (S3Grant("m", "churn/", ("Write",)),))])
    assert "anonymous" not in config
    actions = {entry["name"]: entry["actions"] for entry in json.loads(config)["identities"]}
    assert actions["c"] == ["Read:b", "Write:b", "List:b", "Tagging:b"]
    assert actions["w"] == ["Write:m/churn/*"], "a prefix grant is a wildcard on that prefix only"
    args = seaweedfs_args(data_dir="/d", config_path="/c.json", ports=SeaweedfsPorts(s3=1, master=2, volume=3, filer=4, master_grpc=5, volume_grpc=6, filer_grpc=7, s3_grpc=8))
    assert {"-s3.port=1", "-master.port.grpc=5", "-filer.port.grpc=7", "-s3.port.grpc=8", "-s3.config=/c.json"} <= set(args)


def test_link_policies_pair_egress_with_ingress():
    egress, ingress = link_policies(Link("a-to-b", {"app": "a"}, {"app": "b"}, 5432))
    assert egress["podSelector"] == {"matchLabels": {"app": "a"}}
    assert egress["egress"][0]["to"] == [{"podSelector": {"matchLabels": {"app": "b"}}}]
    assert ingress["ingress"][0]["from"] == [{"podSelector": {"matchLabels": {"app": "a"}}}]
