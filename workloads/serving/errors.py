"""Errors of the model server. Request errors answer in MLflow's error shape; start-up errors exit."""

from __future__ import annotations

from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TEMPORARILY_UNAVAILABLE

from workloads.cli import WorkloadError, fail_fast_codes


class MissingEntitiesError(MlflowException):
    """Some requested entities have no current features online: 404, naming each one and why."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems), error_code=RESOURCE_DOES_NOT_EXIST)
        self.problems = problems


class InvalidEntityKeyError(MlflowException):
    """An entity key of the wrong type, null, or out of range: 400, naming each one (entities.py)."""

    def __init__(self, message: str):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class FeatureStoreRefusedError(MlflowException):
    """The feature server refused the lookup as a bad request (its 4xx): 400, a retry cannot help."""

    def __init__(self, message: str):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


class FeatureStoreUnavailableError(MlflowException):
    """The feature server could not be reached or failed: 503, a retry may succeed."""

    def __init__(self, message: str):
        super().__init__(message, error_code=TEMPORARILY_UNAVAILABLE)


class ServingConfigError(WorkloadError):
    """A setting of the server is invalid (exit 2: a restart cannot fix it)."""

    exit_code = 2


FAIL_FAST_EXIT_CODES = fail_fast_codes(ServingConfigError)
