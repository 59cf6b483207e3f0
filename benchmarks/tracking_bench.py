"""Tracking-server load benchmark: runs per second under concurrent clients, with and without
MLflow's credential cache (`mlflowAuthCacheSeconds`), and what the database connections do.

Each client is a thread with its own HTTP session that, until the deadline, creates a run, logs a
50-metric batch and a param, and ends the run (4 authenticated requests). The servers are the
local ones started from the component's own builders (Postgres, SeaweedFS, `mlflow server` with
basic auth and 2 workers, as deployed); clients and servers share the machine's cores.
`make bench` (or `python -m benchmarks.tracking_bench`).
"""

from __future__ import annotations

import argparse
import platform as host
import secrets
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import psycopg
import requests

from benchmarks.measure import save_results
from platform_components.platform import BUCKETS, DATABASES, S3_CLIENTS
from tools.servers.mlflow import LocalMlflow
from tools.servers.postgres import LocalPostgres
from tools.servers.seaweedfs import LocalSeaweedfs

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- tracking-bench:begin -->", "<!-- tracking-bench:end -->"
API = "/api/2.0/mlflow"
CONNECTIONS = ("SELECT count(*) FROM pg_stat_activity WHERE datname IN ('mlflow', 'mlflow_auth')")


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)  # seconds per completed run
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, reason: str) -> None:
        with self.lock:
            self.errors[reason] = self.errors.get(reason, 0) + 1


def one_run(session: requests.Session, url: str, experiment_id: str) -> None:
    def post(path: str, body: dict) -> dict:
        response = session.post(f"{url}{API}{path}", json=body, timeout=120)
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code} on {path}")
        return response.json()

    run_id = post("/runs/create", {"experiment_id": experiment_id, "start_time": int(time.time() * 1000)})["run"]["info"]["run_id"]
    now = int(time.time() * 1000)
    post("/runs/log-batch", {"run_id": run_id, "metrics": [{"key": f"m{i}", "value": i / 7, "timestamp": now, "step": 0}
                                                            for i in range(50)]})
    post("/runs/log-parameter", {"run_id": run_id, "key": "depth", "value": "6"})
    post("/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": int(time.time() * 1000)})


def client(url: str, auth: tuple[str, str], experiment_id: str, deadline: float, load: Load) -> None:
    session = requests.Session()
    session.auth = auth
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            one_run(session, url, experiment_id)
        except (requests.RequestException, RuntimeError) as error:
            load.error(str(error) if isinstance(error, RuntimeError) else type(error).__name__)
            continue
        with load.lock:
            load.latencies.append(time.perf_counter() - started)
    session.close()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else (values or [0.0])[0]


def measure_load(server: LocalMlflow, postgres: LocalPostgres, clients: int, seconds: float) -> dict:
    auth = server.admin
    created = requests.post(f"{server.url}{API}/experiments/create", auth=auth, timeout=60,
                            json={"name": f"bench-{clients}-{time.time_ns()}"})
    created.raise_for_status()
    experiment_id, load = created.json()["experiment_id"], Load()
    peak_connections, done = 0, threading.Event()

    def sample_connections() -> None:
        nonlocal peak_connections
        with psycopg.connect(postgres.superuser_uri(), autocommit=True) as conn:
            while not done.wait(0.2):
                peak_connections = max(peak_connections, conn.execute(CONNECTIONS).fetchone()[0])

    sampler = threading.Thread(target=sample_connections, daemon=True)
    sampler.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(server.url, auth, experiment_id, started + seconds, load))
               for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    runs = len(load.latencies)
    return {"clients": clients, "seconds": round(elapsed, 1), "runs": runs, "runs_per_s": round(runs / elapsed, 2),
            "p50_s": round(percentile(load.latencies, 50), 3), "p99_s": round(percentile(load.latencies, 99), 3),
            "errors": sum(load.errors.values()), "error_kinds": load.errors, "peak_db_connections": peak_connections}


def run(client_counts: list[int], seconds: float, cache_values: list[int]) -> dict:
    postgres = LocalPostgres().start()
    object_store = None
    results: list[dict] = []
    try:
        postgres.bootstrap(DATABASES)
        with psycopg.connect(postgres.superuser_uri(), autocommit=True) as conn:
            max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])
        object_store = LocalSeaweedfs(clients=S3_CLIENTS).start()
        object_store.create_buckets(BUCKETS)
        admin_password = secrets.token_urlsafe(24)  # the auth database keeps the first server's admin
        for cache in cache_values:
            server = LocalMlflow(postgres, object_store, auth_cache_seconds=cache, admin_password=admin_password).start()
            try:
                for clients in client_counts:
                    results.append({"auth_cache_seconds": cache, **measure_load(server, postgres, clients, seconds)})
                    print(results[-1], file=sys.stderr, flush=True)
            finally:
                server.destroy()
    finally:
        if object_store:
            object_store.destroy()
        postgres.destroy()
    return {"mlflow": mlflow.__version__, "python": host.python_version(), "workers": LocalMlflow.workers,
            "seconds_per_measurement": seconds, "max_connections": max_connections, "results": results}


def markdown(result: dict) -> str:
    baseline = {r["clients"]: r["runs_per_s"] for r in result["results"] if r["auth_cache_seconds"] == 0}
    lines = [
        f"{result['workers']} workers, MLflow {result['mlflow']}, Python {result['python']}, 2 cores shared by "
        f"clients and server; each row {result['seconds_per_measurement']:.0f} s of clients each looping: create a "
        "run, log 50 metrics in one batch, log a param, end the run (4 authenticated requests). Postgres "
        f"`max_connections` {result['max_connections']}. Generated by `make bench` (benchmarks/tracking_bench.py).",
        "",
        "| credential cache | clients | runs | runs/s | p50 s per run | p99 s per run | errors | peak DB connections | runs/s vs no cache |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        cache = f"{r['auth_cache_seconds']} s" if r["auth_cache_seconds"] else "off"
        base = baseline.get(r["clients"])
        ratio = f"{r['runs_per_s'] / base:.1f}" if base else "n/a"
        errors = str(r["errors"]) + (f" ({', '.join(f'{k}: {v}' for k, v in r['error_kinds'].items())})" if r["errors"] else "")
        lines.append(f"| {cache} | {r['clients']} | {r['runs']} | {r['runs_per_s']} | {r['p50_s']} | {r['p99_s']} | "
                     f"{errors} | {r['peak_db_connections']} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.tracking_bench")
    parser.add_argument("--clients", type=int, nargs="+", default=[4, 32])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--cache", type=int, nargs="+", default=[0, 60], help="mlflowAuthCacheSeconds values")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "tracking.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    result = run(args.clients, args.seconds, args.cache)
    save_results(result, args.json, args.doc, BEGIN, END, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
