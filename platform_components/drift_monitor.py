"""DriftMonitor: one CronJob per monitored model, running `python -m workloads.drift run`.

Each run processes the latest complete daily interval (Airflow-style: the run stamped D covers
[D, D+1) and starts after it ends), logs to MLflow and, on dataset drift, calls the optional
retrain hook. Bad input (workloads/drift/errors.py, FAIL_FAST_EXIT_CODES) fails the Job at once
instead of retrying (podFailurePolicy), since retrying cannot fix the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

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
from workloads.drift.errors import FAIL_FAST_EXIT_CODES


@dataclass(frozen=True)
class DriftOptions:
    """What a stack tunes (config keys `drift*`)."""

    models: tuple[str, ...] = setting("driftModels")
    resources: Resources = setting_group("drift")
    schedule: str = setting("driftSchedule")
    model_alias: str = setting("driftModelAlias")
    retrain_hook_secret: str | None = setting("driftRetrainHookSecret")  # a Secret with keys `url`, `token`
    mmd_permutations: int = setting("driftMmdPermutations")
    # An AUC below this (as a decimal string; empty: none) calls the retrain hook, as drift does.
    performance_floor: str | None = setting("driftPerformanceFloor")

    def __post_init__(self) -> None:
        if self.performance_floor is not None:
            try:
                floor = float(self.performance_floor)
            except ValueError:
                floor = -1.0
            if not 0 <= floor <= 1:
                raise ArgError("performance_floor", f"must be an AUC between 0 and 1, got {self.performance_floor!r}")
        for model in self.models:
            require_dns_label("models", model)
        if len(set(self.models)) != len(self.models):
            raise ArgError("models", f"must not repeat a model, got {list(self.models)}")
        require_cron("schedule", self.schedule)
        require_min("mmd_permutations", self.mmd_permutations, 1)


def drift_command(model: str, options: DriftOptions, s3_endpoint: str, bucket: str,
                  labels_uri: str | None = None) -> list[str]:
    command = ["python", "-m", "workloads.drift", "run", "--model", model, "--model-alias", options.model_alias,
               "--bucket", bucket, "--s3-endpoint", s3_endpoint, "--mmd-permutations", str(options.mmd_permutations)]
    if labels_uri:
        command += ["--labels-uri", labels_uri]
    if options.performance_floor:
        command += ["--performance-floor", options.performance_floor]
    return command


@dataclass(frozen=True)
class DriftMonitorArgs:
    placement: Placement
    options: DriftOptions
    workloads_image: str
    mlflow_url: str
    mlflow_secret: pulumi.Input[str]  # keys username / password
    s3_endpoint: str
    s3_secret: pulumi.Input[str]  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, monitoring bucket
    bucket: str = "monitoring"
    labels_uri: str | None = None  # s3://... outcomes, for the model's performance per interval
    pushgateway_url: str | None = None  # where each run reports its outcome (a monitoring stack's)

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)


def drift_cronjob(model: str, args: DriftMonitorArgs, meta_labels: dict[str, str]) -> Manifest:
    """CronJob `drift-<model>`: `python -m workloads.drift run` for the latest complete interval."""
    options = args.options
    env = [
        {"name": "MLFLOW_TRACKING_URI", "value": args.mlflow_url},
        secret_env("MLFLOW_TRACKING_USERNAME", args.mlflow_secret, "username"),
        secret_env("MLFLOW_TRACKING_PASSWORD", args.mlflow_secret, "password"),
        secret_env("AWS_ACCESS_KEY_ID", args.s3_secret, "AWS_ACCESS_KEY_ID"),
        secret_env("AWS_SECRET_ACCESS_KEY", args.s3_secret, "AWS_SECRET_ACCESS_KEY"),
        {"name": "HOME", "value": "/tmp"},
        *pushgateway_env(args.pushgateway_url),
    ]
    if options.retrain_hook_secret:
        env += [secret_env("RETRAIN_HOOK_URL", options.retrain_hook_secret, "url"),
                secret_env("RETRAIN_HOOK_TOKEN", options.retrain_hook_secret, "token")]
    job = container(
        name="drift",
        image=args.workloads_image,
        command=drift_command(model, options, args.s3_endpoint, args.bucket, args.labels_uri),
        env=env,
        resources=options.resources,
        volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}],
    )
    # Intervals are UTC days; a run missed by more than an hour is left to the next one, which
    # `backfill` can repeat.
    return cron_job(
        args.placement, name=f"drift-{model}", meta_labels=meta_labels, schedule=options.schedule, job=job,
        volumes=[empty_dir("tmp", "2Gi")], fail_on_exit_codes=list(FAIL_FAST_EXIT_CODES),
        starting_deadline_seconds=3600, active_deadline_seconds=3600,
    )


class DriftMonitor(pulumi.ComponentResource):
    """One CronJob per monitored model: each run tests the latest complete daily interval of the
    model's prediction logs against its reference, logs to MLflow, and calls the retrain hook on
    dataset drift. Bad input fails the Job at once (FAIL_FAST_EXIT_CODES); the rest is retried."""

    selector: dict[str, str]
    cronjob_names: list[str]

    def __init__(self, name: str, args: DriftMonitorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:DriftMonitor", name, None, opts)
        placement = args.placement
        self.selector = selector_labels("drift-monitor", name)
        self.cronjob_names = []
        for model in args.options.models:
            meta_labels = {**placement.labels("drift-monitor", name, "model-monitoring"), "mlops-platform/model": model}
            cronjob_name = f"drift-{model}"
            register(f"{name}-{model}", drift_cronjob(model, args, meta_labels), pulumi.ResourceOptions(parent=self))
            self.cronjob_names.append(cronjob_name)
        self.register_outputs({"cronjob_names": self.cronjob_names})
