"""The prediction log's table schema: one Arrow schema per model version, fixed before any request.

Every file the log writes for a version has exactly this schema, whatever the requests held, so a
day's partition reads as one table (`pd.read_parquet` on its prefix, the drift job) even when one
file's batch had only nulls in a column and another's only booleans:

| column | Arrow type |
|---|---|
| each input column of the signature, in its order | the signature's: double -> double, float -> float, long -> int64, integer -> int32, boolean -> bool, string -> string, binary -> binary, datetime -> timestamp[ns, UTC]; arrays, objects and maps -> JSON text |
| each entity key | its Feast type (INT64 -> int64, INT32 -> int32, STRING -> string, ...; unknown: string); null on rows sent with their features |
| `prediction` (`prediction_<name>` for several outputs) | the signature's output type; without one, numbers as double, booleans as bool, the rest as text |
| `probability` | double (binary classifiers only) |
| `request_id`, `model_version` | string |
| `timestamp` | timestamp[ns, UTC] |

A value that is not of its column's type (MLflow's schema enforcement lets some through, in
columns of mixed Python objects) is converted the standard way when one exists: the number 5 in a
string column is logged as "5", `true` in a double column as 1.0, "2.5" as 2.5. A value with no such
conversion is logged as null and counted (`mlops_serving_log_values_nulled_total{column}`): the
row is kept. Columns the signature does not declare are not logged (the model never saw them:
MLflow drops them with a warning). A model without a column signature has its input columns
logged as text, as they were received.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

# Kinds: names of the Arrow types the log uses (plain strings, so a schema pickles in microseconds).
ARROW_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(), "int32": pa.int32(), "int64": pa.int64(), "float": pa.float32(), "double": pa.float64(),
    "string": pa.string(), "binary": pa.binary(), "timestamp": pa.timestamp("ns", tz="UTC"), "json": pa.string(),
}
# MLflow's column types (mlflow.types.DataType) -> kind.
SIGNATURE_KINDS = {"boolean": "bool", "integer": "int32", "long": "int64", "float": "float", "double": "double",
                   "string": "string", "binary": "binary", "datetime": "timestamp"}
# Feast's ValueType names of join keys -> kind.
FEAST_KINDS = {"INT32": "int32", "INT64": "int64", "STRING": "string", "BYTES": "binary", "FLOAT": "float",
               "DOUBLE": "double", "BOOL": "bool", "UNIX_TIMESTAMP": "timestamp"}
INTEGER_RANGES = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}


@dataclass(frozen=True)
class LogSchema:
    """The columns of one model version's log files, as (name, kind) pairs in file order."""

    features: tuple[tuple[str, str], ...]  # the signature's input columns, then the entity keys
    predictions: tuple[tuple[str, str], ...]  # from the output signature; empty: from the values
    typed_inputs: bool = True  # False: no column signature, input columns are logged as text
    probability: bool = False  # a binary classifier: P(positive class) is logged

    def input_fields(self, frame: pd.DataFrame) -> list[tuple[str, str]]:
        """The (name, kind) input columns of a file holding `frame`'s rows."""
        fields = list(self.features)
        if not self.typed_inputs:
            known = {name for name, _ in fields}
            fields += [(str(c), "string") for c in frame.columns if str(c) not in known]
        return fields

    def prediction_fields(self, predictions: dict[str, Any]) -> list[tuple[str, str]]:
        """The (name, kind) prediction columns: declared by the signature, else from the values."""
        declared = dict(self.predictions)
        return [(name, declared.get(name) or values_kind(values)) for name, values in predictions.items()]


def signature_kind(column_type: Any) -> str:
    """An MLflow column type (DataType, or Array/Object/Map) -> kind."""
    return SIGNATURE_KINDS.get(getattr(column_type, "name", None), "json") if _is_data_type(column_type) else "json"


def _is_data_type(column_type: Any) -> bool:
    from mlflow.types import DataType

    return isinstance(column_type, DataType)


def tensor_kind(dtype: Any) -> str:
    """A declared tensor output's numpy dtype -> kind."""
    kind = np.dtype(dtype).kind
    return "bool" if kind == "b" else "int64" if kind in "iu" else "double" if kind == "f" else "string"


def values_kind(values: Any) -> str:
    """The kind of a prediction column without a declared type: booleans, numbers as double (so
    a model answering integers in one batch and floats in the next keeps one type), text."""
    dtype = getattr(values, "dtype", None)
    kind = np.asarray(values).dtype.kind if dtype is None or isinstance(dtype, pd.api.extensions.ExtensionDtype) \
        else dtype.kind
    return "bool" if kind == "b" else "double" if kind in "iuf" else "string"


