"""Incremental materialisation: new offline rows of every feature view into the online store.

Equivalent to `feast materialize-incremental <now>`, run one feature view at a time so that a
failure names the view and its source, and classified so that the CronJob stops retrying what
retrying cannot fix (a missing source file, a refused password).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa
import redis

from workloads.features.errors import ConfigError, OnlineStoreAuthError, SourceDataError


@dataclass(frozen=True)
class ViewRun:
    view: str
    source: str
    start: datetime | None  # None: first run, Feast starts at end - ttl
    end: datetime


def last_materialized(view) -> datetime | None:
    intervals = view.materialization_intervals
    return max(end for _, end in intervals) if intervals else None


def _is_auth_error(error: BaseException) -> bool:
    if isinstance(error, redis.exceptions.AuthenticationError):
        return True
    return isinstance(error, redis.exceptions.ResponseError) and str(error).startswith(("WRONGPASS", "NOAUTH"))


def _cause_chain(error: BaseException):
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def classify(error: Exception, view: str, source: str) -> Exception:
    """The job error for what went wrong deepest in the cause chain, or `error` itself."""
    causes = list(_cause_chain(error))
    if any(_is_auth_error(cause) for cause in causes):
        return OnlineStoreAuthError(f"feature view {view}: the online store refused the password in REDIS_PASSWORD")
    unreadable = [cause for cause in causes if isinstance(cause, (FileNotFoundError, pa.ArrowInvalid))]
    if unreadable:
        innermost = unreadable[-1]
        reason = "no such file or prefix" if isinstance(innermost, FileNotFoundError) else str(innermost)
        return SourceDataError(f"feature view {view}: cannot read its source {source}: {reason}")
    return error


def check_online_store(store) -> None:
    """Fail before any work if Redis refuses the credentials: a run with no new rows would
    otherwise never connect, and succeed with a password that serving cannot use."""
    config = store.config.online_store
    if getattr(config, "type", None) != "redis":
        return
    from feast.infra.online_stores.redis import RedisOnlineStore

    nodes, params = RedisOnlineStore._parse_connection_string(config.connection_string)
    client = redis.Redis(host=nodes[0]["host"], port=int(nodes[0]["port"]), socket_connect_timeout=10,
                         **{k: v for k, v in params.items() if k in ("password", "username", "ssl", "db")})
    try:
        client.ping()
    except redis.exceptions.RedisError as error:
        if _is_auth_error(error):
            raise OnlineStoreAuthError(
                f"the online store at {nodes[0]['host']}:{nodes[0]['port']} refused the password in REDIS_PASSWORD"
            ) from None
        raise
    finally:
        client.close()


def materialize(store, end: datetime | None = None) -> list[ViewRun]:
    """Materialise every online feature view up to `end` (default: now, UTC)."""
    end = end or datetime.now(UTC)
    views = sorted((v for v in store.list_feature_views() if v.online), key=lambda v: v.name)
    if not views:
        raise ConfigError(f"project {store.project} has no online feature views in its registry: run `feast apply` first")
    check_online_store(store)
    runs = []
    for view in views:
        source = getattr(view.batch_source, "path", view.batch_source.name)
        run = ViewRun(view.name, source, last_materialized(view), end)
        try:
            store.materialize_incremental(end_date=end, feature_views=[view.name])
        except Exception as error:
            classified = classify(error, view.name, source)
            if classified is error:
                raise
            raise classified from error
        runs.append(run)
    return runs
