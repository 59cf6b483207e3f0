"""Converge MLflow's basic-auth users and grants through its REST API, idempotently.

Endpoints of MLflow 3.17's basic-auth app (mlflow/server/auth/routes.py): users/get,
users/create, users/update-password (2.0) and users/permissions/grant (3.0, an upsert). The
experiments and registered models a grant names are created first if missing, so a user can be
granted access before the first training run. Runs as the admin user (MLFLOW_TRACKING_*).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mlflow.exceptions import MlflowException, RestException
from mlflow.tracking import MlflowClient
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.rest_utils import http_request, verify_rest_response

from workloads.experiments import ensure_experiment, mark_classic
from workloads.mlflow_access.spec import Grant, User

log = logging.getLogger("mlflow_access")
USERS_GET, USERS_CREATE = "/api/2.0/mlflow/users/get", "/api/2.0/mlflow/users/create"
USERS_UPDATE_PASSWORD = "/api/2.0/mlflow/users/update-password"
PERMISSIONS_GRANT = "/api/3.0/mlflow/users/permissions/grant"


@dataclass
class AccessClient:
    tracking_uri: str

    def _call(self, endpoint: str, method: str, **kwargs) -> dict:
        response = http_request(get_default_host_creds(self.tracking_uri), endpoint, method, **kwargs)
        verify_rest_response(response, endpoint)
        return response.json() if response.content else {}

    def user_exists(self, username: str) -> bool:
        try:
            self._call(USERS_GET, "GET", params={"username": username})
        except RestException as error:
            if error.error_code == "RESOURCE_DOES_NOT_EXIST":
                return False
            raise
        return True

    def ensure_user(self, username: str, password: str) -> str:
        """Create the user, or set its password (a rotated Secret takes effect); says which."""
        if self.user_exists(username):
            self._call(USERS_UPDATE_PASSWORD, "PATCH", json={"username": username, "password": password})
            return "updated"
        self._call(USERS_CREATE, "POST", json={"username": username, "password": password})
        return "created"

    def grant(self, username: str, resource_type: str, resource_id: str, permission: str) -> None:
        self._call(PERMISSIONS_GRANT, "POST", json={"username": username, "resource_type": resource_type,
                                                    "resource_id": resource_id, "permission": permission})


def resource_id(client: MlflowClient, grant: Grant) -> str:
    """The experiment's ID or the registered model's name, creating the resource if missing."""
    if grant.resource_type == "experiment":
        experiment = client.get_experiment_by_name(grant.name)
        if experiment is None:
            return ensure_experiment(client, grant.name)
        mark_classic(client, experiment)  # one created before the kind was set (the admin may)
        return experiment.experiment_id
    try:
        client.get_registered_model(grant.name)
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        client.create_registered_model(grant.name)
    return grant.name


def converge(users: tuple[User, ...], passwords: dict[str, str], tracking_uri: str) -> list[str]:
    """Bring every user and grant to the spec; returns one line per action, for the Job's log."""
    access, client, done = AccessClient(tracking_uri), MlflowClient(tracking_uri), []
    for user in users:
        done.append(f"user {user.username}: {access.ensure_user(user.username, passwords[user.username])}")
        for grant in user.grants:
            access.grant(user.username, grant.resource_type, resource_id(client, grant), grant.permission)
            done.append(f"  {grant.permission} on {grant.resource_type} {grant.name}")
    return done
