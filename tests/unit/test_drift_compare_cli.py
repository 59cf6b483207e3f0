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
    by_name = {f["name"]: f for f in report["features"]}
    assert {t["test"] for t in by_name["usage_gb"]["tests"]} == {"ks", "levene"}
    assert by_name["region"]["tests"][0]["test"] == "chi2"
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


@pytest.mark.parametrize(
    ("name", "make", "code", "message"),
    [
        ("empty", lambda f: f.iloc[:0], 3, "the current data has no rows"),
        ("schema", lambda f: f.drop(columns=["usage_gb"]).assign(region=1.5), 4,
         "missing columns: usage_gb; columns of another kind: region (reference categorical, current numeric float64)"),
        ("all-nan", lambda f: f.assign(monthly_charges=np.nan), 5, "column 'monthly_charges': every value is missing in the current data"),
    ],
)
def test_bad_current_data_exits_with_its_code_and_writes_nothing(files, capsys, name, make, code, message):
    make(generate(500, seed=5)[list(FEATURES)]).to_parquet(files / f"{name}.parquet")
    exit_code, out = run(files, f"{name}.parquet")
    assert exit_code == code
    assert message in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".html").exists()


def test_constant_reference_column_is_refused(files, capsys):
    generate(500, seed=6)[list(FEATURES)].assign(support_calls=2.0).to_parquet(files / "constant-ref.parquet")
    code = main(["compare", "--reference", str(files / "constant-ref.parquet"), "--current", str(files / "same.parquet"),
                 "--json", str(files / "never.json")])
    assert code == 5
    assert "column 'support_calls': constant in the reference (2.0)" in capsys.readouterr().err


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
