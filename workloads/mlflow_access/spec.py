"""What the access Job converges: users, their passwords (by environment variable) and grants.

The spec is JSON on the command line (no secret in it: each password is named by the environment
variable that holds it, filled from a Kubernetes Secret). Permissions are MLflow's: READ, USE,
EDIT, MANAGE, NO_PERMISSIONS (Ref: https://mlflow.org/docs/latest/auth.html#permissions).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from workloads.cli import UsageError

RESOURCE_TYPES = ("experiment", "registered_model")
PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")


@dataclass(frozen=True)
class Grant:
    """`permission` on the experiment or registered model called `name` (created if missing)."""

    resource_type: str
    name: str
    permission: str

    def __post_init__(self) -> None:
        if self.resource_type not in RESOURCE_TYPES:
            raise UsageError(f"resource_type must be one of {', '.join(RESOURCE_TYPES)}, got {self.resource_type!r}")
        if self.permission not in PERMISSIONS:
            raise UsageError(f"permission must be one of {', '.join(PERMISSIONS)}, got {self.permission!r}")
        if not self.name:
            raise UsageError(f"a {self.resource_type} grant needs a name")


@dataclass(frozen=True)
class User:
    username: str
    password_env: str
    grants: tuple[Grant, ...]


def parse_spec(text: str) -> tuple[User, ...]:
    """`{"users": [{"username", "password_env", "grants": [{"resource_type", "name", "permission"}]}]}`."""
    try:
        document = json.loads(text)
        return tuple(
            User(user["username"], user["password_env"], tuple(Grant(**grant) for grant in user.get("grants", ())))
            for user in document["users"]
        )
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"not an access spec ({type(error).__name__}: {error})") from None


def spec_json(users: tuple[User, ...]) -> str:
    """The inverse of `parse_spec`: what the component puts on the Job's command line."""
    return json.dumps({"users": [
        {"username": user.username, "password_env": user.password_env,
         "grants": [{"resource_type": g.resource_type, "name": g.name, "permission": g.permission} for g in user.grants]}
        for user in users
    ]}, sort_keys=True, separators=(",", ":"))
