"""One batch: a registered model's alias scores one daily interval of an input table.

The version the alias names is loaded once (MLflow's pyfunc, as the model server loads it). The
input is read in batches of `batch_rows` rows, only the columns needed (inputs.py), and each batch
is scored and written before the next is read, so memory holds one batch whatever the table's
size. Two kinds of input, chosen by the first file's columns:

- **features**: the file holds every input column of the model's signature: scored as it is;
- **entities**: it holds the model's entity keys (the `feast.entity_keys` tag of its training run)
  instead: each row's features come from the feature store's offline store, point in time, as they
  were at the row's `event_timestamp` (or, without one, at the end of the interval), through
  Feast's historical retrieval of the model's feature service, never the online store. A row
  without its features (an unknown entity, values older than the view's TTL) is not scored: it
  goes to `_unscored/` with the reason and is counted in the manifest.

Each scored row is written to the output with its key columns (the entity keys, the timestamp,
and any `key_columns` asked for), `prediction` (`prediction_<name>` for several outputs),
`probability` (binary classifiers), `model`, `model_version` and `batch_id`; and to the model's
prediction log as the model server writes it (log_writer.log_table: the same schema and types),
in files `batch-<batch id>-*.parquet` of partition `dt=<stamp>`, with `request_id`
`batch-<batch id>` and `timestamp` the row's time (its `event_timestamp`, else the interval's last
instant), so the drift job's interval [D, D+1) reads the batch rows of D.

The input is split into tasks of consecutive row groups (inputs.split: up to `rows_per_file` rows,
and at least one task per worker when the input has the row groups), each scored into staged
files of its own. With `workers` above 1 the tasks run in that many processes forked from the job
once the model is loaded (they share its pages; each holds one batch); the files are committed in
the input's order whoever wrote them. The default is 1: set `workers` to the cores the job may use
(its CPU request).

Nothing is visible until the whole batch is scored: output.py's commit.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from workloads.drift.intervals import DataInterval
from workloads.drift.job import NOT_FOUND_CODES
from workloads.scoring.errors import (
    InfrastructureError,
    NoDataError,
    NotFoundError,
    SchemaMismatchError,
    UnusableValuesError,
)
from workloads.scoring.inputs import (
    InputFile,
    Task,
    Window,
    batches,
    display,
    filesystem_for,
    key_schema,
    list_files,
    require_columns,
    split,
)
from workloads.scoring.output import BATCH_LOG_PREFIX, StagedFiles, commit
from workloads.serving.log_writer import LogRecord, log_table
from workloads.serving.model import LoadedModel, load_version

log = logging.getLogger("scoring.batch")
ROW = "__row"  # the input order, kept through the feature store's join
OUTPUT_COLUMNS = ("model", "model_version", "batch_id")
# MLflow's column types -> the kind of Arrow type an input column must have to be taken.
SIGNATURE_FAMILIES = {"double": "number", "float": "number", "long": "number", "integer": "number",
                      "boolean": "boolean", "string": "text", "binary": "binary", "datetime": "time"}


def arrow_family(arrow_type: pa.DataType) -> str:
    if pa.types.is_dictionary(arrow_type):
        return arrow_family(arrow_type.value_type)
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "number"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return "binary"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return "time"
    if pa.types.is_null(arrow_type):
        return "null"
    return str(arrow_type)


@dataclass(frozen=True)
class BatchConfig:
    model: str
    alias: str
    input_uri: str  # a parquet file or prefix; `{ds}` becomes the interval's stamp
    output_uri: str  # the interval's result goes to <output_uri>/<model>/dt=<stamp>/
    log_uri: str | None  # the prediction log's root (s3://monitoring); None: not logged
    timestamp_column: str = "event_timestamp"
    key_columns: tuple[str, ...] = ()  # more input columns carried into the output
    batch_rows: int = 100_000
    rows_per_file: int = 5_000_000
    workers: int = 1  # processes scoring batches in parallel


@dataclass(frozen=True)
class Scored:
    """One batch's results: output rows, prediction-log rows (None: nothing scored) and unscored
    rows (None: none)."""

    scored: pa.Table | None
    logged: pa.Table | None
    unscored: pa.Table | None


@dataclass(frozen=True)
class Outputs:
    """A run's staged files: scored rows, rows set aside, prediction-log rows (None: not logged).
    The job's own hold the files its tasks wrote; a task writes its own (`for_task`), in the same
    staging directories, named after its index so that no two tasks' names meet."""

    scored: StagedFiles
    unscored: StagedFiles
    log: StagedFiles | None

    def all(self) -> list[StagedFiles]:
        return [self.scored, self.unscored, *([self.log] if self.log else [])]

    def for_task(self, index: int) -> Outputs:
        def own(staged: StagedFiles | None) -> StagedFiles | None:
            return staged and replace(staged, stem=f"{staged.stem}{index:05d}-", files=[])
        return Outputs(own(self.scored), own(self.unscored), own(self.log))

    def write(self, result: Scored) -> None:
        if result.unscored is not None:
            self.unscored.write(result.unscored)
        if result.scored is not None:
            self.scored.write(result.scored)
            if self.log is not None:
                self.log.write(result.logged)

    def close(self) -> None:
        for staged in self.all():
            staged.close()

    def adopt(self, task: Outputs) -> None:
        """Count a finished task's files as the job's."""
        for mine, theirs in zip(self.all(), task.all(), strict=True):
            mine.files.extend(theirs.files)


