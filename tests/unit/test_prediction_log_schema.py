"""The prediction log's schema: fixed per model version from its signature, so every file of a day
is one table whatever the requests held; odd values converted or nulled and counted, never fatal."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from mlflow.models import infer_signature
from mlflow.models.signature import ModelSignature
from mlflow.types import ColSpec, Schema

from workloads.serving.log_schema import LogSchema, column_array, schema_of, to_table
from workloads.serving.log_writer import LogRecord, encode, log_table

SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec("double", "tenure"), ColSpec("long", "calls"), ColSpec("string", "contract"),
                   ColSpec("boolean", "flag")]),
    outputs=Schema([ColSpec("long")]),
)
SCHEMA = LogSchema(features=(("tenure", "double"), ("calls", "int64"), ("contract", "string"), ("flag", "bool"),
                             ("customer_id", "int64")),
                   predictions=(("prediction", "int64"),), typed_inputs=True, probability=False)
BASE = {"tenure": 1.5, "calls": 2, "contract": "one-year", "flag": True}


class Metadata:
    """What `pyfunc.metadata` offers the schema: the signature's two halves."""

    def __init__(self, signature: ModelSignature | None):
        self.signature = signature

    def get_input_schema(self):
        return self.signature.inputs if self.signature else None

    def get_output_schema(self):
        return self.signature.outputs if self.signature else None


def record(rows: list[dict], request_id: str, predictions=None, schema: LogSchema = SCHEMA) -> LogRecord:
    frame = pd.DataFrame(rows)
    predictions = np.zeros(len(frame), dtype="int64") if predictions is None else predictions
    return LogRecord(frame, predictions, request_id, datetime(2026, 12, 1, 10, tzinfo=UTC), "3", None, schema)


def read(body: bytes) -> pa.Table:
    return pq.read_table(io.BytesIO(body))


def test_the_schema_follows_the_signature_and_the_entity_key_types():
    schema = schema_of(Metadata(SIGNATURE), {"customer_id": "INT64", "region": "STRING"}, probability=True)
    assert schema.features == (("tenure", "double"), ("calls", "int64"), ("contract", "string"), ("flag", "bool"),
                               ("customer_id", "int64"), ("region", "string"))
    assert schema.predictions == (("prediction", "int64"),) and schema.probability and schema.typed_inputs


def test_an_inferred_tensor_output_keeps_its_numpy_type():
    signature = infer_signature(pd.DataFrame({"x": [1.0]}), np.array([1]))
    assert schema_of(Metadata(signature), {}).predictions == (("prediction", "int64"),)


def test_a_model_without_a_signature_logs_its_inputs_as_text():
    schema = schema_of(Metadata(None), {"customer_id": ""})
    assert not schema.typed_inputs and schema.features == (("customer_id", "string"),)
    table, _ = log_table([record([{"a": 1, "b": "x"}], "r1", schema=schema)], None)
    assert table.schema.field("a").type == pa.string() and table.column("a").to_pylist() == ["1"]


@pytest.mark.parametrize(("values", "kind", "expected", "nulled"), [
    ([1.0, np.nan, 2.5], "double", [1.0, None, 2.5], 0),
    ([1.0, True, "2.5", None], "double", [1.0, 1.0, 2.5, None], 0),
    ([1, "x", {"a": 1}], "double", [1.0, None, None], 2),
    ([1, 2.0, 2.5, 2**63, "7"], "int64", [1, 2, None, None, 7], 2),
    (["a", 5, True, None, 1.5], "string", ["a", "5", "True", None, "1.5"], 0),
    ([True, "false", 1, "maybe"], "bool", [True, False, True, None], 1),
    ([["a", 1], {"k": None}], "json", ['["a", 1]', '{"k": null}'], 0),
    (["2026-12-01T10:00:00+01:00", "not a time"], "timestamp",
     [pd.Timestamp("2026-12-01T09:00:00Z"), None], 1),
], ids=["double", "double-from-odd", "double-unconvertible", "int64", "string", "bool", "json", "timestamp"])
def test_odd_values_take_their_column_type_or_become_counted_nulls(values, kind, expected, nulled):
    array, count = column_array(pd.Series(values, dtype=object), kind)
    assert array.to_pylist() == expected and count == nulled


def test_every_file_of_a_version_has_the_same_schema_whatever_its_rows_held():
    """Mixed types within one flush and across flushes, an all-null batch, an unknown column that
    is a string in one request and a number in the next: one schema, readable as one table."""
    flushes = [
        [record([BASE, {**BASE, "contract": 5}], "mixed-in-one"),  # a number in a string column
         record([{**BASE, "note": "x"}], "note-text")],
        [record([{**BASE, "tenure": None, "contract": None, "flag": None}] * 3, "all-null"),
         record([{**BASE, "note": 3, "calls": 4}], "note-number")],
        [record([{**BASE, "customer_id": 17}], "entity", predictions=np.array([1]))],
    ]
    tables = [log_table(records, None)[0] for records in flushes]
    assert all(table.schema == tables[0].schema for table in tables)
    assert "note" not in tables[0].schema.names, "columns the signature does not declare are not logged"
    day = pd.concat([pd.read_parquet(io.BytesIO(encode(table))) for table in tables], ignore_index=True)
    assert day["contract"].tolist()[:2] == ["one-year", "5"]
    assert day.loc[day["request_id"] == "all-null", "tenure"].isna().all()
    assert day["calls"].dtype == "int64" and day["tenure"].dtype == "float64"
    assert day.loc[day["request_id"] == "entity", "customer_id"].tolist() == [17]


def test_rows_are_kept_when_a_value_cannot_take_its_type():
    table, nulled = log_table([record([{**BASE, "calls": "many"}, BASE], "r")], None)
    assert table.num_rows == 2 and table.column("calls").to_pylist() == [None, 2]
    assert nulled == {"calls": 1}


def test_a_binary_classifier_without_its_files_logs_null_probabilities_counted():
    schema = LogSchema(SCHEMA.features, SCHEMA.predictions, probability=True)
    table, nulled = log_table([record([BASE, BASE], "r", schema=schema)], None)
    assert table.column("probability").null_count == 2 and nulled == {"probability": 2}


def test_absent_columns_are_typed_nulls():
    table, nulled = to_table(pd.DataFrame({"a": [1, 2]}), [("a", "int64"), ("b", "string")])
    assert table.schema == pa.schema([("a", pa.int64()), ("b", pa.string())])
    assert table.column("b").null_count == 2 and not nulled
