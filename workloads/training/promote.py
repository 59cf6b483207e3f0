"""Model promotion: copy the version behind an alias from one environment's MLflow to another's.

What is copied: the model's artifacts (its MLmodel with signature and input example, the
environment files, the serialized model), the reference data and the model's predictions on it
(`reference/`), and the training run's feature-store tags, into a run of the target's
`training/<model>` experiment (where the target's model server may read); then a new version of
the target's registered model, with the alias. Lineage tags on it name the source environment,
tracking URI, run and version.

Only what can be served moves: the source version is verified before it is copied (its files
complete, it loads and scores its own input example: verify.py), and the copy is verified again
as the target's registry hands it out before the alias moves to it. A version that fails either
check is refused with BrokenModelError (exit 4); a copy that fails is tagged
`mlops.verification=failed: ...` and the target's alias stays where it was.

Idempotent: a version whose `mlops.source_run` and `mlops.source_version` match is already there,
so a second promotion of the same source version only makes sure the alias points at it (after
verifying it; a copy that no longer loads is tagged and replaced by a new one).

Credentials: each side's user and password come from the environment, as
SOURCE_MLFLOW_TRACKING_USERNAME / SOURCE_MLFLOW_TRACKING_PASSWORD and
TARGET_MLFLOW_TRACKING_USERNAME / TARGET_MLFLOW_TRACKING_PASSWORD (MLflow's client reads one pair,
MLFLOW_TRACKING_*, which is set from the side in use for each call, with its tracking URI).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlflow.exceptions import MlflowException

from workloads.experiments import ensure_experiment
from workloads.tags import ENTITY_KEY_TYPES_TAG, ENTITY_KEYS_TAG, FEATURE_SERVICE_TAG
from workloads.training.errors import BrokenModelError, NotFoundError
from workloads.training.verify import VERIFICATION_TAG, verify_model_dir, verify_registered

log = logging.getLogger("training.promote")

SIDES = ("SOURCE", "TARGET")
COPIED_RUN_TAGS = (FEATURE_SERVICE_TAG, ENTITY_KEYS_TAG, ENTITY_KEY_TYPES_TAG, "feast.project", "mlops.data_window_start",
                   "mlops.data_window_end", "gate.decision", "gate.reason")


@dataclass(frozen=True)
class Promotion:
    model: str
    alias: str
    source_version: str
    target_version: str
    copied: bool  # False: the source version was there already

    def summary(self) -> str:
        action = "copied" if self.copied else "already promoted"
        return (f"{action}: {self.model} v{self.source_version} -> v{self.target_version} "
                f"(alias {self.alias} set in the target registry)")


@contextlib.contextmanager
def side(name: str, tracking_uri: str) -> Iterator[None]:
    """MLFLOW_TRACKING_URI set to `tracking_uri`, and MLFLOW_TRACKING_USERNAME/PASSWORD from
    `<name>_MLFLOW_TRACKING_*`, for the duration (MLflow resolves `models:/` URIs through the
    default registry, whatever client asked)."""
    values = {"MLFLOW_TRACKING_URI": tracking_uri,
              **{key: os.environ.get(f"{name}_{key}") for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}}
    saved = {key: os.environ.get(key) for key in values}
    try:
        set_environment(values)
        yield
    finally:
        set_environment(saved)


def set_environment(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def source_version(client, model: str, alias: str):
    try:
        return client.get_model_version_by_alias(model, alias)
    except MlflowException as error:
        raise NotFoundError(f"source registry has no {model}@{alias}: {error.message}") from None


def already_promoted(client, model: str, run_id: str, version: str):
    """The target's version copied from this source run and version, if any (not one found broken)."""
    try:
        found = client.search_model_versions(f"name = '{model}' and tags.`mlops.source_run` = '{run_id}'")
    except MlflowException as error:
        if error.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    return next((v for v in found if v.tags.get("mlops.source_version") == version
                 and not v.tags.get(VERIFICATION_TAG, "").startswith("failed")), None)


