"""MLflow's Prometheus metrics, served outside its basic-auth app.

`mlflow server --expose-prometheus DIR` makes every worker write prometheus_flask_exporter's
metrics (`mlflow_http_request_total`, `mlflow_http_request_duration_seconds`, ...) to DIR in
prometheus_client's multiprocess format, and serves them on `/metrics` of the app itself, where
MLflow 3's basic-auth app denies every user but the admin (fail-closed routes). This process, a
sidecar in the MLflow pod sharing DIR, serves the same files on a port of its own that only
Prometheus may reach (NetworkPolicy): no credential is handed to the monitoring stack.
Ref: https://prometheus.github.io/client_python/multiprocess/

    python metrics_exporter.py --dir /tmp/prometheus-metrics --port 9102 [--host 0.0.0.0]
"""

from __future__ import annotations

import argparse
import os
import signal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True, help="the server's --expose-prometheus directory")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="0.0.0.0")
    args = parser.parse_args()
    os.makedirs(args.dir, exist_ok=True)  # the server creates it too; either may start first
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=args.dir)
    server, thread = start_http_server(args.port, addr=args.host, registry=registry)
    signal.signal(signal.SIGTERM, lambda *_: server.shutdown())
    thread.join()


if __name__ == "__main__":
    main()
