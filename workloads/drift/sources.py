"""Tabular data read one column at a time: a pandas frame, or parquet files (local or in S3).

A `Source` is a list of parts (files) with the same columns. Reading a column goes part by part
and, in a parquet file, row group by row group (Arrow's column projection: only that column's
pages are read), into one preallocated NumPy array. Memory therefore holds one column of the
source at a time per reading thread, whatever the number of columns.

A part that lacks a column, or holds it with another kind, or whose pages cannot be decoded,
contributes missing values to that column and a `Problem` naming the file, the column and why;
the other parts are still read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from workloads.drift.columns import (
    CATEGORICAL,
    EMPTY,
    NUMERIC,
    arrow_kind,
    category_codes,
    compatible,
    numeric_values,
    series_to_arrow,
)
from workloads.drift.errors import Problem, SchemaMismatchError, UnreadableFileError

ARROW_ERRORS = (pa.ArrowException, OSError, ValueError)


class Part(Protocol):
    where: str  # a file path, an s3:// URI, or a description of an in-memory frame
    rows: int

    def kinds(self) -> dict[str, str]: ...
    def type_name(self, column: str) -> str: ...
    def chunks(self, column: str) -> Iterator[pa.Array | pa.ChunkedArray]: ...


class FramePart:
    """An in-memory pandas frame (tests, benchmarks, the Python API)."""

    def __init__(self, frame: pd.DataFrame, where: str = "the current data"):
        self.frame, self.where, self.rows = frame, where, len(frame)
        self._arrow: dict[str, pa.Array] = {}

    def _column(self, column: str) -> pa.Array:
        if column not in self._arrow:
            self._arrow[column] = series_to_arrow(self.frame[column])
        return self._arrow[column]

    def kinds(self) -> dict[str, str]:
        return {str(c): arrow_kind(self._column(c).type) for c in self.frame.columns}

    def type_name(self, column: str) -> str:
        return str(self.frame[column].dtype)

    def chunks(self, column: str) -> Iterator[pa.Array]:
        yield self._column(column)


class ParquetPart:
    """One parquet file; `opener()` returns a path or a seekable binary file object."""

    def __init__(self, opener: Callable[[], Any], where: str):
        self.opener, self.where = opener, where
        try:
            parquet = pq.ParquetFile(opener())
            schema = parquet.schema_arrow
        except ARROW_ERRORS as error:
            raise UnreadableFileError(f"{where}: not a readable parquet file ({error})") from None
        self.metadata = parquet.metadata  # reused by every column read: the footer is fetched once
        self.rows = self.metadata.num_rows
        index = set(_pandas_index_columns(schema))
        self._types = {name: schema.field(name).type for name in schema.names if name not in index}

    def kinds(self) -> dict[str, str]:
        return {name: arrow_kind(t) for name, t in self._types.items()}

    def type_name(self, column: str) -> str:
        return str(self._types[column])

    def chunks(self, column: str) -> Iterator[pa.ChunkedArray]:
        t = self._types[column]
        # Text columns are decoded straight into dictionaries (no Python string per row), except
        # where Arrow cannot do that for the page encoding (DELTA_BYTE_ARRAY): read as text then.
        dictionary = pa.types.is_string(t) or pa.types.is_large_string(t)
        parquet = pq.ParquetFile(self.opener(), metadata=self.metadata, read_dictionary=[column] if dictionary else None)
        for group in range(parquet.num_row_groups):
            try:
                yield parquet.read_row_group(group, columns=[column], use_threads=False).column(0)
            except (pa.ArrowNotImplementedError, OSError):  # Arrow reports this one as an OSError
                if not dictionary:
                    raise
                dictionary, parquet = False, pq.ParquetFile(self.opener(), metadata=self.metadata)
                yield parquet.read_row_group(group, columns=[column], use_threads=False).column(0)


def _pandas_index_columns(schema: pa.Schema) -> list[str]:
    """Columns pandas wrote for a frame's index (restored as the index, not data, by pandas)."""
    metadata = schema.pandas_metadata or {}
    return [c for c in metadata.get("index_columns", []) if isinstance(c, str)]


