"""The drift cases from public bug reports (tests/cases/drift/README.md), each with its documented answer.

Every case goes through `python -m workloads.drift compare`, as a user would run it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workloads.drift.__main__ import main

CASES = Path(__file__).resolve().parents[1] / "cases" / "drift"


def _refuse_constant(name: str):
    raise AssertionError(f"{name} in the JSON report")


def compare_case(case: str, tmp_path: Path) -> tuple[int, dict, str]:
    out = tmp_path / f"{case}.json"
    code = main(["compare", "--reference", str(CASES / case / "ref.parquet"), "--current", str(CASES / case / "cur.parquet"),
                 "--json", str(out), "--html", str(out.with_suffix(".html"))])
    # RFC 8259 JSON: Python's parser would accept NaN and Infinity, so refuse them explicitly.
    report = json.loads(out.read_text(), parse_constant=_refuse_constant)
    return code, report, out.with_suffix(".html").read_text()


def feature(report: dict, name: str) -> dict:
    return next(f for f in report["features"] if f["name"] == name)


def test_every_case_in_the_readme_has_its_files():
    cases = {p.name for p in CASES.iterdir() if p.is_dir()}
    assert cases == {"inf", "levene_binary", "missing_share", "missing_share_cat"}
    readme = (CASES / "README.md").read_text()
    assert all(f"`{case}/`" in readme for case in cases)


def test_inf_is_counted_apart_and_never_reaches_a_test_or_the_json(tmp_path):
    code, report, page = compare_case("inf", tmp_path)
    assert code == 0
    b = feature(report, "B")
    assert (b["nonfinite_reference"], b["nonfinite_current"], b["missing_current"]) == (0, 1, 0)
    assert b["nonfinite_share_current"] == pytest.approx(1 / 1000)
    cur = pd.read_parquet(CASES / "inf" / "cur.parquet")["B"].to_numpy()
    ref = pd.read_parquet(CASES / "inf" / "ref.parquet")["B"].to_numpy()
    ks = next(t for t in b["tests"] if t["test"] == "ks")
    expected = stats.ks_2samp(ref, cur[np.isfinite(cur)])  # the 999 finite values only
    assert ks["statistic"] == expected.statistic and ks["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    nonfinite = next(t for t in b["tests"] if t["test"] == "nonfinite_share")
    assert nonfinite["applicable"] and not nonfinite["drifted"]
    assert not b["drifted"] and report["dataset_drift"] is False
    # The row number `id` (0..999 on both sides) is an identifier: left out, with the reason.
    assert [c["name"] for c in report["excluded_columns"]] == ["id"]
    assert "identifier" in report["excluded_columns"][0]["reason"]
    assert "0.0% → 0.1%" in page  # the non-finite share, in the HTML too


def test_a_two_valued_column_split_evenly_is_not_drifted_and_levene_is_not_applicable(tmp_path):
    code, report, page = compare_case("levene_binary", tmp_path)
    assert code == 0 and report["dataset_drift"] is False
    y = feature(report, "y")
    tests = {t["test"]: t for t in y["tests"]}
    assert tests["ks"]["p_value"] == 1.0 and not y["drifted"]
    levene = tests["levene"]
    assert levene["applicable"] is False and levene["statistic"] is None and levene["p_value"] is None
    assert "0/0" in levene["reason"]
    assert "Levene: not applicable" in page


def test_a_numeric_column_going_from_no_to_90_percent_missing_is_drifted_for_its_missing_share(tmp_path):
    code, report, page = compare_case("missing_share", tmp_path)
    assert code == 0 and report["dataset_drift"] is True
    x = feature(report, "x")
    assert x["drifted"] and "missing_share" in x["drifted_by"]
    assert (x["missing_share_reference"], x["missing_share_current"]) == (0.0, 0.9)
    tests = {t["test"]: t for t in x["tests"]}
    assert tests["missing_share"]["p_adjusted"] < 0.05 and tests["missing_share"]["mode"] == "fisher exact"
    assert not tests["ks"]["drifted"]  # the values that remain come from the same distribution
    assert "missing share" in page and "0.0% → 90.0%" in page


def test_a_categorical_column_going_to_90_percent_missing_is_drifted_and_the_other_is_not(tmp_path):
    code, report, _ = compare_case("missing_share_cat", tmp_path)
    assert code == 0
    contract, x = feature(report, "contract"), feature(report, "x")
    assert contract["drifted"] and contract["drifted_by"] == ["missing_share"]
    assert contract["missing_share_current"] == 0.9
    assert not x["drifted"]
    assert report["drifted_features"] == ["contract"]
    assert report["features"][0]["name"] == "contract"  # drifted features first
