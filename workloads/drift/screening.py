"""Which reference columns are features to test, and why the others are not.

Decided once, from the reference, when the profile is built; the report lists every column left
out with its reason (`excluded_columns`). Like Evidently's ID and DateTime utility columns, these
identify a row or its time rather than describe it, so comparing their distributions between
two periods measures the passing of time, not drift:

- datetime columns (timestamps, dates, times; and text that is entirely ISO 8601 dates): the
  current interval's times never occur in the reference, so every test would reject every day.
  To monitor a time, derive a feature from it (an age in days) upstream.
- identifiers and free text: a categorical column in which more than half the values are
  distinct (and more than 20 of them) has almost every category seen once, so a test of category
  shares has no power, and new IDs would read as new categories every day; an integer-valued
  numeric column with at least 50 values of which 95 % or more are distinct is a row number, an
  ID or an epoch timestamp, not a measurement with ties.
- columns of a type the tests cannot read (lists, structs, maps).
"""

from __future__ import annotations

import numpy as np

from workloads.drift.columns import DATETIME, UNSUPPORTED, looks_like_date_text

ID_TEXT_MIN_DISTINCT = 20
ID_TEXT_DISTINCT_SHARE = 0.5
ID_INTEGER_MIN_VALUES = 50
ID_INTEGER_DISTINCT_SHARE = 0.95


def kind_exclusion(kind: str, type_name: str) -> str | None:
    if kind == DATETIME:
        return (f"datetime column ({type_name}): the time of a row differs between any two periods by design; "
                "derive a numeric feature (an age) to monitor it")
    if kind == UNSUPPORTED:
        return f"values of type {type_name} (lists, structs or maps) cannot be tested"
    return None


def categorical_exclusion(labels: list[str], counts: np.ndarray) -> str | None:
    """The reason a categorical reference column is not tested, or None to test it."""
    used = [label for label, count in zip(labels, counts, strict=True) if count > 0]
    if looks_like_date_text(used):
        return "dates or times stored as text (ISO 8601): treated as a datetime column, not as categories"
    present = int(counts.sum())
    if len(used) > max(ID_TEXT_MIN_DISTINCT, ID_TEXT_DISTINCT_SHARE * present):
        return (f"identifier or free text: {len(used):,} distinct values in {present:,} rows; "
                "a test of category shares has no power on mostly unique values")
    return None


def numeric_exclusion(sorted_finite: np.ndarray) -> str | None:
    """The reason a numeric reference column is not tested, or None to test it."""
    n = sorted_finite.size
    if n < ID_INTEGER_MIN_VALUES:
        return None
    # A strided sample of the sorted values first: two sampled values k apart can only be equal
    # within a run of k + 1 ties, so its share of repeats is at most the column's. Most columns
    # stop here, without a pass over every value.
    sample = sorted_finite[:: max(1, n // 1000)]
    if _distinct(sample) < ID_INTEGER_DISTINCT_SHARE * sample.size or not _integers(sample):
        return None
    distinct = _distinct(sorted_finite)
    if distinct >= ID_INTEGER_DISTINCT_SHARE * n and _integers(sorted_finite):
        return (f"identifier or epoch timestamp: integer values, {distinct:,} distinct in {n:,} rows; "
                "new IDs or times in the current data would always read as drift")
    return None


def _integers(values: np.ndarray) -> bool:
    return bool(np.all(np.mod(values, 1) == 0))


def _distinct(sorted_values: np.ndarray) -> int:
    return 1 + int(np.count_nonzero(np.diff(sorted_values))) if sorted_values.size else 0
