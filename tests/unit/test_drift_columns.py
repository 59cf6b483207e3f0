"""Real-world column types: what is tested, how, and what is left out with its reason."""

from __future__ import annotations

import decimal
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from workloads.drift.__main__ import main
from workloads.drift.columns import CATEGORICAL, DATETIME, EMPTY, NUMERIC, UNSUPPORTED, arrow_kind, series_to_arrow
from workloads.drift.engine import compare
from workloads.drift.profile import build_profile
from workloads.drift.settings import DriftSettings

SETTINGS = DriftSettings(threads=1)


def report_of(reference: pd.DataFrame, current: pd.DataFrame):
    return compare(build_profile(reference, SETTINGS), current, SETTINGS)


@pytest.mark.parametrize(("series", "kind"), [
    (pd.Series([1, 2, None], dtype="Int64"), NUMERIC),
    (pd.Series([1.5, None], dtype="Float64"), NUMERIC),
    (pd.Series([decimal.Decimal("1.25"), None]), NUMERIC),
    (pd.Series(pd.to_timedelta([1, 2], unit="s")), NUMERIC),
    (pd.Series([True, None], dtype="boolean"), CATEGORICAL),
    (pd.Series(pd.Categorical(["a", None])), CATEGORICAL),
    (pd.Series(["a", None], dtype="string"), CATEGORICAL),
    (pd.Series([1, "a", None], dtype=object), CATEGORICAL),  # mixed objects compare as text
    (pd.Series(pd.date_range("2026-01-01", periods=2)), DATETIME),
    (pd.Series(pd.date_range("2026-01-01", periods=2, tz="Europe/Paris")), DATETIME),
    (pd.Series(pd.period_range("2026-01", periods=2, freq="M")), DATETIME),
    (pd.Series([[1, 2], [3]]), UNSUPPORTED),
    (pd.Series([None, None], dtype=object), EMPTY),
])
def test_kinds_of_pandas_dtypes(series, kind):
    assert arrow_kind(series_to_arrow(series).type) == kind


def test_datetime_and_identifier_columns_are_excluded_with_their_reason_never_tested_as_categories():
    rng = np.random.default_rng(1)
    n = 3_000

    def frame(start: str, first_id: int) -> pd.DataFrame:
        times = pd.Timestamp(start) + pd.to_timedelta(np.sort(rng.random(n)) * 86_400, unit="s")
        return pd.DataFrame({
            "event_time": times,  # naive timestamps
            "event_time_utc": times.tz_localize("UTC"),
            "day_text": times.strftime("%Y-%m-%d"),  # dates written as text: one "category" per day
            "customer_id": np.arange(first_id, first_id + n),
            "session": [f"s-{first_id + i:08x}" for i in range(n)],  # an ID string
            "x": rng.normal(size=n),
        })

    report = report_of(frame("2026-01-01", 0), frame("2026-03-01", 10_000))
    excluded = {c["name"]: c["reason"] for c in report.excluded_columns}
    assert set(excluded) == {"event_time", "event_time_utc", "day_text", "customer_id", "session"}
    assert excluded["event_time"].startswith("datetime column (datetime64[ns])")
    assert excluded["day_text"].startswith("dates or times stored as text")
    assert excluded["customer_id"].startswith("identifier or epoch timestamp")
    assert excluded["session"].startswith("identifier or free text")
    assert [f.name for f in report.features] == ["x"] and not report.dataset_drift


def test_a_many_valued_category_that_is_not_an_identifier_is_still_tested():
    rng = np.random.default_rng(2)
    zips = [f"{z:05d}" for z in rng.integers(10_000, 10_400, size=5_000)]  # 400 zip codes, many repeats
    report = report_of(pd.DataFrame({"zip": zips[:4_000]}), pd.DataFrame({"zip": zips[4_000:]}))
    assert report.excluded_columns == [] and report.feature("zip").tests[0].applicable


