"""Staged parquet output and its commit: all of a batch becomes visible, or none of it.

Every file of a batch is first written under `<prefix>/_temporary/<batch id>/` (the name Hadoop's
and Spark's output committers use; readers skip `_` names). Only when the whole batch has been
scored does `commit` make it the interval's result, in this order:

1. the interval's `_SUCCESS` manifest is deleted: from here on a reader that honours it (Spark,
   Hive, `pd.read_parquet` users told to check it, docs/scoring.md) sees no committed output;
2. the files of the run that committed before (if any) are deleted, the prediction log's batch
   files of the interval included (`batch-*.parquet`; the model server's own files stay);
3. the staged files are moved into place (S3 has no rename: a server-side copy, then a delete);
4. the new `_SUCCESS` is written, a JSON manifest: model, version, batch id, interval, row counts
   and every file with its rows.

A rerun of the interval therefore replaces the earlier result and never adds to it, and a run
that fails before step 1 leaves the earlier result untouched (its staged files are deleted). A
run killed between steps 1 and 4 leaves the interval without `_SUCCESS`; the next run of the
interval (the CronJob's retry, or a backfill) completes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from workloads.scoring.errors import InfrastructureError
from workloads.scoring.inputs import display

log = logging.getLogger("scoring.output")
MANIFEST = "_SUCCESS"
TEMPORARY = "_temporary"
BATCH_LOG_PREFIX = "batch-"  # the prediction log's files written by batch scoring (the server's: <writer>-)


@contextmanager
def _io(what: str) -> Iterator[None]:
    """Arrow's I/O errors as the job's (a retry may help), saying what was being done."""
    try:
        yield
    except (OSError, pa.ArrowException) as error:
        raise InfrastructureError(f"{what}: {error}") from None


@dataclass
class StagedFiles:
    """Parquet files named `<stem><n:05d>.parquet`, written under `<root>/_temporary/<batch>/` and
    destined for `final` (a directory). Each file holds at most `rows_per_file` rows, written
    row group by row group as tables arrive: memory holds one table, not the file."""

    filesystem: pafs.FileSystem
    root: str  # the prefix whose _temporary/ holds the staged files
    final: str
    batch_id: str
    stem: str = "part-"
    rows_per_file: int = 5_000_000
    files: list[tuple[str, int]] = field(default_factory=list)  # (name, rows) of closed files
    _writer: pq.ParquetWriter | None = None
    _stream: object = None
    _schema: pa.Schema | None = None
    _rows_in_file: int = 0
    _name: str = ""

    @property
    def staging(self) -> str:
        return f"{self.root.rstrip('/')}/{TEMPORARY}/{self.batch_id}"

    @property
    def rows(self) -> int:
        return sum(rows for _, rows in self.files) + self._rows_in_file

    def write(self, table: pa.Table) -> None:
        if self._schema is None:
            self._schema = table.schema
        table = table.cast(self._schema)  # every file of the batch has one schema
        if self._writer is not None and self._rows_in_file >= self.rows_per_file:
            self._close_file()
        if self._writer is None:
            name = f"{self.stem}{len(self.files):05d}.parquet"
            with _io(f"writing {display(self.filesystem, self.staging)}/{name}"):
                make_dir(self.filesystem, self.staging)
                self._stream = self.filesystem.open_output_stream(f"{self.staging}/{name}")
                self._writer = pq.ParquetWriter(self._stream, self._schema)
            self._name = name
        with _io(f"writing {display(self.filesystem, self.staging)}/{self._name}"):
            self._writer.write_table(table)
        self._rows_in_file += table.num_rows

    def _close_file(self) -> None:
        with _io(f"writing {display(self.filesystem, self.staging)}/{self._name}"):
            self._writer.close()
            self._stream.close()
        self.files.append((self._name, self._rows_in_file))
        self._writer, self._stream, self._rows_in_file = None, None, 0

    def close(self) -> None:
        if self._writer is not None:
            self._close_file()

    def discard(self) -> None:
        """Best effort: delete what was staged (a failed batch)."""
        try:
            if self._writer is not None:
                self._writer.close()
                self._stream.close()
        except (OSError, pa.ArrowException):
            pass
        try:
            self.filesystem.delete_dir(self.staging)
        except (OSError, pa.ArrowException) as error:
            if not isinstance(error, FileNotFoundError):
                log.warning("could not delete the staged files under %s: %s", display(self.filesystem, self.staging), error)

    def move_into_place(self) -> list[str]:
        """Move the staged files to `final`; their final paths."""
        moved = []
        make_dir(self.filesystem, self.final)
        for name, _rows in self.files:
            target = f"{self.final}/{name}"
            with _io(f"moving {name} to {display(self.filesystem, self.final)}"):
                self.filesystem.move(f"{self.staging}/{name}", target)
            moved.append(target)
        return moved


def make_dir(filesystem: pafs.FileSystem, path: str) -> None:
    """A local directory must exist before a file is written into it; S3 has no directories (a
    marker object would only litter the listing)."""
    if filesystem.type_name == "local":
        filesystem.create_dir(path, recursive=True)


def read_manifest(filesystem: pafs.FileSystem, final: str) -> dict | None:
    """The committed manifest of `final`, or None."""
    path = f"{final}/{MANIFEST}"
    with _io(f"reading {display(filesystem, path)}"):
        if filesystem.get_file_info(path).type == pafs.FileType.NotFound:
            return None
        with filesystem.open_input_stream(path) as stream:
            return json.loads(stream.read())


def _delete_files(filesystem: pafs.FileSystem, directory: str, prefix: str = "") -> None:
    with _io(f"clearing {display(filesystem, directory)}"):
        infos = filesystem.get_file_info(pafs.FileSelector(directory, allow_not_found=True, recursive=True))
        for info in infos:
            name = info.path[len(directory) + 1:]
            if info.type == pafs.FileType.File and name.startswith(prefix):
                filesystem.delete_file(info.path)


def commit(output: StagedFiles, extra: list[StagedFiles], log_files: StagedFiles | None, manifest: dict) -> dict:
    """Make the staged batch the interval's result (the module's steps 1-4); the manifest written.

    `output` holds the scored rows, `extra` other files of the same output directory (the rows
    that could not be scored, under `_unscored/`), `log_files` the prediction log's batch files."""
    for staged in (output, *extra, *([log_files] if log_files else [])):
        staged.close()
    filesystem, final = output.filesystem, output.final
    marker = f"{final}/{MANIFEST}"
    with _io(f"deleting {display(filesystem, marker)}"):
        if filesystem.get_file_info(marker).type != pafs.FileType.NotFound:
            filesystem.delete_file(marker)
    _delete_files(filesystem, final)
    if log_files is not None:
        _delete_files(log_files.filesystem, log_files.final, BATCH_LOG_PREFIX)
    output.move_into_place()
    for staged in extra:
        staged.move_into_place()
    if log_files is not None:
        log_files.move_into_place()
    manifest = {**manifest, "files": [{"name": name, "rows": rows} for name, rows in output.files],
                "unscored_files": [{"name": f"{staged.final[len(final) + 1:]}/{name}", "rows": rows}
                                   for staged in extra for name, rows in staged.files],
                "prediction_log": None if log_files is None else {
                    "location": display(log_files.filesystem, log_files.final),
                    "files": [{"name": name, "rows": rows} for name, rows in log_files.files]}}
    make_dir(filesystem, final)
    with _io(f"writing {display(filesystem, marker)}"), filesystem.open_output_stream(marker) as stream:
        stream.write(json.dumps(manifest, indent=2, sort_keys=True).encode())
    for staged in (output, *extra, *([log_files] if log_files else [])):
        staged.discard()  # the now empty staging directory
    return manifest
