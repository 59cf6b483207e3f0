"""Entity keys of an entity-keyed request, checked against their Feast types before any lookup.

The values are read from the request's JSON as sent (`dataframe_records`, `dataframe_split`,
`inputs`, `instances`), before pandas builds a frame: a frame would have already turned `1.5`,
`1.9` and `true` into numbers that Feast truncates to customer 1, `null` into NaN and 2**63 into an
unsigned or object column that the feature server cannot convert (its 500 reads as an outage).
Each key is checked against the Feast value type its training run recorded (tag
`feast.entity_key_types`):

| Feast type | accepted JSON values |
|---|---|
| INT64, INT32 | whole numbers in the type's range (`7`, and `7.0`); not booleans, strings or fractions |
| STRING | strings |
| BYTES | strings (sent to the feature server as they are) |
| DOUBLE, FLOAT | finite numbers, not booleans |
| BOOL | `true` and `false` |
| UNIX_TIMESTAMP | numbers (seconds) and strings (ISO 8601) |
| not recorded (versions trained before the tag existed) | whole numbers in the INT64 range, and strings |

`null`, arrays and objects are never keys. A request with any bad key is refused as a whole with
400 `INVALID_PARAMETER_VALUE`, naming the key, the row, the value and the expected type.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd

from workloads.serving.errors import InvalidEntityKeyError
from workloads.serving.log_schema import INTEGER_RANGES

MAX_REPORTED = 10  # problems named in one error message
FEAST_INTEGERS = {"INT64": "int64", "INT32": "int32"}
DESCRIPTIONS = {
    "INT64": "a whole number from -2^63 to 2^63-1", "INT32": "a whole number from -2^31 to 2^31-1",
    "STRING": "a string", "BYTES": "a string", "DOUBLE": "a finite number", "FLOAT": "a finite number",
    "BOOL": "true or false", "UNIX_TIMESTAMP": "a number of seconds or an ISO 8601 string",
    "": "a whole number from -2^63 to 2^63-1 or a string",
}


def raw_columns(payload: dict, keys: tuple[str, ...]) -> dict[str, list[Any]] | None:
    """Each key's values as sent, in row order; None when the shape is not one MLflow accepts
    for a table (MLflow's parser then answers the request)."""
    data = next((payload[key] for key in ("dataframe_records", "dataframe_split", "instances", "inputs")
                 if key in payload), None)
    if isinstance(data, dict) and "data" in data:  # split: {"columns": [...], "data": [[...], ...]}
        columns, rows = data.get("columns"), data.get("data")
        if not isinstance(columns, list) or not isinstance(rows, list) or \
                not all(isinstance(row, list) and len(row) == len(columns) for row in rows):
            return None
        return {key: [row[columns.index(key)] for row in rows] for key in keys}
    if isinstance(data, dict):  # columns: {"customer_id": [1, 2]} (or one value)
        return {key: data[key] if isinstance(data[key], list) else [data[key]] for key in keys}
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):  # records
        return {key: [row.get(key) for row in data] for key in keys}
    return None


def check(value: Any, feast_type: str) -> Any | None:
    """The value as the feature server should get it, or None when it is not a valid key."""
    if value is None or isinstance(value, list | dict):
        return None
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if feast_type in FEAST_INTEGERS or (feast_type == "" and is_number):
        low, high = INTEGER_RANGES[FEAST_INTEGERS.get(feast_type, "int64")]
        if not is_number or (isinstance(value, float) and not value.is_integer()):
            return None
        return int(value) if low <= value <= high else None
    if feast_type in ("STRING", "BYTES", ""):
        return value if isinstance(value, str) else None
    if feast_type in ("DOUBLE", "FLOAT"):
        return float(value) if is_number and math.isfinite(value) else None
    if feast_type == "BOOL":
        return value if isinstance(value, bool) else None
    if feast_type == "UNIX_TIMESTAMP":
        return value if is_number or isinstance(value, str) else None
    return value if is_number or isinstance(value, str) else None  # a type this table does not know


def entity_rows(payload: dict, keys: tuple[str, ...], types: dict[str, str]) -> pd.DataFrame | None:
    """The request's entity rows, each key checked against its Feast type (`types`: key -> Feast
    value type name; missing: not recorded); None when MLflow's parser should answer instead.
    Raises InvalidEntityKeyError naming every bad value (up to MAX_REPORTED)."""
    columns = raw_columns(payload, keys)
    if columns is None:
        return None
    problems, checked = [], {}
    for key in keys:
        feast_type = types.get(key, "").upper()
        checked[key] = []
        for row, value in enumerate(columns[key]):
            good = check(value, feast_type)
            if good is None:
                expected = f"{feast_type} ({DESCRIPTIONS.get(feast_type, 'a key')})" if feast_type \
                    else DESCRIPTIONS[""]
                problems.append(f"entity key {key!r} in row {row} is {json.dumps(value)}, not {expected}")
            checked[key].append(good)
    if problems:
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise InvalidEntityKeyError("; ".join(problems[:MAX_REPORTED]) + more)
    return pd.DataFrame({key: pd.Series(values, dtype=key_dtype(values, types.get(key, "").upper()))
                         for key, values in checked.items()})


def key_dtype(values: list[Any], feast_type: str) -> str | type:
    if feast_type in FEAST_INTEGERS:
        return FEAST_INTEGERS[feast_type]
    if feast_type == "" and values and all(isinstance(value, int) for value in values):
        return "int64"
    return object
