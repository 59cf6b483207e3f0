"""Model-serving benchmark: latency and throughput of this platform's model server next to
`mlflow models serve` of the same model and to the in-process `predict` floor, with the prediction
log off and on, and entity-keyed requests next to the Feast SDK read + predict floor.

Runs on the local servers (Postgres, Redis, SeaweedFS, MLflow, the Feast feature server) with the
components' own command lines: `make bench-serving` (or `python -m benchmarks.serving_bench`).
Every server runs one worker (equal workers); clients are threads of this process with one
keep-alive session each, so client and servers share the machine's cores alike for every variant.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform as host
import subprocess
import sys
import time
from pathlib import Path

import mlflow.pyfunc
import numpy as np
import pandas as pd
import requests
from feast import FeatureStore

from benchmarks.measure import save_results
from platform_components.k8s import Resources
from platform_components.model_server import ModelServingOptions, ServedModel, ServingEndpoints
from platform_components.platform import (
    BUCKETS,
    DATABASES,
    MONITORING_BUCKET,
    S3_CLIENTS,
    prediction_log_grants,
    workload_users,
)
from tools.servers.feast import LocalFeatureStore
from tools.servers.mlflow import LocalMlflow
from tools.servers.model_server import LocalModelServer
from tools.servers.postgres import LocalPostgres
from tools.servers.process import free_port
from tools.servers.redis import LocalRedis
from tools.servers.seaweedfs import LocalSeaweedfs
from workloads.features.data import MODEL_FEATURES, synthesize, write_tables

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- serving-bench:begin -->", "<!-- serving-bench:end -->"
MODEL, SERVICE = "churn", "churn_model_v1"
SIZES = (1, 100)
CONCURRENCY = (1, 8)


def latency_stats(samples_ms: list[float], seconds: float) -> dict:
    p50, p99 = np.percentile(samples_ms, [50, 99])
    return {"p50_ms": round(float(p50), 3), "p99_ms": round(float(p99), 3), "requests": len(samples_ms),
            "requests_per_second": round(len(samples_ms) / seconds, 1)}


def load(url: str, payloads: list[str], clients: int, requests_count: int, warmup: int = 30) -> dict:
    """`requests_count` POSTs spread over `clients` threads (one session each); every answer must be 200."""
    sessions = [requests.Session() for _ in range(clients)]
    headers = {"Content-Type": "application/json"}

    def call(i: int) -> float:
        session = sessions[i % clients]
        started = time.perf_counter()
        response = session.post(f"{url}/invocations", data=payloads[i % len(payloads)], headers=headers, timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:300]}")
        return (time.perf_counter() - started) * 1000

    for i in range(warmup):
        call(i)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        samples = list(pool.map(call, range(requests_count)))
    return latency_stats(samples, time.perf_counter() - started)


def floor(call, iterations: int, warmup: int = 30) -> dict:
    for _ in range(warmup):
        call()
    samples, started = [], time.perf_counter()
    for _ in range(iterations):
        begun = time.perf_counter()
        call()
        samples.append((time.perf_counter() - begun) * 1000)
    return latency_stats(samples, time.perf_counter() - started)


def feature_payloads(features: pd.DataFrame, rows: int, count: int = 50) -> list[str]:
    payloads = []
    for i in range(count):
        chunk = features.iloc[[(i * rows + j) % len(features) for j in range(rows)]]
        payloads.append(json.dumps({"dataframe_split": {"columns": list(chunk.columns), "data": chunk.values.tolist()}}))
    return payloads


def entity_payloads(customers: list[int], rows: int, count: int = 50) -> list[str]:
    return [json.dumps({"dataframe_records": [{"customer_id": customers[(i * rows + j) % len(customers)]}
                                              for j in range(rows)]}) for i in range(count)]


class Platform:
    """The local servers, a feature store with `customers` accounts, and `churn` v1 trained on it."""

    def __init__(self, customers: int):
        self.started: list = []
        self.postgres = self._up(LocalPostgres())
        self.postgres.bootstrap(DATABASES)
        self.redis = self._up(LocalRedis())
        clients = {**S3_CLIENTS, f"model-{MODEL}": prediction_log_grants(MODEL)}
        self.object_store = self._up(LocalSeaweedfs(clients=clients))
        self.object_store.create_buckets(BUCKETS)
        self.mlflow = LocalMlflow(self.postgres, self.object_store)
        self._up(self.mlflow)
        self.features = LocalFeatureStore(self.postgres, self.redis, self.object_store)
        self.started.append(self.features)
        for key, value in self.features.env().items():
            if key != "HOME":
                os.environ[key] = value
        _checked(self.features.apply())
        end = pd.Timestamp.now(tz="UTC").floor("h")
        tables = synthesize(customers, 3, end, seed=3)
        import boto3

        write_tables(boto3.client("s3", endpoint_url=self.object_store.endpoint, region_name="us-east-1",
                                  **{k.lower(): v for k, v in self.object_store.credentials("feast").items()}),
                     self.features.data_uri, tables)
        _checked(self.features.materialize())
        self.features.start()
        self.users = self.mlflow.converge_users(workload_users((MODEL,), ()))
        _checked(self.features.train(self.mlflow.admin_env(), MODEL))
        self.customers = sorted(tables.labels["customer_id"].tolist())

    def _up(self, server):
        self.started.append(server)
        server.start()
        return server

    def model_server(self, log: bool) -> LocalModelServer:
        serving = ModelServingOptions(models=(), target_cpu_utilization=70, poll_seconds=30, log_flush_seconds=10,
                                      log_max_rows=100_000)
        model = ServedModel(MODEL, "champion", 1, 0, 1, Resources("1", "1Gi", "2Gi"))
        endpoints = ServingEndpoints(self.mlflow.url, self.object_store.endpoint, self.features.url, MONITORING_BUCKET)
        server = LocalModelServer(model, serving, endpoints, self.users[f"model-{MODEL}"],
                                  self.object_store.credentials(f"model-{MODEL}"), extra_args=[] if log else ["--no-log"])
        return self._up(server)

    def mlflow_models_serve(self) -> tuple[subprocess.Popen, str]:
        """`mlflow models serve` of the same version, one uvicorn worker (its default)."""
        port = free_port()
        path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        process = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{MODEL}/1",
                                    "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)],
                                   env={**os.environ, **self.mlflow.admin_env(), "PATH": path},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        for _ in range(240):
            try:
                if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                    return process, url
            except requests.RequestException:
                time.sleep(0.5)
        process.kill()
        raise RuntimeError("mlflow models serve did not start")

    def stop(self) -> None:
        for server in reversed(self.started):
            server.destroy()


def _checked(result: subprocess.CompletedProcess) -> str:
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    return result.stdout


def median_of(runs: list[dict]) -> dict:
    return {key: round(float(np.median([run[key] for run in runs])), 3) for key in runs[0]}


def run(customers: int, requests_count: int, rounds: int) -> dict:
    platform = Platform(customers)
    mlflow_process = None
    try:
        mlflow_process, mlflow_url = platform.mlflow_models_serve()
        servers = {"mlflow models serve": mlflow_url, "model server, log off": platform.model_server(False).url,
                   "model server, log on": platform.model_server(True).url}
        for key, value in platform.mlflow.admin_env().items():
            os.environ[key] = value
        pyfunc = mlflow.pyfunc.load_model(f"models:/{MODEL}/1")
        sdk = FeatureStore(repo_path=str(platform.features.repo_dir))
        features = pd.DataFrame(sdk.get_online_features(
            features=sdk.get_feature_service(SERVICE),
            entity_rows=[{"customer_id": c} for c in platform.customers[:500]]).to_dict())[list(MODEL_FEATURES)]
        cells = []
        for rows in SIZES:
            payloads = feature_payloads(features, rows)
            for clients in CONCURRENCY:
                measured = {name: [] for name in servers}
                for round_ in range(rounds):  # rotate the order: drift of the machine hits every variant alike
                    names = list(servers)[round_ % 3:] + list(servers)[:round_ % 3]
                    for name in names:
                        measured[name].append(load(servers[name], payloads, clients, requests_count))
                cells.append({"rows": rows, "clients": clients, "workers": 1,
                              **{name: median_of(runs) for name, runs in measured.items()}})
        floors = [{"rows": rows, **floor(lambda r=rows: pyfunc.predict(features.head(r)), requests_count)}
                  for rows in SIZES]
        entities = entity_cells(servers["model server, log on"], platform, sdk, pyfunc, requests_count, rounds)
    finally:
        if mlflow_process is not None:
            mlflow_process.terminate()
            mlflow_process.wait(timeout=30)
        platform.stop()
    return {"customers": customers, "requests_per_measurement": requests_count, "rounds": rounds,
            "cpus": os.cpu_count(), "python": host.python_version(), "mlflow": mlflow.__version__,
            "feature_rows": cells, "predict_floor": floors, "entity_rows": entities}


def entity_cells(url: str, platform: Platform, sdk: FeatureStore, pyfunc, requests_count: int, rounds: int) -> list:
    """Entity-keyed requests (features looked up by the server) next to the in-process floor:
    the Feast SDK's online read plus predict, on the same entities."""
    cells = []
    for rows in SIZES:
        payloads = entity_payloads(platform.customers, rows)
        served = median_of([load(url, payloads, 1, requests_count) for _ in range(rounds)])

        def sdk_read_and_predict(r=rows):
            frame = pd.DataFrame(sdk.get_online_features(
                features=sdk.get_feature_service(SERVICE),
                entity_rows=[{"customer_id": c} for c in platform.customers[:r]]).to_dict())
            return pyfunc.predict(frame[list(MODEL_FEATURES)])

        cells.append({"rows": rows, "clients": 1, "model server": served,
                      "floor: Feast SDK read + predict": floor(sdk_read_and_predict, requests_count)})
    return cells


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}"


