"""`python -m workloads.scoring batch`'s options, typed (workloads/invocation.py): what the
BatchScoring component runs and the parser reads. The interval (`--interval-end`,
`--scheduled-time`, backfill's `--start`/`--end`) is each run's own, added by the parser."""

from __future__ import annotations

from dataclasses import dataclass

from workloads.invocation import Invocation, option

REPO_DIR = "/tmp/feature-repo"  # where the components stage it too (platform_components/feature_store.py)


@dataclass(frozen=True)
class BatchInvocation(Invocation):
    MODULE = "workloads.scoring"
    COMMAND = "batch"

    model: str = option(help="registered model name")
    input: str = option(help="parquet file or prefix (s3://bucket/prefix/ or a local path); {ds} becomes the "
                             "interval's stamp YYYY-MM-DD. Holding the model's input columns: scored as is; holding "
                             "its entity keys instead: the features come from the feature store (needs --config-dir)")
    output: str = option(help="prefix of the results: <output>/<model>/dt=YYYY-MM-DD/")
    alias: str = option("champion", help="the alias whose version scores (default champion)")
    log_uri: str = option("s3://monitoring", help="the prediction log's root, <log-uri>/<model>/dt=YYYY-MM-DD/ "
                                                  "(default s3://monitoring)")
    no_log: bool = option(False, help="do not add the scored rows to the prediction log")
    timestamp_column: str = option("event_timestamp", help="when the input has it, only rows with it in the interval "
                                   "are scored, each as of its time; without it every row is scored as of the "
                                   "interval's end (default event_timestamp)")
    key_column: tuple[str, ...] = option((), help="an input column to carry into the output (repeatable; the entity "
                                                  "keys always are)")
    batch_rows: int = option(100_000, help="rows read and scored at a time (default 100000)")
    rows_per_file: int = option(5_000_000, help="rows per output file at most (default 5000000)")
    workers: int = option(1, help="processes scoring batches in parallel (default 1): the cores the job may use")
    config_dir: str | None = option(None, help="the feature store's feature_store.yaml and repository (entity inputs)")
    repo_dir: str = option(REPO_DIR, help=f"where to stage the feature repository (default {REPO_DIR})")
    s3_endpoint: str | None = option(None, help="the S3 endpoint (default: $AWS_ENDPOINT_URL)")
    workdir: str | None = option(None, help="where the model is downloaded (default: the temp directory)")

    def __post_init__(self) -> None:
        for name in ("batch_rows", "rows_per_file", "workers"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
