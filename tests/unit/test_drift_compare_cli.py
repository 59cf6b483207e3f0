"""`python -m workloads.drift compare`: reports, and bad input with distinct exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workloads.churn import FEATURES, Drift, generate
from workloads.drift.__main__ import main


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("drift")
    generate(5_000, seed=1)[list(FEATURES)].to_parquet(root / "reference.parquet")
    generate(5_000, seed=2)[list(FEATURES)].to_parquet(root / "same.parquet")
    drifted = generate(5_000, seed=3, drift=Drift(numeric_shift={"usage_gb": 0.5},
                                                   category_weights={"region": [0.1, 0.1, 0.1, 0.1, 0.6]}))
    drifted[list(FEATURES)].to_parquet(root / "drifted.parquet")
    return root


def run(files: Path, current: str, *extra: str) -> tuple[int, Path]:
    out = files / f"{current}-{len(extra)}.json"
    code = main(["compare", "--reference", str(files / "reference.parquet"), "--current", str(files / current),
                 "--json", str(out), "--html", str(out.with_suffix(".html")), *extra])
    return code, out


def test_drifted_file_gives_a_report_naming_the_drifted_features(files, capsys):
    code, out = run(files, "drifted.parquet")
    assert code == 0
    report = json.loads(out.read_text())
    assert report["dataset_drift"] is True
    assert set(report["drifted_features"]) == {"usage_gb", "region"}
    assert {f["name"] for f in report["features"][:2]} == {"usage_gb", "region"}  # drifted first
    by_name = {f["name"]: f for f in report["features"]}
    assert {t["test"] for t in by_name["usage_gb"]["tests"]} == {"ks", "levene", "missing_share", "nonfinite_share"}
    assert [t["test"] for t in by_name["region"]["tests"]] == ["chi2", "missing_share"]
    assert by_name["usage_gb"]["change"]["mean_shift_sd"] == pytest.approx(0.5, abs=0.05)
    top = by_name["region"]["change"]["share_change_pp"][0]
    assert top["category"] == "central" and top["change_pp"] == pytest.approx(45, abs=3)
    assert "DATASET DRIFT: 2 of 9 features drifted (usage_gb, region)" in capsys.readouterr().out


def test_undrifted_file_reports_no_drift(files):
    code, out = run(files, "same.parquet", "--correction", "fdr")
    report = json.loads(out.read_text())
    assert code == 0 and report["dataset_drift"] is False and report["settings"]["correction"] == "fdr"


def test_html_report_is_self_contained(files):
    _, out = run(files, "drifted.parquet")
    page = out.with_suffix(".html").read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page
    assert page.count("<svg") == len(FEATURES)
    assert "DATASET DRIFT" in page


def test_unseen_categories_are_reported(files):
    frame = generate(2_000, seed=4)[list(FEATURES)]
    frame["region"] = frame["region"].cat.add_categories(["antarctica"])
    frame.loc[:99, "region"] = "antarctica"
    frame.to_parquet(files / "unseen.parquet")
    code, out = run(files, "unseen.parquet")
    region = next(f for f in json.loads(out.read_text())["features"] if f["name"] == "region")
    assert code == 0 and region["unseen_categories"] == ["antarctica"] and region["drifted"]


def test_no_rows_exits_3_and_writes_nothing(files, capsys):
    generate(500, seed=5)[list(FEATURES)].iloc[:0].to_parquet(files / "empty.parquet")
    code, out = run(files, "empty.parquet")
    assert code == 3 and "the current data has no rows" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".html").exists()


def test_schema_mismatch_exits_4_after_writing_the_report_of_the_other_columns(files, capsys):
    frame = generate(500, seed=5)[list(FEATURES)].drop(columns=["usage_gb"]).assign(region=1.5)
    frame.to_parquet(files / "schema.parquet")
    code, out = run(files, "schema.parquet")
    assert code == 4
    assert ("missing columns: usage_gb; columns of another kind: region (reference categorical, current numeric double)"
            in capsys.readouterr().err)
    report = json.loads(out.read_text())
    assert report["exit_code"] == 4 and report["problems"][0]["error"] == "SchemaMismatchError"
    statuses = {f["name"]: f["status"] for f in report["features"]}
    assert statuses["usage_gb"] == statuses["region"] == "not tested"
    assert all(statuses[c] == "tested" for c in FEATURES if c not in ("usage_gb", "region"))
    # The joint test would read an imputed column as drift: not applicable, with the reason.
    assert report["multivariate"]["applicable"] is False and "usage_gb" in report["multivariate"]["reason"]
    assert report["dataset_drift"] is False


def test_a_column_missing_every_value_in_the_current_data_is_drifted(files, capsys):
    generate(500, seed=5)[list(FEATURES)].assign(monthly_charges=np.nan).to_parquet(files / "all-nan.parquet")
    code, out = run(files, "all-nan.parquet")
    assert code == 0
    charges = next(f for f in json.loads(out.read_text())["features"] if f["name"] == "monthly_charges")
    assert charges["drifted_by"] == ["missing_share"] and charges["missing_share_current"] == 1.0
    ks = next(t for t in charges["tests"] if t["test"] == "ks")
    assert ks["applicable"] is False and ks["reason"] == "no values on one side"


def test_constant_reference_column_is_tested_and_a_change_is_found(files):
    constant = generate(500, seed=6)[list(FEATURES)].assign(support_calls=2.0)
    constant.to_parquet(files / "constant-ref.parquet")
    out = files / "constant.json"
    code = main(["compare", "--reference", str(files / "constant-ref.parquet"), "--current", str(files / "same.parquet"),
                 "--json", str(out)])
    calls = next(f for f in json.loads(out.read_text())["features"] if f["name"] == "support_calls")
    assert code == 0 and calls["drifted"] and "ks" in calls["drifted_by"]
    assert calls["change"]["mean_shift_sd"] is None  # no spread in the reference to measure the shift in


def test_fail_on_drift_exits_10_on_dataset_drift_only(files):
    assert run(files, "drifted.parquet", "--fail-on-drift")[0] == 10
    assert run(files, "same.parquet", "--fail-on-drift")[0] == 0


def test_an_unreadable_file_among_several_is_named_and_the_rest_is_reported(files, capsys):
    partition = files / "partition"
    partition.mkdir()
    generate(2_000, seed=7)[list(FEATURES)].to_parquet(partition / "part-0.parquet")
    (partition / "part-1.parquet").write_bytes(b"PAR1 truncated")
    out = files / "partition.json"
    code = main(["compare", "--reference", str(files / "reference.parquet"), "--current", str(partition), "--json", str(out)])
    assert code == 6
    assert f"{partition / 'part-1.parquet'}: not a readable parquet file" in capsys.readouterr().err
    report = json.loads(out.read_text())
    assert report["rows_current"] == 2_000 and report["dataset_drift"] is False


def test_unreadable_file_is_named(files, capsys):
    (files / "broken.parquet").write_bytes(b"PAR1 truncated")
    code, _ = run(files, "broken.parquet")
    assert code == 6
    assert f"{files / 'broken.parquet'}: not a readable parquet file" in capsys.readouterr().err


def test_missing_file_is_named(files, capsys):
    code, _ = run(files, "nowhere.parquet")
    assert code == 6 and "nowhere.parquet: No such file or directory" in capsys.readouterr().err


def test_profile_survives_a_round_trip_through_bytes(files):
    from workloads.drift.profile import ReferenceProfile, build_profile
    from workloads.drift.settings import DriftSettings

    profile = build_profile(pd.read_parquet(files / "reference.parquet"), DriftSettings())
    again = ReferenceProfile.from_bytes(profile.to_bytes())
    assert list(again.numeric) == list(profile.numeric) and list(again.categorical) == list(profile.categorical)
    assert np.array_equal(again.numeric["usage_gb"].sorted_values, profile.numeric["usage_gb"].sorted_values)
    assert np.array_equal(again.mmd_sample, profile.mmd_sample)