def mark_broken(client, model: str, version: str, error: BrokenModelError) -> None:
    client.set_model_version_tag(model, version, VERIFICATION_TAG, f"failed: {error}"[:5000])


def promote(source_uri: str, target_uri: str, model: str, alias: str = "champion",
            source_environment: str = "") -> Promotion:
    from mlflow.tracking import MlflowClient

    source, target = MlflowClient(source_uri), MlflowClient(target_uri)
    with side("SOURCE", source_uri):
        version = source_version(source, model, alias)
        run = source.get_run(version.run_id)
    with side("TARGET", target_uri):
        existing = already_promoted(target, model, version.run_id, str(version.version))
        if existing is not None:
            what = f"{model} v{existing.version} in the target registry (copied from v{version.version})"
            try:
                verify_registered(target_uri, model, str(existing.version), what)
            except BrokenModelError as error:
                log.warning("%s; copying it again", error)
                mark_broken(target, model, str(existing.version), error)
            else:
                target.set_registered_model_alias(model, alias, existing.version)
                return Promotion(model, alias, str(version.version), str(existing.version), copied=False)
    with tempfile.TemporaryDirectory() as tmp:
        with side("SOURCE", source_uri):
            model_dir, reference_dir = download(source_uri, source, model, version, run.info.run_id, Path(tmp))
            verify_model_dir(model_dir, f"{model} v{version.version} in the source registry")
        with side("TARGET", target_uri):
            tags = {key: run.data.tags[key] for key in COPIED_RUN_TAGS if key in run.data.tags}
            lineage = {"mlops.source_environment": source_environment, "mlops.source_tracking_uri": source_uri,
                       "mlops.source_run": run.info.run_id, "mlops.source_version": str(version.version)}
            new_version = upload(target, model, model_dir, reference_dir, {**tags, **lineage}, lineage)
            try:
                verify_registered(target_uri, model, new_version, f"the copy {model} v{new_version} in the target registry")
            except BrokenModelError as error:
                mark_broken(target, model, new_version, error)
                raise
            target.set_registered_model_alias(model, alias, new_version)
    return Promotion(model, alias, str(version.version), new_version, copied=True)


def download(source_uri: str, client, model: str, version, run_id: str, into: Path) -> tuple[Path, Path | None]:
    """The version's model directory and its run's `reference/` directory (None if absent)."""
    import mlflow.artifacts

    try:
        model_dir = Path(mlflow.artifacts.download_artifacts(f"models:/{model}/{version.version}",
                                                             dst_path=str(into / "model"), tracking_uri=source_uri,
                                                             registry_uri=source_uri))
    except MlflowException as error:
        if error.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
        raise BrokenModelError(f"{model} v{version.version} in the source registry: its files are gone: "
                               f"{error.message}") from None
    try:
        reference = Path(client.download_artifacts(run_id, "reference", str(into)))
    except (MlflowException, OSError):
        reference = None
    return model_dir, reference


def upload(client, model: str, model_dir: Path, reference_dir: Path | None, run_tags: dict[str, str],
           version_tags: dict[str, str]) -> str:
    """A run in the target's `training/<model>` holding the copies, and a version from it."""
    run = client.create_run(ensure_experiment(client, f"training/{model}"), tags={**run_tags, "mlflow.runName": f"promotion-{model}"})
    try:
        client.log_artifacts(run.info.run_id, str(model_dir), "model")
        if reference_dir is not None:
            client.log_artifacts(run.info.run_id, str(reference_dir), "reference")
    except Exception:
        client.set_terminated(run.info.run_id, "FAILED")
        raise
    client.set_terminated(run.info.run_id)
    try:
        client.get_registered_model(model)
    except MlflowException:
        client.create_registered_model(model)
    created = client.create_model_version(model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id,
                                          tags=version_tags)
    return str(created.version)
