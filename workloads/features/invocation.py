"""The feature-store jobs' options, typed (workloads/invocation.py): what the FeastFeatureStore
component runs (the apply Job, the materialisation CronJob, the online-store rebuild, the feature
server) and what `python -m workloads.features` reads."""

from __future__ import annotations

from dataclasses import dataclass

from workloads.invocation import Invocation, option

SERVER_PORT = 6566  # Feast's own default for `feast serve`

CONFIG_HELP = "directory with feature_store.yaml and the repository"
REPO_HELP = "where to stage the repository (may equal --config-dir)"


@dataclass(frozen=True)
class StagedRepository(Invocation):
    """What every feature-store job starts from: the config directory and where it is staged."""

    MODULE = "workloads.features"

    config_dir: str = option(help=CONFIG_HELP)
    repo_dir: str = option(help=REPO_HELP)


@dataclass(frozen=True)
class FeastRun(StagedRepository):
    """The Feast CLI in the staged repository: `apply`, a full `materialize START END`, ..."""

    COMMAND = "feast"

    feast_args: tuple[str, ...] = option((), remainder=True, help="-- then Feast CLI arguments")


@dataclass(frozen=True)
class Materialization(StagedRepository):
    COMMAND = "materialize"

    end: str | None = option(None, help="materialise up to this instant, ISO 8601 UTC (default: now)")


@dataclass(frozen=True)
class FeatureServer(StagedRepository):
    COMMAND = "serve"

    host: str = option("127.0.0.1", help="address to listen on (default 127.0.0.1; the pods 0.0.0.0)")
    port: int = option(SERVER_PORT, help=f"port (default {SERVER_PORT})")
    workers: int = option(1, help="server processes (default 1)")
    registry_ttl_seconds: int = option(60, help="how long the registry is cached (default 60)")
    max_requests: int = option(0, help="recycle a worker after this many requests (0: never)")
    metrics: bool = option(False, help="Prometheus metrics on port 8000 (Feast's fixed port)")
