"""Feature-store benchmark: materialisation throughput and online read latency, each next to a
raw redis-py floor on the same keys, and the effect of each setting the platform controls.

Runs on the local servers (Postgres registry, Redis, SeaweedFS) with the component's own
feature_store.yaml builder, in this process: `make bench` (or `python -m benchmarks.feast_bench`).
"""

from __future__ import annotations

import argparse
import os
import platform as host
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import redis
import requests
from botocore.config import Config

from benchmarks.measure import best_of, save_results
from platform_components.feature_store import FeastTuning, apply_command
from platform_components.object_store import S3Grant
from platform_components.platform import DATABASES, FEATURES_BUCKET
from tools.servers.feast import LocalFeatureStore
from tools.servers.postgres import LocalPostgres
from tools.servers.redis import LocalRedis
from tools.servers.seaweedfs import LocalSeaweedfs
from workloads.features.data import MODEL_FEATURES, synthesize, write_tables
from workloads.features.stage import stage_repository

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- feast-bench:begin -->", "<!-- feast-bench:end -->"
SERVICE = "churn_model_v1"
UNTUNED = FeastTuning(registry_cache_ttl_seconds=60, online_write_batch_size=None, pull_latest_features=False,
                      skip_dedup=False)
MATERIALISATION_VARIANTS = [
    ("Feast defaults (one pipeline per run, every row of the window)", UNTUNED),
    ("+ online_write_batch_size 10,000 (platform setting)", FeastTuning()),
    ("+ pull_latest_features", replace(UNTUNED, pull_latest_features=True)),
    ("+ both (not adopted)", replace(FeastTuning(), pull_latest_features=True)),
    ("platform setting + skip_dedup (not adopted: unsafe for backfills)", replace(FeastTuning(), skip_dedup=True)),
]


def with_nanoseconds(frame: pd.DataFrame) -> pd.DataFrame:
    nanos = pd.to_timedelta(np.random.default_rng(4).integers(1, 1000, len(frame)), unit="ns")
    return frame.assign(event_timestamp=frame["event_timestamp"] + nanos, created=frame["created"] + nanos)


def availability(url: str, customers: list[int], requests_count: int) -> dict:
    """Sequential requests on one keep-alive session: how many failed, why, and the worst latency."""
    session, failures, worst = requests.Session(), 0, 0.0
    reasons: dict[str, int] = {}
    for i in range(requests_count):
        started = time.perf_counter()
        try:
            response = session.post(f"{url}/get-online-features", timeout=30,
                                    json={"feature_service": SERVICE, "entities": {"customer_id": [customers[i % len(customers)]]}})
            ok = response.status_code == 200
            reason = f"HTTP {response.status_code}"
        except requests.RequestException as error:
            ok, reason = False, type(error).__name__
            session.close()
            session = requests.Session()
        if not ok:
            failures += 1
            reasons[reason] = reasons.get(reason, 0) + 1
        worst = max(worst, time.perf_counter() - started)
    session.close()
    return {"requests": requests_count, "failed": failures, "failures": reasons, "worst_ms": round(worst * 1000, 1)}


def redis_client(server: LocalRedis) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=server.port, password=server.password)


def feature_store(local: LocalFeatureStore):
    from feast import FeatureStore

    return FeatureStore(repo_path=str(stage_repository(local.config_dir, local.repo_dir)))


def raw_layout(store, customers: np.ndarray, frame: pd.DataFrame):
    """Feast's Redis layout for `customers`: (key, {field: serialized value}) and the field names."""
    from feast.infra.online_stores.helpers import _mmh3, _redis_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from google.protobuf.timestamp_pb2 import Timestamp

    views = {view.name: [f.name for f in view.features] for view in store.list_feature_views()}
    fields = {(name, feature): _mmh3(f"{name}:{feature}") for name, features in views.items() for feature in features}
    stamp = Timestamp()
    stamp.GetCurrentTime()
    rows = dict(zip(frame["customer_id"], frame.to_dict("records"), strict=True))
    layout = []
    for customer in customers:
        key = _redis_key(store.project, EntityKey(join_keys=["customer_id"], entity_values=[Value(int64_val=int(customer))]))
        mapping = {f"_ts:{name}": stamp.SerializeToString() for name in views}
        for (_, feature), field in fields.items():
            value = rows[customer][feature]
            proto = Value(string_val=value) if isinstance(value, str) else Value(double_val=float(value))
            mapping[field] = proto.SerializeToString()
        layout.append((key, mapping))
    return layout, list(fields.values())


def raw_write(client: redis.Redis, layout, ttl: int, batch: int = 10_000) -> None:
    for start in range(0, len(layout), batch):
        with client.pipeline(transaction=False) as pipe:
            for key, mapping in layout[start:start + batch]:
                pipe.hset(key, mapping=mapping)
                pipe.expire(key, ttl)
            pipe.execute()


