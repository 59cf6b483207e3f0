"""The batch's input: parquet files under a local or S3 prefix, read column-projected, row group
by row group, never whole.

An input URI names one parquet file or a prefix (`s3://bucket/prefix/`, a local directory):
every `*.parquet` under it, recursively, except names starting with `_` or `.` (Hadoop's and
Spark's convention for markers and temporary files). `{ds}` in it is replaced by the interval's
stamp (Airflow's name for it), so a partitioned table is read one partition per run:
`s3://features/churn/customers/dt={ds}/`.

With a timestamp column (`event_timestamp` by default) only the rows of the interval
[start, end) are read, and row groups whose statistics lie outside it are skipped unread. Without
one every row is read: a snapshot (all customers) scored as of the interval's end.

The S3 endpoint and credentials come from the environment (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY), as Arrow's S3 filesystem reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from workloads.scoring.errors import (
    InfrastructureError,
    NoDataError,
    NotFoundError,
    SchemaMismatchError,
    UnreadableFileError,
)

ARROW_ERRORS = (pa.ArrowException, OSError, ValueError)


def filesystem_for(uri: str) -> tuple[pafs.FileSystem, str]:
    """Arrow's filesystem for `uri` (s3://, file:// or a local path) and the path inside it."""
    if "://" not in uri:
        return pafs.LocalFileSystem(), str(Path(uri).resolve())
    try:
        return pafs.FileSystem.from_uri(uri)
    except ARROW_ERRORS as error:
        raise InfrastructureError(f"{uri}: cannot open its filesystem: {error}") from None


def display(filesystem: pafs.FileSystem, path: str) -> str:
    """The URI a user would recognise for `path` on `filesystem`."""
    return f"s3://{path}" if filesystem.type_name == "s3" else path


@dataclass(frozen=True)
class InputFile:
    filesystem: pafs.FileSystem
    path: str
    schema: pa.Schema
    rows: int

    @property
    def uri(self) -> str:
        return display(self.filesystem, self.path)

    def open(self) -> pq.ParquetFile:
        try:
            return pq.ParquetFile(self.filesystem.open_input_file(self.path))
        except ARROW_ERRORS as error:
            raise UnreadableFileError(f"{self.uri}: not a readable parquet file ({error})") from None


def list_files(uri: str) -> list[InputFile]:
    """Every parquet file of the input, with its schema and row count (footers only)."""
    filesystem, path = filesystem_for(uri)
    try:
        info = filesystem.get_file_info(path.rstrip("/"))
        if info.type == pafs.FileType.NotFound:
            raise NotFoundError(f"{uri}: no such file or prefix")
        if info.type == pafs.FileType.File:
            infos = [info]
        else:
            infos = filesystem.get_file_info(pafs.FileSelector(path.rstrip("/"), recursive=True))
    except OSError as error:
        reason = str(error)
        if "AccessDenied" in reason or "403" in reason:
            raise NotFoundError(f"{uri}: access refused ({reason})") from None
        raise InfrastructureError(f"{uri}: cannot list it: {reason}") from None
    paths = sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")
                   and not any(part.startswith(("_", ".")) for part in i.path[len(path.rstrip("/")):].split("/")))
    if not paths:
        raise NoDataError(f"{uri}: no parquet files")
    files = []
    for file_path in paths:
        where = display(filesystem, file_path)
        try:
            metadata = pq.ParquetFile(filesystem.open_input_file(file_path)).metadata
            files.append(InputFile(filesystem, file_path, metadata.schema.to_arrow_schema(), metadata.num_rows))
        except ARROW_ERRORS as error:
            raise UnreadableFileError(f"{where}: not a readable parquet file ({error})") from None
    return files


def require_columns(files: list[InputFile], columns: list[str], why: str) -> None:
    """Every file holds every one of `columns`; else the first file and column missing."""
    for file in files:
        missing = [c for c in columns if c not in file.schema.names]
        if missing:
            raise SchemaMismatchError(f"{file.uri}: no column {missing[0]!r} ({why}); it has {file.schema.names}"
                                      + (f"; also missing {missing[1:]}" if len(missing) > 1 else ""))


