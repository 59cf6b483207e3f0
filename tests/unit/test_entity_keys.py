"""Entity keys are checked against their Feast types before the feature lookup: 1.5, 1.9 and true
are not customer 1, null and 2**63 are not an outage; each bad value is named with its row."""

from __future__ import annotations

import json

import pytest

from workloads.serving.entities import entity_rows
from workloads.serving.errors import InvalidEntityKeyError
from workloads.tags import entity_key_types

KEYS = ("customer_id",)
INT64 = {"customer_id": "INT64"}


def records(*values) -> dict:
    return {"dataframe_records": [{"customer_id": value} for value in values]}


@pytest.mark.parametrize("value", [1.5, 1.9, True, False, None, 2**63, -(2**63) - 1, "1", [1], {"id": 1}],
                         ids=["1.5", "1.9", "true", "false", "null", "2^63", "below-int64", "text", "list", "object"])
def test_a_value_that_is_not_an_int64_is_refused_naming_key_row_value_and_type(value):
    with pytest.raises(InvalidEntityKeyError) as raised:
        entity_rows(records(7, value), KEYS, INT64)
    error = raised.value
    assert error.get_http_status_code() == 400 and error.error_code == "INVALID_PARAMETER_VALUE"
    assert f"entity key 'customer_id' in row 1 is {json.dumps(value)}, not INT64" in error.message
    assert "row 0" not in error.message


def test_whole_numbers_are_keys_in_every_request_shape():
    for payload in (records(1, 2.0, 2**63 - 1),
                    {"dataframe_split": {"columns": ["customer_id"], "data": [[1], [2.0], [2**63 - 1]]}},
                    {"inputs": {"customer_id": [1, 2.0, 2**63 - 1]}},
                    {"instances": [{"customer_id": 1}, {"customer_id": 2.0}, {"customer_id": 2**63 - 1}]}):
        frame = entity_rows(payload, KEYS, INT64)
        assert frame["customer_id"].tolist() == [1, 2, 2**63 - 1] and str(frame["customer_id"].dtype) == "int64"


def test_int32_string_and_bool_keys_follow_their_types():
    assert entity_rows(records(2**31 - 1), KEYS, {"customer_id": "INT32"})["customer_id"].tolist() == [2**31 - 1]
    with pytest.raises(InvalidEntityKeyError, match="INT32"):
        entity_rows(records(2**31), KEYS, {"customer_id": "INT32"})
    assert entity_rows(records("c-17"), KEYS, {"customer_id": "STRING"})["customer_id"].tolist() == ["c-17"]
    with pytest.raises(InvalidEntityKeyError, match='is 17, not STRING'):
        entity_rows(records(17), KEYS, {"customer_id": "STRING"})
    with pytest.raises(InvalidEntityKeyError, match="not BOOL"):
        entity_rows(records(1), KEYS, {"customer_id": "BOOL"})


def test_without_recorded_types_only_what_no_key_can_be_is_refused():
    assert entity_rows(records(1, 2), KEYS, {})["customer_id"].tolist() == [1, 2]
    assert entity_rows(records("a"), KEYS, {})["customer_id"].tolist() == ["a"]
    for bad in (1.5, True, None, 2**63):
        with pytest.raises(InvalidEntityKeyError):
            entity_rows(records(bad), KEYS, {})


def test_every_bad_value_is_named_up_to_ten():
    with pytest.raises(InvalidEntityKeyError) as raised:
        entity_rows(records(*[0.5] * 12), KEYS, INT64)
    assert raised.value.message.count("entity key") == 10 and raised.value.message.endswith("(and 2 more)")


def test_a_shape_mlflow_refuses_is_left_to_its_parser():
    assert entity_rows({"dataframe_split": {"columns": ["customer_id"], "data": [[1, 2]]}}, KEYS, INT64) is None
    assert entity_rows({"dataframe_records": "nope"}, KEYS, INT64) is None


def test_the_key_types_tag_reads_back():
    assert entity_key_types("customer_id:INT64, region:string,broken") == {"customer_id": "INT64", "region": "STRING"}