def percentiles(call, iterations: int, warmup: int = 20) -> dict:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(iterations):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    p50, p99 = np.percentile(samples, [50, 99])
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3), "iterations": iterations}


def run(entities: int, repeats: int, iterations: int) -> dict:
    postgres, redis_server = LocalPostgres(), LocalRedis()
    object_store = LocalSeaweedfs(clients={"feast": (S3Grant(FEATURES_BUCKET),)})
    started = []
    try:
        for server in (postgres, redis_server, object_store):
            server.start()
            started.append(server)
        postgres.bootstrap(DATABASES)
        object_store.create_buckets((FEATURES_BUCKET,))

        def local(tuning: FeastTuning, project: str = "bench",
                  data_uri: str = f"s3://{FEATURES_BUCKET}/bench") -> LocalFeatureStore:
            made = LocalFeatureStore(postgres, redis_server, object_store, project=project, data_uri=data_uri,
                                     tuning=tuning)
            started.append(made)
            return made

        default = local(FeastTuning())
        os.environ.update(default.env())
        end = pd.Timestamp.now(tz="UTC").floor("min")
        tables = synthesize(entities, 1, end, seed=3)
        # The same data with nanosecond timestamps, as a pipeline that does not truncate would write.
        with_nanos = replace(tables, profiles=with_nanoseconds(tables.profiles), activity=with_nanoseconds(tables.activity))
        ns_local = local(FeastTuning(), project="bench_ns", data_uri=f"s3://{FEATURES_BUCKET}/bench-ns")
        s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
        for target, data in ((default, tables), (ns_local, with_nanos)):
            applied = target.run(apply_command(str(target.config_dir), str(target.repo_dir)))
            if applied.returncode != 0:
                raise RuntimeError(f"feast apply failed:\n{applied.stdout}\n{applied.stderr}")
            write_tables(s3, target.data_uri, data)
        client = redis_client(redis_server)
        window = (end - pd.Timedelta(days=3)).to_pydatetime(), pd.Timestamp.now(tz="UTC").to_pydatetime()

        materialisation = []
        variants = [(label, local(tuning)) for label, tuning in MATERIALISATION_VARIANTS]
        variants.insert(-1, ("platform setting, source timestamps with nanoseconds", ns_local))
        for label, variant in variants:
            tuning = variant.tuning
            store = feature_store(variant)

            def materialise(store=store):
                client.flushdb()
                store.materialize(start_date=window[0], end_date=window[1])

            measured = best_of(materialise, repeats)
            materialisation.append({"variant": label, "tuning": asdict(tuning), "seconds": round(measured.seconds, 2),
                                    "entities_per_second": round(entities / measured.seconds),
                                    "peak_extra_mib": round(measured.peak_extra_mib)})
            print(f"materialise [{label}]: {measured.seconds:.2f} s", file=sys.stderr)

        store = feature_store(default)
        latest = (tables.profiles.sort_values("event_timestamp").groupby("customer_id").last()
                  .join(tables.activity.groupby("customer_id").last(), rsuffix="_activity").reset_index())
        layout, fields = raw_layout(store, latest["customer_id"].to_numpy(), latest[["customer_id", *MODEL_FEATURES]])
        floor = best_of(lambda: (client.flushdb(), raw_write(client, layout, default.key_ttl_seconds)), repeats)
        materialisation.insert(0, {"variant": "floor: raw redis-py pipeline, same keys and values",
                                   "seconds": round(floor.seconds, 2),
                                   "entities_per_second": round(entities / floor.seconds),
                                   "peak_extra_mib": round(floor.peak_extra_mib)})
        store.materialize(start_date=window[0], end_date=window[1])  # leave the platform's result in Redis

        rng = np.random.default_rng(0)
        ids = latest["customer_id"].to_numpy()
        one = [int(i) for i in rng.choice(ids, iterations)]
        hundreds = [[int(i) for i in rng.choice(ids, 100, replace=False)] for _ in range(iterations)]
        keys = {k: key for k, (key, _) in zip(ids, layout, strict=True)}
        service = store.get_feature_service(SERVICE)
        counter = {"i": 0}

        def cycling(build):
            def call():
                counter["i"] = (counter["i"] + 1) % iterations
                return build(counter["i"])
            return call

        def raw_read(customers):
            with client.pipeline(transaction=False) as pipe:
                for customer in customers:
                    pipe.hmget(keys[customer], fields)
                return pipe.execute()

        def sdk(store_, customers):
            return store_.get_online_features(features=service, entity_rows=[{"customer_id": c} for c in customers])

        default.start()
        session = requests.Session()

        listed = [f"{view.name}:{feature.name}" for view in service.feature_view_projections for feature in view.features]

        def http(customers, via=session, service=True):
            selection = {"feature_service": SERVICE} if service else {"features": listed}
            response = via.post(f"{default.url}/get-online-features", timeout=30,
                                json={**selection, "entities": {"customer_id": customers}})
            response.raise_for_status()
            return response

        reads = []
        for entities_per_call, pick in ((1, lambda i: [one[i]]), (100, lambda i: hundreds[i])):
            rows = [
                ("floor: raw redis-py pipeline (HMGET per key)", cycling(lambda i, p=pick: raw_read(p(i)))),
                ("SDK, one FeatureStore reused (platform)", cycling(lambda i, p=pick: sdk(store, p(i)))),
                ("feature server, keep-alive session (platform)", cycling(lambda i, p=pick: http(p(i)))),
                ("feature server, features listed instead of the service",
                 cycling(lambda i, p=pick: http(p(i), service=False))),
                ("feature server, new connection per request",
                 cycling(lambda i, p=pick: http(p(i), via=requests))),
            ]
            for label, call in rows:
                result = percentiles(call, iterations)
                reads.append({"entities": entities_per_call, "client": label, **result})
                print(f"read {entities_per_call} [{label}]: p50 {result['p50_ms']} ms", file=sys.stderr)
        session.close()
        # A FeatureStore per request: what a handler that builds its client each time pays.
        fresh = percentiles(lambda: sdk(feature_store(default), [one[0]]), max(10, iterations // 20), warmup=2)
        reads.append({"entities": 1, "client": "SDK, new FeatureStore per request", **fresh})

        recycling = [{"server": "platform: fork-safe serve, --max-requests 0", **availability(default.url, one, 3000)}]
        default.stop()
        recycled = local(replace(FeastTuning(), server_max_requests=1000)).start()
        recycling.append({"server": "fork-safe serve, Feast's --max-requests 1000",
                          **availability(recycled.url, one, 3000)})
        recycled.stop()
        plain = local(FeastTuning())
        plain.start(["python", "-m", "workloads.features", "feast", "--config-dir", str(plain.config_dir),
                     "--repo-dir", str(plain.repo_dir), "--", "serve", "--host", "127.0.0.1", "--port", str(plain.port),
                     "--no-access-log"])
        recycling.append({"server": "plain `feast serve` (its defaults: --max-requests 1000)",
                          **availability(plain.url, one, 3000)})
        plain.stop()
        return {
            "entities": entities,
            "features": len(MODEL_FEATURES),
            "python": host.python_version(),
            "cpus": os.cpu_count(),
            "repeats": repeats,
            "materialisation": materialisation,
            "reads": reads,
            "worker_recycling": recycling,
        }
    finally:
        for server in reversed(started):
            server.destroy()


def markdown(result: dict) -> str:
    floor = result["materialisation"][0]["seconds"]
    lines = [
        f"{result['entities']:,} customers x {result['features']} features (two feature views), Feast 0.67, "
        f"Redis {redis_version()} and Postgres registry on this machine ({result['cpus']} cores), Python "
        f"{result['python']}; materialisation best of {result['repeats']}. Generated by `make bench` "
        "(benchmarks/feast_bench.py).",
        "",
        "| materialisation | seconds | customers/s | x raw floor | peak extra MiB |",
        "|---|---|---|---|---|",
    ]
    for row in result["materialisation"]:
        lines.append(f"| {row['variant']} | {row['seconds']:.2f} | {row['entities_per_second']:,} | "
                     f"{row['seconds'] / floor:.1f} | {row['peak_extra_mib']} |")
    lines += ["", "| online read | entities | p50 ms | p99 ms | p50 x raw floor |", "|---|---|---|---|---|"]
    floors = {r["entities"]: r["p50_ms"] for r in result["reads"] if r["client"].startswith("floor")}
    for row in result["reads"]:
        lines.append(f"| {row['client']} | {row['entities']} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
                     f"{row['p50_ms'] / floors[row['entities']]:.1f} |")
    lines += ["", "| feature server, 3,000 sequential requests | failed | why | worst ms |", "|---|---|---|---|"]
    for row in result["worker_recycling"]:
        why = ", ".join(f"{count:,} {reason}" for reason, count in row["failures"].items())
        lines.append(f"| {row['server']} | {row['failed']:,} | {why} | {row['worst_ms']:,} |")
    return "\n".join(lines)


def redis_version() -> str:
    import subprocess

    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout
    return next((part.split("=")[1] for part in out.split() if part.startswith("v=")), "?")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.feast_bench")
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=300, help="timed online reads per client and size")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "feast.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    result = run(args.entities, args.repeats, args.iterations)
    save_results(result, args.json, args.doc, BEGIN, END, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
