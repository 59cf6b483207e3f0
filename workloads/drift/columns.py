"""The kind of a data column, and its values as NumPy arrays, from Arrow or pandas.

Every column is read through Arrow (parquet files directly, pandas frames by conversion), so a
column means the same whatever wrote it:

| kind | Arrow types | tested as |
|---|---|---|
| numeric | integers, floats, decimals, durations (in seconds) | numbers; NaN and null are missing, +-inf non-finite |
| categorical | strings, booleans, binary, dictionary (pandas Categorical) | category labels (text); null is missing |
| datetime | timestamps, dates, times (and pandas periods) | not tested: the time of a row, see docs/drift.md |
| unsupported | lists, structs, maps, unions | not tested |
| empty | null (a column written with no value at all) | all missing, whatever the other side's kind |
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

NUMERIC, CATEGORICAL, DATETIME, UNSUPPORTED, EMPTY = "numeric", "categorical", "datetime", "unsupported", "empty"
TESTED_KINDS = (NUMERIC, CATEGORICAL)
SECONDS_PER_UNIT = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
# ISO 8601 dates and times written as text ("2026-11-27", "2026-11-27T01:30:00Z", "2026/11/27 01:30").
ISO_DATE_TEXT = re.compile(r"\d{4}[-/]\d{2}[-/]\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?")


def arrow_kind(kind_of: pa.DataType) -> str:
    """The kind of a column of Arrow type `kind_of`."""
    t = kind_of
    if isinstance(t, pa.ExtensionType):
        return arrow_kind(t.storage_type)
    if pa.types.is_dictionary(t):
        inner = arrow_kind(t.value_type)
        return inner if inner in (DATETIME, UNSUPPORTED) else CATEGORICAL
    if pa.types.is_null(t):
        return EMPTY
    if pa.types.is_boolean(t) or pa.types.is_string(t) or pa.types.is_large_string(t) or _is_binary(t):
        return CATEGORICAL
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_duration(t):
        return NUMERIC
    if pa.types.is_temporal(t):  # timestamp, date, time (durations handled above)
        return DATETIME
    return UNSUPPORTED


def _is_binary(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t)


def compatible(reference_kind: str, current_kind: str) -> bool:
    """Whether a current column of `current_kind` can be tested against a reference column."""
    return current_kind in (reference_kind, EMPTY)


def series_to_arrow(series: pd.Series) -> pa.Array:
    """One pandas column as Arrow, without copying NumPy numbers (NaN stays NaN: missing anyway)."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        return pa.array(series.to_numpy(), from_pandas=False)
    if isinstance(dtype, pd.PeriodDtype):
        return pa.Array.from_pandas(series.dt.start_time)
    try:
        return pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        # Mixed Python objects (numbers and text in one column): compare them as text labels.
        # Lists or mappings among them make the column unsupported.
        if series.map(lambda v: isinstance(v, list | tuple | dict | set | np.ndarray)).any():
            return pa.array([None] * len(series), pa.list_(pa.null()))
        return pa.Array.from_pandas(series.astype("string"))


def pandas_type_name(series: pd.Series) -> str:
    return str(series.dtype)


def numeric_values(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """float64 values of a numeric (or empty) column: null -> NaN, durations in seconds."""
    t = column.type
    if pa.types.is_null(t):
        return np.full(len(column), np.nan)
    if pa.types.is_duration(t):
        seconds = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
        return seconds / SECONDS_PER_UNIT[t.unit]
    if not pa.types.is_float64(t):
        column = pc.cast(column, pa.float64(), safe=False)  # integers above 2**53 round; decimals
    return column.to_numpy(zero_copy_only=False) if isinstance(column, pa.Array) else column.to_numpy()


def category_labels(values: list) -> list[str | None]:
    """Text labels of dictionary values (None stays None: a missing value)."""
    labels: list[str | None] = []
    for value in values:
        if value is None:
            labels.append(None)
        elif isinstance(value, bytes):
            labels.append(value.decode("utf-8", "replace"))
        else:
            labels.append(str(value))
    return labels


def category_codes(chunk: pa.Array, index: dict[str, int]) -> np.ndarray:
    """int32 codes of one categorical (or empty) Arrow array; -1 for missing. New labels are added
    to `index` (label -> code) in order of appearance."""
    if pa.types.is_null(chunk.type):
        return np.full(len(chunk), -1, dtype=np.int32)
    if not pa.types.is_dictionary(chunk.type):
        chunk = pc.dictionary_encode(chunk)
    mapping = np.array([-1 if label is None else index.setdefault(label, len(index))
                        for label in category_labels(chunk.dictionary.to_pylist())] + [-1], dtype=np.int32)
    indices = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return mapping[indices]  # -1 indexes the appended -1: missing stays missing


def looks_like_date_text(labels: list[str]) -> bool:
    """True when every label is an ISO 8601 date or time written as text."""
    return bool(labels) and all(ISO_DATE_TEXT.fullmatch(label.strip()) for label in labels)