@dataclass(frozen=True)
class Plan:
    """What the input is and which of its columns are read."""

    kind: str  # "features" or "entities"
    read: list[str]  # the columns read from each file
    keys: list[str]  # the columns carried into the output
    timestamp: str | None  # the column that places each row in an interval; None: a snapshot
    key_schema: pa.Schema  # the keys' types, one for every file (inputs.key_schema)


class BatchScorer:
    """Scores intervals with one loaded version. `client` is an MlflowClient; `store` a callable
    returning the Feast FeatureStore (only called for entity inputs)."""

    def __init__(self, config: BatchConfig, client, workdir: Path, store: Callable[[], object] | None = None):
        self.config, self.client, self.workdir, self._store_factory = config, client, workdir, store
        self._store = None
        self.model = self._load()

    def _load(self) -> LoadedModel:
        from mlflow.exceptions import MlflowException

        name, alias = self.config.model, self.config.alias
        try:
            version = str(self.client.get_model_version_by_alias(name, alias).version)
            return load_version(self.client, name, version, self.workdir)
        except MlflowException as error:
            if error.error_code in NOT_FOUND_CODES:  # the drift job's reading of MLflow's answers
                raise NotFoundError(f"models:/{name}@{alias}: {error.message}") from None
            raise InfrastructureError(f"models:/{name}@{alias}: {error.message}") from None

    @property
    def store(self):
        if self._store is None:
            if self._store_factory is None:
                raise SchemaMismatchError("entity input needs the feature store, and none is configured")
            self._store = self._store_factory()
        return self._store

    # --- planning -------------------------------------------------------------------------------
    def plan(self, files: list[InputFile]) -> Plan:
        model, first = self.model, files[0]
        features = model.feature_names
        if not features:
            raise SchemaMismatchError(f"models:/{model.name}/{model.version} has no column signature: batch scoring "
                                      "needs one to know which columns the model takes")
        names = set(first.schema.names)
        if set(features) <= names:
            kind = "features"
        elif model.entity_keys and set(model.entity_keys) <= names and model.feature_service:
            kind = "entities"
        else:
            missing = [f for f in features if f not in names]
            keys = (f"; or the entity keys {list(model.entity_keys)} to look the features up in the feature store "
                    f"(service {model.feature_service})" if model.entity_keys and model.feature_service else "")
            raise SchemaMismatchError(f"{first.uri}: no column {missing[0]!r}, an input of models:/{model.name}/"
                                      f"{model.version} (missing {missing}); the input must hold the model's inputs "
                                      f"{features}{keys}")
        stamp = self.config.timestamp_column if self.config.timestamp_column in names else None
        keys = [k for k in (*model.entity_keys, *([stamp] if stamp else []), *self.config.key_columns)
                if k in names or k in self.config.key_columns]
        keys = list(dict.fromkeys(keys))
        read = list(dict.fromkeys([*(features if kind == "features" else []), *keys]))
        require_columns(files, read, "an input of the model" if kind == "features" else "a key of the batch")
        if kind == "features":
            self._check_types(files, features)
        return Plan(kind, read, keys, stamp, key_schema(files, keys))

    def _check_types(self, files: list[InputFile], features: list[str]) -> None:
        specs = {str(spec.name): spec for spec in self.model.input_schema.inputs}
        for file in files:
            for name in features:
                wanted = SIGNATURE_FAMILIES.get(getattr(specs[name].type, "name", ""))
                found = arrow_family(file.schema.field(name).type)
                if wanted and found not in (wanted, "null"):
                    raise SchemaMismatchError(
                        f"{file.uri}: column {name!r} is {file.schema.field(name).type}, but models:/{self.model.name}/"
                        f"{self.model.version}'s signature takes {specs[name].type} (a {wanted} column)")

    # --- one interval ---------------------------------------------------------------------------
    def run(self, interval: DataInterval) -> dict:
        """Score the interval and commit it; the manifest written to its `_SUCCESS`."""
        config, model = self.config, self.model
        input_uri = config.input_uri.replace("{ds}", interval.start.isoformat())
        files = list_files(input_uri)
        plan = self.plan(files)
        window = Window(plan.timestamp, interval.start_time, interval.end_time)
        for file in files:
            window.check(file)
        as_of = interval.end_time - timedelta(microseconds=1)  # the interval's last instant
        started = datetime.now(UTC)
        batch_id = f"{interval.start.isoformat()}-{started.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
        out_fs, out_root = filesystem_for(f"{config.output_uri.rstrip('/')}/{model.name}")
        final = f"{out_root}/dt={interval.start.isoformat()}"
        log_files = None
        if config.log_uri:
            log_fs, log_root = filesystem_for(f"{config.log_uri.rstrip('/')}/{model.name}")
            log_files = StagedFiles(log_fs, log_root, f"{log_root}/dt={interval.start.isoformat()}", batch_id,
                                    stem=f"{BATCH_LOG_PREFIX}{batch_id}-", rows_per_file=config.rows_per_file)
        outputs = Outputs(StagedFiles(out_fs, out_root, final, batch_id, rows_per_file=config.rows_per_file),
                          StagedFiles(out_fs, out_root, f"{final}/_unscored", f"{batch_id}-unscored"), log_files)
        # Tasks of up to a file's rows, and at least one per worker when the input allows.
        rows_per_task = min(config.rows_per_file,
                            max(config.batch_rows, -(-sum(file.rows for file in files) // config.workers)))
        read = 0
        try:
            for rows, done in self._run_tasks(split(files, window, rows_per_task), plan, window, as_of, batch_id,
                                              outputs):
                read += rows
                outputs.adopt(done)
            if read == 0:
                raise NoDataError(f"{input_uri}: no rows in interval {interval}"
                                  + (f" (by column {window.column!r})" if window.column else ""))
            manifest = {
                "model": model.name, "alias": config.alias, "model_version": model.version, "run_id": model.run_id,
                "batch_id": batch_id, "interval": {"start": interval.start_time.isoformat(),
                                                   "end": interval.end_time.isoformat()},
                "as_of": as_of.isoformat() if window.column is None else f"each row's {window.column}",
                "input": input_uri, "input_kind": plan.kind, "input_files": len(files), "rows_read": read,
                "rows_scored": outputs.scored.rows, "rows_unscored": outputs.unscored.rows,
                "workers": config.workers, "started": started.isoformat(),
                "committed": datetime.now(UTC).isoformat(), "location": display(out_fs, final),
            }
            return commit(outputs.scored, [outputs.unscored], outputs.log, manifest)
        except BaseException:
            for staged in outputs.all():
                staged.discard()
            raise

    def _run_tasks(self, tasks: list[Task], plan: Plan, window: Window, as_of: datetime, batch_id: str,
                   outputs: Outputs) -> Iterator[tuple[int, Outputs]]:
        """(rows read, files written) of each task, in the input's order: in this process, or by
        `workers` processes forked from it (sharing the loaded model's pages)."""
        if self.config.workers == 1 or len(tasks) == 1:
            for task in tasks:
                yield self.run_task(task, plan, window, as_of, batch_id, outputs)
            return
        global _WORKER_SCORER
        _WORKER_SCORER = self
        gc.freeze()  # the objects the workers inherit stay shared: a collection would copy their pages
        pool = ProcessPoolExecutor(min(self.config.workers, len(tasks)),
                                   mp_context=multiprocessing.get_context("fork"), initializer=_start_worker)
        try:
            futures = [pool.submit(_run_in_worker, task, plan, window, as_of, batch_id, outputs) for task in tasks]
            for future in futures:
                yield future.result()
        except BrokenProcessPool:
            raise InfrastructureError(f"a scoring worker of models:/{self.model.name}/{self.model.version} died "
                                      "(killed: out of memory? lower the batch rows or the workers, or raise the "
                                      "memory limit)") from None
        finally:  # on a failure, the tasks not started are dropped and the running ones awaited
            pool.shutdown(wait=True, cancel_futures=True)
            gc.unfreeze()
            _WORKER_SCORER = None

    def run_task(self, task: Task, plan: Plan, window: Window, as_of: datetime, batch_id: str,
                 outputs: Outputs) -> tuple[int, Outputs]:
        """Score one task into staged files of its own; (rows read, those files)."""
        mine = outputs.for_task(task.index)
        read = 0
        try:
            for file, batch in batches(task, plan.read, window, self.config.batch_rows):
                read += batch.num_rows
                mine.write(self.score(file.uri, batch, plan, as_of, batch_id))
            mine.close()
        except BaseException:
            for staged in mine.all():
                staged.discard()
            raise
        return read, mine

    def _features(self, source: str, frame: pd.DataFrame, plan: Plan, as_of: datetime) -> pd.DataFrame:
        """The model's inputs for `frame`'s rows, in its order (entity inputs: from the feature store)."""
        features = self.model.feature_names
        if plan.kind == "features":
            return frame[features]
        keys = list(self.model.entity_keys)
        entities = frame[keys].copy()
        entities["event_timestamp"] = (frame[plan.timestamp] if plan.timestamp else pd.Timestamp(as_of))
        entities[ROW] = np.arange(len(frame))
        try:
            store = self.store
            joined = store.get_historical_features(
                entity_df=entities, features=store.get_feature_service(self.model.feature_service)).to_df()
        except Exception as error:  # Feast raises many kinds; all mean the offline store failed us
            raise InfrastructureError(f"{source}: the feature store's historical retrieval failed: "
                                      f"{type(error).__name__}: {error}") from None
        # One row per input row, in its order: a row the retrieval left out comes back without
        # features (and is set aside as unscored), never shifting the others.
        joined = pd.DataFrame({ROW: np.arange(len(frame))}).merge(
            joined.drop_duplicates(ROW), on=ROW, how="left", suffixes=("", "_feast"))
        missing = [f for f in features if f not in joined.columns]
        if missing:
            raise SchemaMismatchError(f"feature service {self.model.feature_service} gives no {missing}, inputs of "
                                      f"models:/{self.model.name}/{self.model.version}")
        return joined[features]

    def score(self, source: str, batch: pa.RecordBatch, plan: Plan, as_of: datetime, batch_id: str) -> Scored:
        """One batch of `source` scored: what goes to the output, the prediction log and `_unscored/`."""
        model = self.model
        frame = batch.to_pandas()
        features = self._features(source, frame, plan, as_of)
        keys = pa.Table.from_batches([batch.select(plan.keys)]).cast(plan.key_schema) if plan.keys else pa.table({})
        lost = None
        if plan.kind == "entities":
            lacking = features.isna().any(axis=1).to_numpy()
            if lacking.any():
                lost = unscored_rows(keys.filter(pa.array(lacking)), features[lacking])
                keep = ~lacking
                frame, features, keys = frame[keep], features[keep], keys.filter(pa.array(keep))
                if features.empty:
                    return Scored(None, None, lost)
        predictions = self._predict(source, features)
        if plan.kind == "features":  # the entity keys ride along when the input has them, as served rows do
            extra = [k for k in model.entity_keys if k in frame.columns and k not in features.columns]
            logged = pd.concat([features.reset_index(drop=True), frame[extra].reset_index(drop=True)], axis=1)
        else:
            logged = pd.concat([frame[list(model.entity_keys)].reset_index(drop=True),
                                features.reset_index(drop=True)], axis=1)
        table, _nulled = log_table([LogRecord(logged, predictions, f"batch-{batch_id}", as_of, model.version,
                                              model.path, model.log_schema)], model.pyfunc)
        if plan.timestamp:  # each row's own time, inside the interval
            stamps = pa.array(pd.to_datetime(frame[plan.timestamp], utc=True), pa.timestamp("ns", tz="UTC"))
            table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", stamps)
        outputs = [name for name in table.column_names if name.startswith("prediction") or name == "probability"]
        rows = table.num_rows
        scored = keys
        for name in outputs:
            scored = scored.append_column(name, table.column(name))
        for name, value in zip(OUTPUT_COLUMNS, (model.name, model.version, batch_id), strict=True):
            scored = scored.append_column(name, pa.array([value] * rows, pa.string()))
        return Scored(scored, table, lost)

    def _predict(self, source: str, features: pd.DataFrame):
        from mlflow.exceptions import MlflowException

        try:
            return self.model.pyfunc.predict(features)
        except MlflowException as error:  # schema enforcement: names the column
            raise SchemaMismatchError(f"{source}: models:/{self.model.name}/{self.model.version} refused the input: "
                                      f"{error.message}") from None
        except (ValueError, TypeError) as error:
            raise UnusableValuesError(f"{source}: models:/{self.model.name}/{self.model.version} could not score "
                                      f"the rows{unusable_columns(features)}: {error}") from None


_WORKER_SCORER: BatchScorer | None = None  # set in the job before its workers fork


def _start_worker() -> None:
    """A worker's numerical libraries use one thread: the workers are the parallelism."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _run_in_worker(task: Task, plan: Plan, window: Window, as_of: datetime, batch_id: str,
                   outputs: Outputs) -> tuple[int, Outputs]:
    return _WORKER_SCORER.run_task(task, plan, window, as_of, batch_id, outputs)


def unusable_columns(features: pd.DataFrame) -> str:
    """`; missing values in ['a'], infinite values in ['b']` for the columns that hold them."""
    numeric = features.select_dtypes("number")
    missing = [str(c) for c in features.columns if features[c].isna().any()]
    infinite = [str(c) for c in numeric.columns if np.isinf(numeric[c].to_numpy(dtype="float64", na_value=0)).any()]
    parts = [f"missing values in {missing}" if missing else "", f"infinite values in {infinite}" if infinite else ""]
    text = ", ".join(p for p in parts if p)
    return f" ({text})" if text else ""


def unscored_rows(keys: pa.Table, features: pd.DataFrame) -> pa.Table:
    """The keys of rows the feature store had no complete features for, and which were missing."""
    absent = features.isna()
    reasons = ["no features (unknown, or older than the feature view's TTL)" if row.all()
               else "missing " + ", ".join(str(c) for c, gone in row.items() if gone) for _, row in absent.iterrows()]
    return keys.append_column("reason", pa.array(reasons, pa.string()))
