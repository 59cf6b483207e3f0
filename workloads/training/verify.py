"""Is a model version servable? Its files complete, and the model loads and scores its own input
example: what promotion and the training gate check before they move an alias to it.

A version whose artifacts were deleted, or partly (the pickle gone, the MLmodel left), downloads
without error as whatever is left; only loading it shows it is broken, on the model server, after
the alias moved. So the version is downloaded from the registry it lives in, as the model server
will, and `verify_model_dir` checks it:
1. `MLmodel` is there and parses;
2. every file it names (the flavours' `data`, `model_path`, `pickled_model` (`model.skops` for
   scikit-learn since MLflow 3.x), `python_model`, `model_data`, `model_code_path`, the
   environment files, the input examples) is there;
3. `mlflow.pyfunc.load_model` loads it;
4. it scores its own input example, when it was logged with one (MLflow's `validate_serving_input`
   does the same before serving).
Each failure raises BrokenModelError naming the version and what is wrong.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from workloads.training.errors import BrokenModelError

VERIFICATION_TAG = "mlops.verification"  # on a registered version that failed: `failed: <why>`
# Keys of the MLmodel file (flavour configurations) whose values are files of the model.
FILE_KEYS = {"data", "model_path", "pickled_model", "python_model", "model_data", "model_code_path", "conda",
             "virtualenv", "artifact_path", "serving_input_path"}


def named_files(config: Any) -> set[str]:
    """Relative paths named under FILE_KEYS anywhere in an MLmodel (nested dicts included)."""
    found: set[str] = set()
    if isinstance(config, dict):
        for key, value in config.items():
            if key in FILE_KEYS and isinstance(value, str) and value and not value.startswith(("/", "..")) \
                    and "://" not in value:
                found.add(value)
            else:
                found |= named_files(value)
    elif isinstance(config, list):
        for item in config:
            found |= named_files(item)
    return found


def verify_model_dir(path: Path, what: str) -> None:
    """Raise BrokenModelError unless `path` holds a complete model that loads and scores its input
    example; `what` names it in the message (`churn v4 in the source registry`)."""
    import mlflow.pyfunc
    from mlflow.models import Model

    if not (path / "MLmodel").is_file():
        present = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())[:10]
        raise BrokenModelError(f"{what} is not a model: no MLmodel file (found {present or 'no files'})")
    try:
        model = Model.load(str(path / "MLmodel"))
    except Exception as error:
        raise BrokenModelError(f"{what}: its MLmodel file cannot be read: {error}") from None
    config = {"flavors": model.flavors, "saved_input_example_info": model.saved_input_example_info or {}}
    missing = sorted(name for name in named_files(config) if not (path / name).exists())
    if missing:
        raise BrokenModelError(f"{what} is incomplete: {', '.join(missing)} named in its MLmodel file are missing")
    try:
        pyfunc = mlflow.pyfunc.load_model(str(path))
    except Exception as error:
        raise BrokenModelError(f"{what} does not load: {type(error).__name__}: {error}") from None
    try:
        example = model.load_input_example(str(path))
    except Exception as error:
        raise BrokenModelError(f"{what}: its input example cannot be read: {error}") from None
    if example is not None:
        try:
            pyfunc.predict(example)
        except Exception as error:
            raise BrokenModelError(f"{what} cannot score its own input example: {type(error).__name__}: "
                                   f"{str(error)[:500]}") from None


def verify_registered(tracking_uri: str, model: str, version: str, what: str) -> None:
    """Download `models:/<model>/<version>` from `tracking_uri`'s registry, as a model server
    would, and verify it (the caller sets the credentials)."""
    import mlflow.artifacts

    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(f"models:/{model}/{version}", dst_path=tmp,
                                                       tracking_uri=tracking_uri, registry_uri=tracking_uri)
        except Exception as error:
            raise BrokenModelError(f"{what} cannot be downloaded: {type(error).__name__}: {error}") from None
        verify_model_dir(Path(path), what)