def key_schema(files: list[InputFile], keys: list[str]) -> pa.Schema:
    """One type per key column for every file's rows (an int32 file and an int64 file: int64), so
    that every output file of a batch has one schema; a column whose types cannot meet (text in
    one file, numbers in another) is a SchemaMismatchError naming it."""
    for key in keys:
        fields = [(file, file.schema.field(key)) for file in files]
        try:
            pa.unify_schemas([pa.schema([field]) for _, field in fields], promote_options="permissive")
        except (pa.ArrowException, TypeError) as error:
            kinds = ", ".join(f"{file.uri}: {field.type}" for file, field in fields[:4])
            raise SchemaMismatchError(f"key column {key!r} has types that do not meet across the input files ({kinds}"
                                      f"{', ...' if len(fields) > 4 else ''}): {error}") from None
    return pa.unify_schemas([pa.schema([file.schema.field(k) for k in keys]) for file in files],
                           promote_options="permissive")


@dataclass(frozen=True)
class Window:
    """Rows whose `column` lies in [start, end) (UTC); `column=None` keeps every row."""

    column: str | None
    start: datetime
    end: datetime

    def bounds(self, arrow_type: pa.DataType) -> tuple[pa.Scalar, pa.Scalar]:
        naive = getattr(arrow_type, "tz", None) is None
        start, end = ((t.replace(tzinfo=None) if naive else t) for t in (self.start, self.end))
        return pa.scalar(start, arrow_type), pa.scalar(end, arrow_type)

    def check(self, file: InputFile) -> None:
        if self.column and not pa.types.is_timestamp(file.schema.field(self.column).type):
            raise SchemaMismatchError(f"{file.uri}: column {self.column!r} is {file.schema.field(self.column).type}, "
                                      "not a timestamp (the interval's rows are chosen by it)")


def row_groups(parquet: pq.ParquetFile, window: Window) -> list[int]:
    """The row groups that may hold rows of the window (by their min/max statistics)."""
    groups = list(range(parquet.num_row_groups))
    if window.column is None:
        return groups
    index = parquet.schema_arrow.get_field_index(window.column)
    column_type = parquet.schema_arrow.field(window.column).type
    start, end = (b.value for b in window.bounds(column_type))
    kept = []
    for group in groups:
        stats = parquet.metadata.row_group(group).column(index).statistics
        try:
            if stats is not None and stats.has_min_max:
                low, high = (pa.scalar(v, column_type).value for v in (stats.min, stats.max))
                if high < start or low >= end:
                    continue
        except ARROW_ERRORS:  # statistics it cannot compare: read the group, the filter decides
            pass
        kept.append(group)
    return kept


@dataclass(frozen=True)
class Task:
    """A share of the input scored as a unit: consecutive row groups of one or more files (only
    those that may hold rows of the window), `index` its place in the input's order."""

    index: int
    pieces: tuple[tuple[InputFile, tuple[int, ...]], ...]  # (file, its row groups)


def split(files: list[InputFile], window: Window, rows_per_task: int) -> list[Task]:
    """The input as tasks of at most `rows_per_task` rows by the row groups' counts (a bigger row
    group is a task of its own), in the input's order; only the files' footers are read."""
    tasks: list[Task] = []
    pieces: list[tuple[InputFile, tuple[int, ...]]] = []
    share: list[int] = []
    rows = 0
    for file in files:
        parquet = file.open()
        for group in row_groups(parquet, window):
            group_rows = parquet.metadata.row_group(group).num_rows
            if rows and rows + group_rows > rows_per_task:
                if share:
                    pieces.append((file, tuple(share)))
                tasks.append(Task(len(tasks), tuple(pieces)))
                pieces, share, rows = [], [], 0
            share.append(group)
            rows += group_rows
        if share:
            pieces.append((file, tuple(share)))
            share = []
    if pieces:
        tasks.append(Task(len(tasks), tuple(pieces)))
    return tasks


def batches(task: Task, columns: list[str], window: Window, batch_rows: int) -> Iterator[tuple[InputFile, pa.RecordBatch]]:
    """The task's rows in the window, `columns` only, at most `batch_rows` at a time, each with
    the file it comes from."""
    for file, groups in task.pieces:
        for batch in _file_batches(file, list(groups), columns, window, batch_rows):
            yield file, batch


def _file_batches(file: InputFile, groups: list[int], columns: list[str], window: Window,
                  batch_rows: int) -> Iterator[pa.RecordBatch]:
    parquet = file.open()
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns):
            if window.column is not None:
                start, end = window.bounds(batch.schema.field(window.column).type)
                stamps = batch.column(window.column)
                batch = batch.filter(pc.and_(pc.greater_equal(stamps, start), pc.less(stamps, end)))
            if batch.num_rows:
                yield batch
    except ARROW_ERRORS as error:
        raise UnreadableFileError(f"{file.uri}: its pages cannot be read ({error})") from None
