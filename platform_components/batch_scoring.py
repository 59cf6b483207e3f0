"""BatchScoring: one CronJob per scored model, `python -m workloads.scoring batch`.

Each run scores the latest complete daily interval of the model's input table (Airflow-style:
the run stamped D scores the data of [D, D+1) and starts after it ends) with the version its alias
names, commits the result to `s3://predictions/<model>/dt=D/` with a `_SUCCESS` manifest, and adds
the scored rows to the model's prediction log for the drift monitor (docs/scoring.md). Bad input
fails the Job at once (FAIL_FAST_EXIT_CODES, podFailurePolicy); the rest is retried.
Least privilege: its own MLflow user (READ on its model and training experiment) and S3 identity
(read its input and the feature sources, write its own output and prediction-log prefixes), and
the feature registry's role for entity inputs; no Redis. `scoring_command` and `scoring_env` are
the single source of truth: the integration tests run the job from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

import pulumi

from platform_components.feature_store import CONFIG_DIR, REPO_DIR, FeastEndpoints, FeastSecrets, feast_env
from platform_components.k8s import (
    Manifest,
    Placement,
    Resources,
    container,
    cron_job,
    empty_dir,
    pushgateway_env,
    secret_env,
    selector_labels,
)
from platform_components.registration import register
from platform_components.stack_keys import setting, setting_group
from platform_components.validation import ArgError, require_cron, require_dns_label, require_min, require_pinned_image
from workloads.scoring.errors import FAIL_FAST_EXIT_CODES
from workloads.scoring.invocation import BatchInvocation


@dataclass(frozen=True)
class ScoredModel:
    """One entry of `scoredModels`: a name, or an object `{name, input, ...}` whose unset keys take
    the `batchScoring*` defaults."""

    DEFAULTS_PREFIX = "batchScoring"
    name: str = setting("name")
    input: str = setting("input")
    alias: str = setting("alias")
    schedule: str = setting("schedule")
    workers: int = setting("workers")
    resources: Resources = setting_group()

    def __post_init__(self) -> None:
        require_dns_label("name", self.name)
        require_dns_label("alias", self.alias)
        require_cron("schedule", self.schedule)
        require_min("workers", self.workers, 1)
        parsed = urlparse(self.input.replace("{ds}", "ds"))
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ArgError("input", "must be an s3://bucket/prefix/ of parquet files (`{ds}` for the interval's "
                                    f"date), holding the model's inputs or its entity keys; got {self.input!r}")

    @property
    def input_bucket(self) -> str:
        return urlparse(self.input).netloc

    @property
    def input_prefix(self) -> str:
        """The input's key prefix up to the first `{ds}` (what its S3 identity may read)."""
        return urlparse(self.input).path.lstrip("/").split("{ds}", 1)[0]

    @property
    def service_name(self) -> str:
        return f"batch-{self.name}"


@dataclass(frozen=True)
class BatchScoringOptions:
    """What a stack tunes (config keys `scoredModels`, `batchScoring*`)."""

    models: tuple[ScoredModel, ...] = setting("scoredModels")
    batch_rows: int = setting("batchScoringBatchRows")

    def __post_init__(self) -> None:
        names = [model.name for model in self.models]
        if len(set(names)) != len(names):
            raise ArgError("models", f"must not score a model twice, got {names}")
        require_min("batch_rows", self.batch_rows, 1000)


def scoring_command(model: str, input_uri: str, output_uri: str, log_uri: str, s3_endpoint: str, *, alias: str,
                    batch_rows: int, workers: int = 1, config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    """The Job's command: the workload's own typed invocation (workloads/scoring/invocation.py)."""
    return BatchInvocation(model=model, input=input_uri, output=output_uri, alias=alias, log_uri=log_uri,
                           s3_endpoint=s3_endpoint, batch_rows=batch_rows, workers=workers, config_dir=config_dir,
                           repo_dir=repo_dir).to_argv()


@dataclass(frozen=True)
class ScoringSecrets:
    mlflow: pulumi.Input[str]  # keys username / password: the model's batch user
    s3: pulumi.Input[str]  # its S3 identity
    registry: pulumi.Input[str]  # key "password": the feast_registry role


@dataclass(frozen=True)
class BatchScoringArgs:
    placement: Placement
    options: BatchScoringOptions
    workloads_image: str
    mlflow_url: str
    feast_config_map: pulumi.Input[str]
    feast_endpoints: FeastEndpoints
    secrets: dict[str, ScoringSecrets]  # per scored model
    output_uri: str = "s3://predictions"
    log_uri: str = "s3://monitoring"
    pushgateway_url: str | None = None

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)
        missing = {model.name for model in self.options.models} - set(self.secrets)
        if missing:
            raise ArgError("secrets", f"no credentials for scored models {sorted(missing)}")


def scoring_env(endpoints: FeastEndpoints, mlflow_url: str, secrets: ScoringSecrets,
                pushgateway_url: str | None = None) -> list[Manifest]:
    """The Job's environment: the feature store's (registry role, no Redis) with the model's own S3
    identity, and its MLflow user."""
    return [
        *feast_env(endpoints, FeastSecrets(secrets.registry, None, secrets.s3)),
        {"name": "MLFLOW_TRACKING_URI", "value": mlflow_url},
        secret_env("MLFLOW_TRACKING_USERNAME", secrets.mlflow, "username"),
        secret_env("MLFLOW_TRACKING_PASSWORD", secrets.mlflow, "password"),
        *pushgateway_env(pushgateway_url),
    ]


def scoring_cronjob(args: BatchScoringArgs, model: ScoredModel, meta_labels: dict[str, str]) -> Manifest:
    """CronJob `score-<model>`: the latest complete interval, scored and committed."""
    command = scoring_command(model.name, model.input, args.output_uri, args.log_uri,
                              args.feast_endpoints.s3_endpoint_url, alias=model.alias, batch_rows=args.options.batch_rows,
                              workers=model.workers)
    job = container(name="scoring", image=args.workloads_image, command=command,
                    env=scoring_env(args.feast_endpoints, args.mlflow_url, args.secrets[model.name],
                                    args.pushgateway_url), resources=model.resources,
                    volume_mounts=[{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                                   {"name": "tmp", "mountPath": "/tmp"}])
    volumes = [{"name": "config", "configMap": {"name": args.feast_config_map}}, empty_dir("tmp", "2Gi")]
    # A run missed by more than an hour is left to the next one, which `backfill` can repeat.
    return cron_job(args.placement, name=f"score-{model.name}", meta_labels=meta_labels, schedule=model.schedule,
                    job=job, volumes=volumes, fail_on_exit_codes=list(FAIL_FAST_EXIT_CODES),
                    starting_deadline_seconds=3600, active_deadline_seconds=4 * 3600)


class BatchScoring(pulumi.ComponentResource):
    """One CronJob `score-<model>` per scored model: an interval of its input scored with the
    alias's version, committed atomically, and logged for the drift monitor."""

    selector: dict[str, str]
    cronjob_names: list[str]

    def __init__(self, name: str, args: BatchScoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:BatchScoring", name, None, opts)
        placement = args.placement
        self.selector = selector_labels("batch-scoring", name)
        self.cronjob_names = []
        for model in args.options.models:
            meta_labels = {**placement.labels("batch-scoring", name, "batch-scoring"), "mlops-platform/model": model.name}
            register(f"{name}-{model.name}", scoring_cronjob(args, model, meta_labels), pulumi.ResourceOptions(parent=self))
            self.cronjob_names.append(f"score-{model.name}")
        self.register_outputs({"cronjob_names": self.cronjob_names})