def markdown(result: dict) -> str:
    a, b, c = "mlflow models serve", "model server, log off", "model server, log on"
    lines = [
        f"One worker per server, MLflow {result['mlflow']}, Python {result['python']}, {result['cpus']} cores shared "
        f"by clients and servers; each figure the median of {result['rounds']} rounds of "
        f"{result['requests_per_measurement']:,} requests (variants interleaved). Generated by `make bench` "
        "(benchmarks/serving_bench.py).",
        "",
        "| rows x clients | server | p50 ms | p99 ms | requests/s | p50 vs log off | p99 vs log off | req/s vs mlflow |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for cell in result["feature_rows"]:
        for name in (a, b, c):
            row = cell[name]
            lines.append(f"| {cell['rows']} x {cell['clients']} | {name} | {row['p50_ms']:.2f} | {row['p99_ms']:.2f} | "
                         f"{row['requests_per_second']:,.0f} | {ratio(row['p50_ms'], cell[b]['p50_ms'])} | "
                         f"{ratio(row['p99_ms'], cell[b]['p99_ms'])} | "
                         f"{ratio(row['requests_per_second'], cell[a]['requests_per_second'])} |")
    lines += ["", "| floor: `predict` in process | rows | p50 ms | p99 ms |", "|---|---|---|---|"]
    lines += [f"| pyfunc.predict | {f['rows']} | {f['p50_ms']:.2f} | {f['p99_ms']:.2f} |" for f in result["predict_floor"]]
    lines += ["", "| entity-keyed, 1 client | entities | p50 ms | p99 ms | p50 x floor |", "|---|---|---|---|---|"]
    for cell in result["entity_rows"]:
        served, base = cell["model server"], cell["floor: Feast SDK read + predict"]
        lines.append(f"| model server (lookup through the feature server) | {cell['rows']} | {served['p50_ms']:.2f} | "
                     f"{served['p99_ms']:.2f} | {ratio(served['p50_ms'], base['p50_ms'])} |")
        lines.append(f"| floor: Feast SDK read + predict, in process | {cell['rows']} | {base['p50_ms']:.2f} | "
                     f"{base['p99_ms']:.2f} | 1.00 |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serving_bench")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=2000,
                        help="requests per measurement (p99 of 8 clients needs well over 1,000: one stall delays 8)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "serving.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    result = run(args.customers, args.requests, args.rounds)
    save_results(result, args.json, args.doc, BEGIN, END, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
