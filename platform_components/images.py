"""Pinned container images: the one place a version is chosen.

Why pins and not tags like `latest`: a rollout must be reproducible and reviewable. The MLflow
image tag must match the `mlflow` pin in requirements.txt (a unit test checks this), so that the
integration tests exercise exactly the server version the platform deploys.
"""

MLFLOW_VERSION = "3.17.2"
# Ref: https://github.com/mlflow/mlflow/pkgs/container/mlflow - the "-full" variant ships boto3
# and psycopg2, which the server needs for S3 artifacts and the Postgres backend store.
MLFLOW = f"ghcr.io/mlflow/mlflow:v{MLFLOW_VERSION}-full"

# Major version 15, the one Debian 12 ships: the integration tests run that server, and the
# backup job's pg_dump (Debian's client in the workloads image) must not be older than the server.
POSTGRES_MAJOR = 15
POSTGRES = f"docker.io/library/postgres:{POSTGRES_MAJOR}.18-bookworm"

# 8.2.2 carries the October 2025 Lua fixes (CVE-2025-49844 and friends).
REDIS = "docker.io/library/redis:8.2.2-bookworm"

# MinIO's community edition was archived and went source-only in late 2025; this is the last
# published community image. New installations should prefer SeaweedFS (see docs/decisions.md).
MINIO = "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z"

# Same release as the `weed` binary the integration tests build (tools/install/seaweedfs.sh).
SEAWEEDFS_VERSION = "4.53"
SEAWEEDFS = f"docker.io/chrislusf/seaweedfs:{SEAWEEDFS_VERSION}"

# Monitoring (monitoringStack: prometheus-operator). The Pushgateway is the release the tests build
# from the Go module proxy (tools/install/pushgateway.sh); the exporters are not on the proxy.
PUSHGATEWAY_VERSION = "1.11.5"
PUSHGATEWAY = f"quay.io/prometheus/pushgateway:v{PUSHGATEWAY_VERSION}"
POSTGRES_EXPORTER = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
REDIS_EXPORTER = "docker.io/oliver006/redis_exporter:v1.67.0"
