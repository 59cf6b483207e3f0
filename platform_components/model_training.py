"""ModelTraining: one CronJob per trained model, `python -m workloads.training run`.

Each run trains a challenger from the feature store (point in time), judges it and the champion
on the same most recent labelled window, registers it and moves `champion` only if it passes the
gate; the decision is recorded in MLflow (workloads/training). Off by default: without a
`trainingSchedule` the CronJob is suspended and serves as the template of Jobs started on demand,
by the training pipeline (pipelines/training.yml, from the drift monitor's retrain hook) or by hand
(`kubectl create job --from=cronjob/train-<model> ...`), so every run uses the same spec.
Least privilege: its own MLflow user (EDIT on its training experiment and registered model) and
S3 identity (read the features bucket), and the feature registry's role; no Redis.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from platform_components.validation import ArgError, require_cron, require_dns_label, require_pinned_image
from workloads.cli import EXIT_USAGE
from workloads.training.errors import FAIL_FAST_EXIT_CODES
from workloads.training.invocation import Promotion, TrainingRun

# A suspended CronJob still needs a schedule; this one is never used while suspended.
UNUSED_SCHEDULE = "0 3 * * *"


@dataclass(frozen=True)
class TrainingOptions:
    """What a stack tunes (config keys `trainedModels`, `training*`)."""

    models: tuple[str, ...] = setting("trainedModels")
    schedule: str | None = setting("trainingSchedule")  # None: suspended, runs on demand only
    resources: Resources = setting_group("training")

    def __post_init__(self) -> None:
        for model in self.models:
            require_dns_label("models", model)
        if len(set(self.models)) != len(self.models):
            raise ArgError("models", f"must not repeat a model, got {list(self.models)}")
        if self.schedule is not None:
            require_cron("schedule", self.schedule)


def training_command(model: str, config_dir: str = CONFIG_DIR, repo_dir: str = REPO_DIR) -> list[str]:
    # A kept champion is a decision, not a failure: the Job succeeds (the decision is in MLflow
    # and on the log's last line, which the training pipeline reads).
    return TrainingRun(model=model, config_dir=config_dir, repo_dir=repo_dir, kept_exit_code=0).to_argv()


@dataclass(frozen=True)
class TrainingSecrets:
    mlflow: pulumi.Input[str]  # keys username / password: the model's training user
    s3: pulumi.Input[str]  # the training S3 identity (read the features bucket)
    registry: pulumi.Input[str]  # key "password": the feast_registry role


@dataclass(frozen=True)
class ModelTrainingArgs:
    placement: Placement
    options: TrainingOptions
    workloads_image: str
    mlflow_url: str
    feast_config_map: pulumi.Input[str]
    feast_endpoints: FeastEndpoints
    secrets: dict[str, TrainingSecrets]  # per trained model
    pushgateway_url: str | None = None  # where each run reports its outcome (a monitoring stack's)

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)
        missing = set(self.options.models) - set(self.secrets)
        if missing:
            raise ArgError("secrets", f"no credentials for trained models {sorted(missing)}")


def promote_command(model: str, source_tracking_uri: str, target_tracking_uri: str, alias: str = "champion") -> list[str]:
    """Copy `model@alias` from one environment's registry to the next (pipelines/scripts/
    promote_model.sh runs it on the agent). Credentials: SOURCE_/TARGET_MLFLOW_TRACKING_USERNAME
    and _PASSWORD; MLOPS_SOURCE_ENVIRONMENT names the source in the copied version's tags."""
    return Promotion(model=model, alias=alias, from_tracking_uri=source_tracking_uri,
                     to_tracking_uri=target_tracking_uri).to_argv()


def training_env(args: ModelTrainingArgs, secrets: TrainingSecrets) -> list[Manifest]:
    feast = feast_env(args.feast_endpoints, FeastSecrets(secrets.registry, None, secrets.s3))
    return [
        *feast,
        {"name": "MLFLOW_TRACKING_URI", "value": args.mlflow_url},
        secret_env("MLFLOW_TRACKING_USERNAME", secrets.mlflow, "username"),
        secret_env("MLFLOW_TRACKING_PASSWORD", secrets.mlflow, "password"),
        {"name": "MLOPS_ENVIRONMENT", "value": args.placement.environment},
        *pushgateway_env(args.pushgateway_url),
    ]


def training_cronjob(args: ModelTrainingArgs, model: str, meta_labels: dict[str, str]) -> Manifest:
    job = container(name="training", image=args.workloads_image, command=training_command(model),
                    env=training_env(args, args.secrets[model]), resources=args.options.resources,
                    volume_mounts=[{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                                   {"name": "tmp", "mountPath": "/tmp"}])
    volumes = [{"name": "config", "configMap": {"name": args.feast_config_map}}, empty_dir("tmp", "4Gi")]
    return cron_job(
        args.placement, name=f"train-{model}", meta_labels=meta_labels,
        schedule=args.options.schedule or UNUSED_SCHEDULE, suspend=args.options.schedule is None, job=job,
        volumes=volumes, fail_on_exit_codes=sorted({*FAIL_FAST_EXIT_CODES, EXIT_USAGE}),
        starting_deadline_seconds=3600, active_deadline_seconds=2 * 3600,
    )


class ModelTraining(pulumi.ComponentResource):
    """One CronJob `train-<model>` per trained model (suspended without a schedule): challenger
    trained, gated against the champion, registered, the decision recorded in MLflow."""

    selector: dict[str, str]
    cronjob_names: list[str]

    def __init__(self, name: str, args: ModelTrainingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:ModelTraining", name, None, opts)
        placement = args.placement
        self.selector = selector_labels("model-training", name)
        self.cronjob_names = []
        for model in args.options.models:
            meta_labels = {**placement.labels("model-training", name, "model-training"), "mlops-platform/model": model}
            register(f"{name}-{model}", training_cronjob(args, model, meta_labels), pulumi.ResourceOptions(parent=self))
            self.cronjob_names.append(f"train-{model}")
        self.register_outputs({"cronjob_names": self.cronjob_names})
