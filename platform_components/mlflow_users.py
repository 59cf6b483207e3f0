"""MlflowUsers: one MLflow user per workload, with only the permissions it needs.

Creates a generated password and a basic-auth Secret per user, and a post-deploy Job
(`python -m workloads.mlflow_access ensure`) that creates the users, sets their passwords and
upserts their grants through MLflow's auth API as the admin; it reruns whenever the users or
grants change. Workloads log in with their own Secret, never the admin's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from platform_components.k8s import (
    Manifest,
    Placement,
    Resources,
    container,
    empty_dir,
    secret_env,
    selector_labels,
    setup_job,
)
from platform_components.registration import register
from platform_components.validation import ArgError, require_pinned_image
from workloads.mlflow_access.spec import Grant, User, spec_json


@dataclass(frozen=True)
class MlflowUser:
    username: str
    grants: tuple[Grant, ...]

    @property
    def password_env(self) -> str:
        return "PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", self.username.upper())


def access_command(users: tuple[MlflowUser, ...]) -> list[str]:
    spec = spec_json(tuple(User(u.username, u.password_env, u.grants) for u in users))
    return ["python", "-m", "workloads.mlflow_access", "ensure", "--spec", spec]


def access_env(mlflow_url: str, admin_secret: pulumi.Input[str], users: tuple[MlflowUser, ...],
               user_secrets: dict[str, pulumi.Input[str]]) -> list[Manifest]:
    return [
        {"name": "MLFLOW_TRACKING_URI", "value": mlflow_url},
        secret_env("MLFLOW_TRACKING_USERNAME", admin_secret, "username"),
        secret_env("MLFLOW_TRACKING_PASSWORD", admin_secret, "password"),
        {"name": "HOME", "value": "/tmp"},
        *(secret_env(user.password_env, user_secrets[user.username], "password") for user in users),
    ]


def access_job(args: MlflowUsersArgs, meta_labels: dict[str, str], user_secrets: dict[str, pulumi.Input[str]]) -> Manifest:
    """The converge Job: `python -m workloads.mlflow_access ensure` as the admin."""
    job = container(name="mlflow-access", image=args.workloads_image, command=access_command(args.users),
                    env=access_env(args.mlflow_url, args.admin_secret, args.users, user_secrets),
                    resources=Resources("50m", "64Mi", "256Mi"), volume_mounts=[{"name": "tmp", "mountPath": "/tmp"}])
    return setup_job(args.placement, meta_labels=meta_labels, job=job, volumes=[empty_dir("tmp", "64Mi")])


@dataclass(frozen=True)
class MlflowUsersArgs:
    placement: Placement
    workloads_image: str
    mlflow_url: str
    admin_secret: pulumi.Input[str]  # keys username / password: the basic-auth admin
    users: tuple[MlflowUser, ...]

    def __post_init__(self) -> None:
        require_pinned_image("workloads_image", self.workloads_image)
        names = [user.username for user in self.users]
        if len(set(names)) != len(names) or "admin" in names:
            raise ArgError("users", f"must be unique and not the admin, got {names}")


class MlflowUsers(pulumi.ComponentResource):
    """Per-workload MLflow users: `secret_names` maps each username to its basic-auth Secret."""

    secret_names: dict[str, pulumi.Output[str]]
    job_selector: dict[str, str]

    def __init__(self, name: str, args: MlflowUsersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("mlops:platform:MlflowUsers", name, None, opts)
        placement = args.placement
        meta_labels = placement.labels("mlflow-access", name, "tracking-access")
        self.job_selector = selector_labels("mlflow-access", name)
        self.secret_names = {}
        for user in args.users:
            password = placement.credentials.password(f"{name}-{user.username}-password", 32, parent=self)
            secret = k8s.core.v1.Secret(
                f"{name}-{user.username}", metadata=placement.metadata(meta_labels), type="kubernetes.io/basic-auth",
                string_data={"username": user.username, "password": password},
                opts=pulumi.ResourceOptions(parent=self))
            self.secret_names[user.username] = secret.metadata["name"]
        # A changed user, grant or password replaces the Job: it converges again.
        register(f"{name}-converge", access_job(args, meta_labels, self.secret_names), pulumi.ResourceOptions(parent=self))
        self.register_outputs({"secret_names": self.secret_names})