def test_nullable_integers_categoricals_and_all_missing_columns_from_parquet(tmp_path):
    """A new user's file: nullable Int64 with gaps, a pandas Categorical with unused levels,
    booleans, an all-NaN column, and a column the reference does not have."""
    rng = np.random.default_rng(3)

    def frame(n: int, plan_share: float, extra: bool) -> pd.DataFrame:
        ages = pd.array(rng.integers(18, 90, size=n), dtype="Int64")
        ages[rng.random(n) < 0.1] = pd.NA
        plan = pd.Categorical(np.where(rng.random(n) < plan_share, "pro", "free"), categories=["free", "pro", "team"])
        data = {"age": ages, "plan": plan, "active": pd.array(rng.random(n) < 0.7, dtype="boolean"),
                "score": np.full(n, np.nan)}
        return pd.DataFrame({**data, **({"new_column": rng.normal(size=n)} if extra else {})})

    frame(4_000, 0.3, extra=False).to_parquet(tmp_path / "ref.parquet")
    frame(1_000, 0.6, extra=True).to_parquet(tmp_path / "cur.parquet")
    out = tmp_path / "report.json"
    code = main(["compare", "--reference", str(tmp_path / "ref.parquet"), "--current", str(tmp_path / "cur.parquet"),
                 "--json", str(out), "--html", str(tmp_path / "report.html")])
    report = json.loads(out.read_text())
    assert code == 0  # `score` has no value in the reference: reported as not tested, the rest decided
    assert report["problems"] == [] and report["exit_code"] == 0
    (untested,) = report["untested_columns"]
    assert untested["name"] == "score" and "'score'" in untested["reason"]
    features = {f["name"]: f for f in report["features"]}
    assert features["score"]["status"] == "not tested"
    assert features["plan"]["drifted"] and features["plan"]["kind"] == "categorical"
    assert features["age"]["kind"] == "numeric" and 0.05 < features["age"]["missing_share_current"] < 0.15
    assert features["active"]["kind"] == "categorical" and not features["active"]["drifted"]
    assert report["ignored_columns"] == ["new_column"]


def test_strings_are_read_as_dictionaries_and_nested_columns_are_left_out(tmp_path):
    table = pa.table({"city": pa.array(["paris", "lyon", None, "nice"] * 500),
                      "tags": pa.array([[1, 2], [3], None, []] * 500, pa.list_(pa.int64()))})
    pq.write_table(table, tmp_path / "ref.parquet", row_group_size=300)  # several row groups
    pq.write_table(table.slice(0, 800), tmp_path / "cur.parquet", row_group_size=300)
    out = tmp_path / "r.json"
    assert main(["compare", "--reference", str(tmp_path / "ref.parquet"), "--current", str(tmp_path / "cur.parquet"),
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    city = next(f for f in report["features"] if f["name"] == "city")
    assert city["missing_share_current"] == 0.25 and not city["drifted"]
    assert report["excluded_columns"][0]["name"] == "tags" and "list<element: int64>" in report["excluded_columns"][0]["reason"]


@pytest.mark.parametrize(("reference", "current", "drifted"), [
    ([-1e308, 1e308, 0.0] * 100, [-1e308, 1e308] * 100, True),  # overflow in means and deviations
    ([0.5] * 200, [0.5] * 100, False),                          # constant and equal: KS p = 1
    ([3.0] * 200, [4.0] * 100, True),                           # constant, moved
    ([0.0, 1.0] * 300, [1.0] * 300, True),                      # a flag stuck at one value
    ([1.0, 2.0, np.inf, -np.inf] * 50, [np.inf] * 100, True),   # only non-finite values left
    ([1.0], [1.0, 2.0, 3.0], False),                            # one reference row
])
def test_awkward_numbers_give_a_finite_report(reference, current, drifted):
    from workloads.drift.report import to_json

    report = report_of(pd.DataFrame({"x": reference}), pd.DataFrame({"x": current}))
    assert report.feature("x").drifted is drifted
    json.loads(to_json(report), parse_constant=lambda name: pytest.fail(f"{name} in the JSON"))


def test_a_reference_without_any_testable_feature_is_the_only_unusable_column_failure():
    blank = pd.DataFrame({"a": np.full(100, np.nan), "b": [None] * 100})
    report = report_of(blank, pd.DataFrame({"a": np.ones(50), "b": ["x"] * 50}))
    assert [c["name"] for c in report.untested_columns] == ["a", "b"]
    assert report.exit_code == 5 and report.problems[0].error == "UnusableColumnError"
    assert "no feature of the reference can be tested" in report.problems[0].message
