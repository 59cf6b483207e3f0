"""`python -m tools.servers up`: the integration tier's servers, for manual runs, until Ctrl-C.

Prints the endpoints and an `export ...` block with the credentials to paste into a shell (and
two free ports for the feature server and model server you start yourself), and writes the
feature store's config directory (feature_store.yaml + repository) for the Feast loop.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys

from platform_components.platform import BUCKETS, DATABASES, S3_CLIENTS
from tools.servers.feast import LocalFeatureStore
from tools.servers.mlflow import LocalMlflow
from tools.servers.postgres import LocalPostgres
from tools.servers.process import ServerError, free_port
from tools.servers.redis import LocalRedis
from tools.servers.seaweedfs import LocalSeaweedfs


def up() -> int:
    started = []
    try:
        postgres = LocalPostgres().start()
        started.append(postgres)
        postgres.bootstrap(DATABASES)
        redis = LocalRedis().start()
        started.append(redis)
        store = LocalSeaweedfs(clients=S3_CLIENTS).start()
        started.append(store)
        result = store.create_buckets(BUCKETS)
        if result.returncode != 0:
            raise ServerError(result.stderr)
        mlflow = LocalMlflow(postgres, store)
        started.append(mlflow)
        mlflow.start()
        features = LocalFeatureStore(postgres, redis, store)
        started.append(features)
        username, password = mlflow.admin
        # The feature store's env as its pods get it, but with the admin S3 keys below (so that one
        # shell can also run the drift demo, which writes to the monitoring bucket) and your HOME.
        skip = {"HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        feast_env = {k: v for k, v in features.env().items() if k not in skip}
        exports = {
            "MLFLOW_TRACKING_URI": mlflow.url,
            "MLFLOW_TRACKING_USERNAME": username,
            "MLFLOW_TRACKING_PASSWORD": password,
            "MLFLOW_S3_ENDPOINT_URL": store.endpoint,
            **store.credentials("admin"),
            "REDIS_URL": f"redis://127.0.0.1:{redis.port}/0",
            "REDIS_PASSWORD": redis.password,
            "PG_SUPERUSER_URI": postgres.superuser_uri(),
            **feast_env,
            "FEATURE_CONFIG_DIR": str(features.config_dir),
            "FEATURE_REPO_DIR": str(features.repo_dir),
            # Free now, for the feature server and model server the README starts by hand.
            "FEATURE_SERVER_PORT": str(free_port()),
            "MODEL_SERVER_PORT": str(free_port()),
        }
        print(f"mlflow     {mlflow.url}  (pid {mlflow.process.pid})")
        print(f"s3         {store.endpoint}  buckets: {', '.join(BUCKETS)}  (pid {store.process.pid})")
        print(f"redis      127.0.0.1:{redis.port}  (pid {redis.process.pid})")
        print(f"postgres   127.0.0.1:{postgres.port}  (pid {postgres.process.pid})")
        print(f"feast      config {features.config_dir}  (feature_store.yaml + repository)")
        print("\n# paste into a shell:")
        for name, value in exports.items():
            print(f"export {name}={shlex.quote(value)}")
        print("\nCtrl-C stops all servers.", flush=True)
        # Blocked only now: a mask set before the servers started would be inherited by them, and
        # Redis, for one, would then ignore the SIGTERM that stops it (a KILL after the timeout).
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    except ServerError as error:
        print(f"servers: {error}", file=sys.stderr)
        return 1
    finally:
        for server in reversed(started):
            server.destroy()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.servers", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["up"])
    parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # while starting: stop what started, as Ctrl-C
    return up()


if __name__ == "__main__":
    sys.exit(main())
