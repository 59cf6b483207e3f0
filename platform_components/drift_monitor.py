"""DriftMonitor: one CronJob per monitored model, running `python -m workloads.drift run`.

Each run processes the latest complete daily interval (Airflow-style: the run stamped D covers
[D, D+1) and starts after it ends), logs to MLflow and, on dataset drift, calls the optional
retrain hook. Exit codes 3-6 mean bad input: the Job fails at once instead of retrying
(podFailurePolicy), since retrying cannot fix the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components.k8s import (
    Manifest,
    PodIdentity,
    Resources,
    container,
    empty_dir,
    labels,
    pod_spec,
    scheduled_job_spec,
    secret_env,
    selector_labels,
)
from platform_components.validation import ArgError, require_cron, require_dns_label, require_pinned_image

BAD_INPUT_EXIT_CODES = [3, 4, 5, 6]  # workloads/drift/errors.py


@dataclass(frozen=True)
class DriftOptions:
    """What a stack tunes (config keys `drift*`)."""

    models: tuple[str, ...]
    resources: Resources
    schedule: str = "30 1 * * *"
    model_alias: str = "champion"
    retrain_hook_secret: str | None = None  # an existing Secret with keys `url` and `token`

    def __post_init__(self) -> None:
        for model in self.models:
            require_dns_label("models", model)
        if len(set(self.models)) != len(self.models):
            raise ArgError("models", f"must not repeat a model, got {list(self.models)}")
        require_cron("schedule", self.schedule)


def drift_command(model: str, alias: str, s3_endpoint: str, bucket: str) -> list[str]:
    return ["python", "-m", "workloads.drift", "run", "--model", model, "--model-alias", alias,
            "--bucket", bucket, "--s3-endpoint", s3_endpoint]


@dataclass(frozen=True)
class DriftMonitorArgs:
    namespace: str
    environment: str
    options: DriftOptions
    workloads_image: str
    mlflow_url: str
    mlflow_secret: pulumi.Input[str]  # keys username / password
    s3_endpoint: str
    s3_secret: pulumi.Input[str]  # keys AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, monitoring bucket
    bucket: str = "monitoring"
    identity: PodIdentity = PodIdentity()

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)


def cronjob_spec(model: str, args: DriftMonitorArgs, pod_labels: dict[str, str]) -> Manifest:
    options = args.options
    env = [
        {"name": "MLFLOW_TRACKING_URI", "value": args.mlflow_url},
        secret_env("MLFLOW_TRACKING_USERNAME", args.mlflow_secret, "username"),
        secret_env("MLFLOW_TRACKING_PASSWORD", args.mlflow_secret, "password"),
        secret_env("AWS_ACCESS_KEY_ID", args.s3_secret, "AWS_ACCESS_KEY_ID"),
        secret_env("AWS_SECRET_ACCESS_KEY", args.s3_secret, "AWS_SECRET_ACCESS_KEY"),
        {"name": "HOME", "value": "/tmp"},
    ]
    if options.retrain_hook_secret:
        env += [secret_env("RETRAIN_HOOK_URL", options.retrain_hook_secret, "url"),
                secret_env("RETRAIN_HOOK_TOKEN", options.retrain_hook_secret, "token")]
    job = container(
        name="drift",
        image=args.workloads_image,
        command=drift_command(model, options.model_alias, args.s3_endpoint, args.bucket),
        env=env,
        resources=options.resources,
        volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}],
    )
    # Intervals are UTC days; a run missed by more than an hour is left to the next one, which
    # `backfill` can repeat.
    return scheduled_job_spec(
        schedule=options.schedule, pod_labels=pod_labels, container_name="drift",
        fail_on_exit_codes=BAD_INPUT_EXIT_CODES, starting_deadline_seconds=3600, active_deadline_seconds=3600,
        pod=pod_spec(identity=args.identity, containers=[job], volumes=[empty_dir("tmp", "2Gi")], restart_policy="Never"),
    )


class DriftMonitor(pulumi.ComponentResource):
    selector: dict[str, str]
    cronjob_names: list[str]

    def __init__(self, name: str, args: DriftMonitorArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:DriftMonitor", name, None, opts)
        self.selector = selector_labels("drift-monitor", name)
        self.cronjob_names = []
        for model in args.options.models:
            meta_labels = {**labels("drift-monitor", name, "model-monitoring", args.environment), "mlops-platform/model": model}
            cronjob_name = f"drift-{model}"
            k8s.batch.v1.CronJob(
                f"{name}-{model}",
                metadata={"name": cronjob_name, "namespace": args.namespace, "labels": meta_labels},
                spec=cronjob_spec(model, args, meta_labels),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.cronjob_names.append(cronjob_name)
        self.register_outputs({"cronjob_names": self.cronjob_names})