@dataclass
class Source:
    parts: list[Part]
    problems: list[Problem] = field(default_factory=list)  # unreadable files, met when opening
    where: str = "the current data"  # a path, a prefix or a description, for messages
    columns: tuple[str, ...] | None = None  # only these columns are seen (None: all of them)

    @property
    def rows(self) -> int:
        return sum(part.rows for part in self.parts)

    def select(self, columns: list[str] | tuple[str, ...]) -> Source:
        """The same parts seen through only `columns` (nothing is read or copied)."""
        return Source(self.parts, self.problems, self.where, tuple(columns))

    def kinds(self) -> dict[str, str]:
        """Every column of any part, in order of appearance, with its kind (the first that is not empty)."""
        kinds: dict[str, str] = {}
        for part in self.parts:
            for column, kind in part.kinds().items():
                if kinds.get(column, EMPTY) == EMPTY and (self.columns is None or column in self.columns):
                    kinds[column] = kind
        return kinds

    def type_name(self, column: str) -> str:
        names = [p.type_name(column) for p in self.parts if column in p.kinds() and p.kinds()[column] != EMPTY]
        return names[0] if names else "null"

    def numeric(self, column: str) -> tuple[np.ndarray, list[Problem]]:
        """float64 values (NaN where missing) of every row, and the problems met."""
        only = self._single_chunk(column, NUMERIC)
        if only is not None:
            return numeric_values(only), []
        values = np.full(self.rows, np.nan)
        problems = self._fill(column, NUMERIC, lambda chunk, at: values.__setitem__(
            slice(at, at + len(chunk)), numeric_values(chunk)))
        return values, problems

    def categorical(self, column: str, index: dict[str, int]) -> tuple[np.ndarray, list[Problem]]:
        """int32 codes (-1 where missing) of every row; labels are added to `index` (label -> code)."""
        codes = np.full(self.rows, -1, dtype=np.int32)

        def put(chunk, at: int) -> None:
            for piece in (chunk.chunks if isinstance(chunk, pa.ChunkedArray) else [chunk]):
                codes[at:at + len(piece)] = category_codes(piece, index)
                at += len(piece)

        return codes, self._fill(column, CATEGORICAL, put)

    def _single_chunk(self, column: str, kind: str):
        """The one in-memory chunk of a one-part frame source (no copy needed), else None."""
        if len(self.parts) == 1 and isinstance(self.parts[0], FramePart):
            part = self.parts[0]
            if compatible(kind, part.kinds().get(column, "")):
                return next(part.chunks(column))
        return None

    def _fill(self, column: str, kind: str, put: Callable[[Any, int], None]) -> list[Problem]:
        problems, at = [], 0
        for part in self.parts:
            own = part.kinds().get(column)
            if own is None:
                problems.append(Problem.of(SchemaMismatchError(
                    f"{part.where}: no column {column!r}; its {part.rows:,} rows count as missing")))
            elif not compatible(kind, own):
                problems.append(Problem.of(SchemaMismatchError(
                    f"{part.where}: column {column!r} is {own} ({part.type_name(column)}), not {kind}; "
                    f"its {part.rows:,} rows count as missing")))
            else:
                problems += _read_into(part, column, put, at)
            at += part.rows
        return problems


def _read_into(part: Part, column: str, put: Callable[[Any, int], None], at: int) -> list[Problem]:
    offset = at
    try:
        for chunk in part.chunks(column):
            put(chunk, offset)
            offset += len(chunk)
    except ARROW_ERRORS as error:
        return [Problem.of(UnreadableFileError(
            f"{part.where}: column {column!r} cannot be decoded ({error}); rows from row {offset - at:,} on count as missing"))]
    return []


def frame_source(frame: pd.DataFrame, where: str = "the current data") -> Source:
    return Source([FramePart(frame, where)], where=where)


def as_source(data: pd.DataFrame | Source, where: str = "the current data") -> Source:
    return data if isinstance(data, Source) else frame_source(data, where)