def schema_of(metadata, entity_keys: dict[str, str], probability: bool = False) -> LogSchema:
    """The log schema of a model (`pyfunc.metadata`) and its entity keys (name -> Feast type name).

    Input columns come from a column-based signature (a tensor signature or none: no typed
    inputs); the entity keys follow unless the signature already declares them."""
    inputs = metadata.get_input_schema() if metadata is not None else None
    typed = inputs is not None and inputs.has_input_names() and not inputs.is_tensor_spec()
    features = [(str(spec.name), signature_kind(spec.type)) for spec in inputs.inputs] if typed else []
    declared = {name for name, _ in features}
    features += [(key, FEAST_KINDS.get(kind.upper(), "string")) for key, kind in entity_keys.items() if key not in declared]
    outputs = metadata.get_output_schema() if metadata is not None else None
    predictions: list[tuple[str, str]] = []
    if outputs is not None and outputs.inputs:
        specs = outputs.inputs
        kinds = [tensor_kind(spec.type) if outputs.is_tensor_spec() else signature_kind(spec.type) for spec in specs]
        if len(specs) == 1:
            predictions = [("prediction", kinds[0])]
        elif all(spec.name for spec in specs):
            predictions = [(f"prediction_{spec.name}", kind) for spec, kind in zip(specs, kinds, strict=True)]
    return LogSchema(tuple(features), tuple(predictions), typed_inputs=typed, probability=probability)


# --- conversion --------------------------------------------------------------------------------
def _missing(value: Any) -> bool:
    if isinstance(value, list | dict | tuple | np.ndarray):
        return False
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _number(value: Any) -> float | int | None:
    """A number from a bool, a number or numeric text; None when there is none."""
    if isinstance(value, bool | np.bool_ | int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str | bytes):
        text = (value.decode("utf-8", "replace") if isinstance(value, bytes) else value).strip()
        for parse in (int, float):
            try:
                return parse(text)
            except ValueError:
                continue
    return None


def _convert(value: Any, kind: str) -> tuple[Any, bool]:
    """(value in `kind`, converted?) for one value; (None, False) when it has no conversion."""
    if kind in ("string", "json"):
        if isinstance(value, str):
            return value, True
        if kind == "json" or isinstance(value, list | dict | tuple | np.ndarray):
            try:
                return json.dumps(value.tolist() if isinstance(value, np.ndarray) else value, default=str), True
            except (TypeError, ValueError):
                return None, False
        return (value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)), True
    if kind == "binary":
        return (value if isinstance(value, bytes) else str(value).encode()), True
    if kind == "bool":
        if isinstance(value, bool | np.bool_):
            return bool(value), True
        text = str(value).strip().lower()
        return ({"true": True, "1": True, "false": False, "0": False}.get(text), text in ("true", "1", "false", "0"))
    if kind == "timestamp":
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            return None, False
        return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")), True
    number = _number(value)
    if number is None:
        return None, False
    if kind in INTEGER_RANGES:
        low, high = INTEGER_RANGES[kind]
        if isinstance(number, float) and not number.is_integer():  # also NaN and infinities
            return None, False
        return (int(number), True) if low <= int(number) <= high else (None, False)
    return float(number), True


def column_array(values: pd.Series | np.ndarray | list, kind: str) -> tuple[pa.Array, int]:
    """`values` as an Arrow array of `kind`, and how many non-missing values had to become null.

    A column already of the right type takes the fast path (one vectorised conversion); a column
    of mixed Python objects is converted value by value."""
    arrow_type = ARROW_TYPES[kind]
    if kind != "json":
        try:
            return pa.array(values, type=arrow_type, from_pandas=True), 0
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, ValueError, OverflowError):
            pass
    converted, nulled = [], 0
    for value in (values.tolist() if hasattr(values, "tolist") else values):
        if _missing(value):
            converted.append(None)
            continue
        result, ok = _convert(value, kind)
        converted.append(result if ok else None)
        nulled += not ok
    return pa.array(converted, type=arrow_type, from_pandas=True), nulled


def to_table(frame: pd.DataFrame, fields: list[tuple[str, str]]) -> tuple[pa.Table, dict[str, int]]:
    """The frame as a table of exactly `fields` ((name, kind) pairs; an absent column is all
    null, a column not named is left out), and the count of values nulled per column."""
    arrays, nulled = [], {}
    for name, kind in fields:
        if name not in frame.columns:
            arrays.append(pa.nulls(len(frame), ARROW_TYPES[kind]))
            continue
        array, count = column_array(frame[name], kind)
        arrays.append(array)
        if count:
            nulled[name] = count
    schema = pa.schema([pa.field(name, ARROW_TYPES[kind]) for name, kind in fields])
    return pa.Table.from_arrays(arrays, schema=schema), nulled
