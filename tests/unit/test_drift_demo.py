"""`python -m tools.drift_demo` leaves an existing registered model alone unless --force."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST

from tools.drift_demo import ModelExistsError, refuse_existing


class Registry:
    def __init__(self, models: dict[str, dict]):
        self.models = models

    def get_registered_model(self, name):
        if name not in self.models:
            raise MlflowException(f"Registered Model with name={name} not found", error_code=RESOURCE_DOES_NOT_EXIST)
        return SimpleNamespace(name=name, aliases=self.models[name])


def test_an_existing_model_is_refused_naming_its_champion():
    with pytest.raises(ModelExistsError, match=r"'churn' exists \(alias champion -> version 7\).*--force"):
        refuse_existing(Registry({"churn": {"champion": "7"}}), "churn", force=False)


def test_a_new_name_or_force_goes_ahead():
    refuse_existing(Registry({"churn": {"champion": "7"}}), "churn-demo", force=False)
    refuse_existing(Registry({"churn": {"champion": "7"}}), "churn", force=True)
