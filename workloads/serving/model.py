"""The served model: one registered version loaded from MLflow, and the holder that swaps it.

`ModelHolder` resolves `models:/<name>@<alias>`, loads that version in the background and swaps
the reference atomically when the alias moves; a request that started on the old version ends on
it. A failed load (MLflow down, a broken version) keeps the current version serving, is logged and
counted. Until the first load succeeds there is no model, and the server is not ready.
"""

from __future__ import annotations

import gc
import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workloads.serving import metrics
from workloads.serving.log_schema import LogSchema, schema_of
from workloads.tags import ENTITY_KEY_TYPES_TAG, ENTITY_KEYS_TAG, FEATURE_SERVICE_TAG, entity_key_types

log = logging.getLogger("serving.model")


@dataclass(frozen=True)
class LoadedModel:
    """One registered version, ready to score. `pyfunc` is MLflow's PyFuncModel."""

    name: str
    version: str
    run_id: str
    pyfunc: Any
    feature_service: str | None = None
    entity_keys: tuple[str, ...] = ()
    directory: Path | None = field(default=None, compare=False)  # its download, removed when superseded
    path: str | None = field(default=None, compare=False)  # the local model, loadable by another process
    entity_key_types: dict[str, str] = field(default_factory=dict, compare=False)  # key -> Feast type name

    @property
    def input_schema(self):
        return self.pyfunc.metadata.get_input_schema()

    @property
    def feature_names(self) -> list[str]:
        schema = self.input_schema
        return [str(name) for name in schema.input_names()] if schema is not None else []

    @cached_property
    def log_schema(self) -> LogSchema:
        """The columns and types of this version's prediction-log files, computed once."""
        keys = {key: self.entity_key_types.get(key, "") for key in self.entity_keys}
        return schema_of(self.pyfunc.metadata, keys, probability=binary_classifier(self.pyfunc))


def binary_classifier(pyfunc) -> bool:
    """Whether MLflow's raw model is a classifier of two classes with `predict_proba`."""
    try:
        raw = pyfunc.get_raw_model()
    except Exception:  # a flavour without a raw model
        return False
    classes = getattr(raw, "classes_", None)
    return hasattr(raw, "predict_proba") and classes is not None and len(classes) == 2


def positive_probability(pyfunc, features: pd.DataFrame) -> np.ndarray | None:
    """P(positive class) from a binary classifier's `predict_proba` (MLflow's raw model), else None."""
    if not binary_classifier(pyfunc):
        return None
    return np.asarray(pyfunc.get_raw_model().predict_proba(features))[:, 1]


def load_version(client, name: str, version: str, download_root: Path) -> LoadedModel:
    """Download and load `models:/<name>/<version>` with the lookup tags of its training run."""
    import mlflow.artifacts
    import mlflow.pyfunc

    model_version = client.get_model_version(name, version)
    tags = client.get_run(model_version.run_id).data.tags if model_version.run_id else {}
    directory = Path(tempfile.mkdtemp(prefix=f"{name}-v{version}-", dir=download_root))
    try:
        path = mlflow.artifacts.download_artifacts(f"models:/{name}/{version}", dst_path=str(directory))
        pyfunc = mlflow.pyfunc.load_model(path)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    keys = tuple(key for key in tags.get(ENTITY_KEYS_TAG, "").split(",") if key)
    return LoadedModel(name, str(version), model_version.run_id or "", pyfunc, tags.get(FEATURE_SERVICE_TAG), keys,
                       directory, path, entity_key_types(tags.get(ENTITY_KEY_TYPES_TAG, "")))


def freeze_heap() -> None:
    """Collect once, then exempt everything alive (modules, the loaded model) from later garbage
    collections (`gc.freeze`, Python >= 3.7).

    A worker holds some 300,000 tracked objects once MLflow, pandas and the model are loaded, and
    a full (generation 2) collection walks all of them: about 100-200 ms with the interpreter's
    lock held, so every request in flight waits that long. Objects that outlive a few young
    collections (the prediction log's batched rows do) trigger full collections every few seconds
    under load, which set the server's p99. Frozen objects are skipped, so full collections only
    walk what was allocated since. Called after every swap: unfreezing first lets that one
    collection reclaim a retired version's reference cycles (one pause per rollout, not one every
    few seconds).
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class ModelHolder:
    """The current `LoadedModel` of `name@alias`, refreshed every `poll_seconds`."""

    def __init__(self, name: str, alias: str, client_factory, download_root: Path, poll_seconds: float):
        self.name, self.alias, self.poll_seconds = name, alias, poll_seconds
        self._client_factory, self._download_root = client_factory, download_root
        self._stop = threading.Event()
        self._loaded = threading.Event()
        self._thread: threading.Thread | None = None
        self.current: LoadedModel | None = None  # replaced whole: readers never see a half-swap
        self._previous: LoadedModel | None = None
        self.last_error: str | None = None

    def refresh(self) -> bool:
        """Load the version the alias names if it is not the one served; True if it swapped.
        Any failure keeps the current version and is logged and counted."""
        try:
            client = self._client_factory()
            version = str(client.get_model_version_by_alias(self.name, self.alias).version)
            if self.current is not None and self.current.version == version:
                return False
            loaded = load_version(client, self.name, version, self._download_root)
        except Exception as error:
            metrics.MODEL_LOADS.labels("failed").inc()
            self.last_error = f"{type(error).__name__}: {error}"
            serving = f"still serving v{self.current.version}" if self.current else "no model loaded yet"
            log.warning("cannot load %s@%s (%s): %s", self.name, self.alias, serving, self.last_error)
            return False
        previous, self.current, self.last_error = self.current, loaded, None
        self._loaded.set()
        retired, self._previous = self._previous, previous
        metrics.MODEL_LOADS.labels("loaded").inc()
        metrics.MODEL_VERSION.labels(self.name).set(float(loaded.version))
        log.info("serving %s v%s (%s@%s)", self.name, loaded.version, self.name, self.alias)
        # Requests still on the previous version hold it in memory; the prediction log's writer may
        # still load its files for rows it scored, so only the one before that is removed.
        if retired is not None and retired.directory is not None:
            shutil.rmtree(retired.directory, ignore_errors=True)
        del previous, retired
        freeze_heap()
        return True

    def wait_loaded(self, timeout: float) -> LoadedModel | None:
        """The current version, waiting up to `timeout` seconds for a first one to load."""
        self._loaded.wait(timeout)
        return self.current

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="model-poller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            # Until a first version loads, retry sooner than the poll interval.
            self._stop.wait(self.poll_seconds if self.current else min(self.poll_seconds, 5.0))
