"""The feature server: Feast's HTTP server with the registry's connection pool made fork-safe.

`feast serve` opens the SQL registry (SQLAlchemy + psycopg) in the gunicorn master, then forks its
workers, which inherit the master's pooled Postgres connection. A worker forked later (after a
crash, or when gunicorn recycles one) reuses that connection's stale client state and fails to
boot with `DuplicatePreparedStatement`, which takes the whole server down; two workers would
share one socket. Disposing the inherited pool in every child, as SQLAlchemy documents for
forking, gives each worker its own connections. Otherwise this is `feast serve`.
"""

from __future__ import annotations

import os


def registry_engines(store) -> list:
    engines = (getattr(store.registry, name, None) for name in ("write_engine", "read_engine"))
    unique = {id(engine): engine for engine in engines if engine is not None}
    return list(unique.values())


def dispose_after_fork(engines: list) -> None:
    """In each forked child, forget (without closing) the parent's pooled connections."""
    def forget() -> None:
        for engine in engines:
            engine.dispose(close=False)

    os.register_at_fork(after_in_child=forget)


def serve(repo_dir: str, *, host: str, port: int, workers: int, registry_ttl_seconds: int, max_requests: int,
          metrics: bool = False) -> None:
    """`metrics`: Feast's Prometheus endpoint on port 8000 (feast/metrics.py, not configurable)."""
    from feast import FeatureStore

    store = FeatureStore(repo_path=repo_dir)
    dispose_after_fork(registry_engines(store))
    store.serve(host=host, port=port, type_="http", no_access_log=True, workers=workers,
                max_requests=max_requests, max_requests_jitter=max_requests // 10,
                registry_ttl_sec=registry_ttl_seconds, metrics=metrics)
