"""A model version is servable only when its files are complete, it loads, and it scores its own
input example: what promotion and the training gate check before moving an alias (verify.py)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from workloads.training.errors import BrokenModelError
from workloads.training.verify import named_files, verify_model_dir


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    path = tmp_path_factory.mktemp("model") / "model"
    mlflow.sklearn.save_model(LogisticRegression().fit(frame, np.arange(20) % 2), str(path), input_example=frame.head(3))
    return path


@pytest.fixture
def model(saved, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(saved, copy)
    return copy


def test_a_complete_model_passes(model):
    verify_model_dir(model, "churn v1")


def test_the_files_the_mlmodel_names_are_found():
    config = {"flavors": {"python_function": {"model_path": "model.skops", "env": {"conda": "conda.yaml"}},
                          "sklearn": {"pickled_model": "model.skops", "code": None}},
              "saved_input_example_info": {"artifact_path": "input_example.json", "pandas_orient": "split"}}
    assert named_files(config) == {"model.skops", "conda.yaml", "input_example.json"}


def serialized(path):
    """The scikit-learn flavour's model file (model.skops in MLflow 3.x, model.pkl before)."""
    from mlflow.models import Model

    return path / Model.load(str(path / "MLmodel")).flavors["sklearn"]["pickled_model"]


@pytest.mark.parametrize(("damage", "message"), [
    (lambda path: serialized(path).unlink(), "churn v1 is incomplete: model.skops named in its MLmodel file are missing"),
    (lambda path: (path / "MLmodel").unlink(), "churn v1 is not a model: no MLmodel file"),
    (lambda path: serialized(path).write_bytes(b"not a model"), "churn v1 does not load"),
    (lambda path: shutil.rmtree(path) or path.mkdir(), "churn v1 is not a model: no MLmodel file (found no files)"),
    (lambda path: (path / "input_example.json").write_text('{"columns": ["zzz"], "data": [[1]]}'),
     "churn v1 cannot score its own input example"),
], ids=["pickle-gone", "mlmodel-gone", "pickle-damaged", "all-gone", "example-fails"])
def test_a_damaged_model_is_refused_naming_what_is_wrong(model, damage, message):
    damage(model)
    with pytest.raises(BrokenModelError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        verify_model_dir(model, "churn v1")
    assert BrokenModelError.exit_code == 4
