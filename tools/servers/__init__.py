"""Real Postgres, Redis, SeaweedFS (S3) and MLflow servers as local processes.

Each server is configured by the same pure functions the Pulumi components use (command lines,
config files, env), with only the endpoints swapped for 127.0.0.1 and free ports. Used by the
integration tests and by `python -m tools.servers up` for manual runs.
"""
