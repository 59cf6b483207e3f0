"""Calibration: false alarms at most alpha under no drift (also for sparse, two-valued and
missing-value columns); real changes are found, including a joint one only MMD sees."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workloads.churn import FEATURES, Drift, generate
from workloads.drift.engine import compare
from workloads.drift.profile import build_profile
from workloads.drift.settings import DriftSettings
from workloads.drift.stats import chi2_counts

REPLICATIONS = 200
ALPHA = 0.05


def test_false_dataset_drift_rate_is_at_most_alpha_under_no_drift():
    settings = DriftSettings(alpha=ALPHA, mmd_permutations=50, mmd_sample=500, threads=1)
    alarms = 0
    for seed in range(REPLICATIONS):
        reference = generate(1_000, seed=10_000 + seed)[list(FEATURES)]
        current = generate(1_000, seed=20_000 + seed)[list(FEATURES)]
        report = compare(build_profile(reference, settings), current, DriftSettings(**{**settings.__dict__, "seed": seed}))
        alarms += report.dataset_drift
    noise = 3 * math.sqrt(ALPHA * (1 - ALPHA) / REPLICATIONS)  # three binomial standard errors
    assert alarms / REPLICATIONS <= ALPHA + noise, f"{alarms} false alarms in {REPLICATIONS}"


def test_a_tenth_of_a_standard_deviation_shift_is_detected_at_100k_rows():
    settings = DriftSettings(alpha=ALPHA)
    reference = generate(100_000, seed=1)[list(FEATURES)]
    current = generate(100_000, seed=2, drift=Drift(numeric_shift={"monthly_charges": 0.1}))[list(FEATURES)]
    report = compare(build_profile(reference, settings), current, settings)
    assert report.dataset_drift
    assert "monthly_charges" in report.drifted_features
    assert len(report.drifted_features) == 1, report.drifted_features


def noise(replications: int) -> float:
    """Three binomial standard errors of a rejection rate of ALPHA."""
    return 3 * math.sqrt(ALPHA * (1 - ALPHA) / replications)


def zipf(categories: int, exponent: float = 1.0) -> np.ndarray:
    weights = 1 / np.arange(1, categories + 1) ** exponent
    return weights / weights.sum()


def categorical_frame(rng: np.random.Generator, shares: np.ndarray, rows: int) -> pd.DataFrame:
    labels = [f"c{i:04d}" for i in range(shares.size)]
    return pd.DataFrame({"c": pd.Categorical.from_codes(rng.choice(shares.size, rows, p=shares), categories=labels)})


def test_a_sparse_zipf_column_is_flagged_at_most_alpha_of_the_time():
    """tests/cases/drift/README.md: 200 Zipf categories, 50,000 reference and 300 current rows,
    1,000 seeded replications; Pearson's asymptotic test on the raw table flags about 10-14 %."""
    settings, shares, replications = DriftSettings(alpha=ALPHA, threads=1), zipf(200), 1_000
    rng = np.random.default_rng(2026)
    flagged = 0
    for _ in range(replications):
        reference, current = categorical_frame(rng, shares, 50_000), categorical_frame(rng, shares, 300)
        flagged += compare(build_profile(reference, settings), current, settings).feature("c").drifted
    assert flagged / replications <= ALPHA + noise(replications), f"{flagged} of {replications} flagged"


@pytest.mark.parametrize(("categories", "exponent", "reference_rows", "current_rows"), [
    (500, 1.2, 20_000, 200),   # raw Pearson: about 26 %
    (200, 2.0, 50_000, 1_000),  # raw Pearson: about 25 %
    (30, 1.5, 5_000, 40),      # raw Pearson: about 13 %
    (1_000, 1.0, 100_000, 2_000),
])
def test_other_sparse_tables_hold_alpha(categories, exponent, reference_rows, current_rows):
    shares, replications = zipf(categories, exponent), 400
    rng = np.random.default_rng(categories)
    flagged = 0
    for _ in range(replications):
        reference = np.bincount(rng.choice(categories, reference_rows, p=shares), minlength=categories)
        current = np.bincount(rng.choice(categories, current_rows, p=shares), minlength=categories)
        flagged += chi2_counts(reference, current).p_value < ALPHA
    assert flagged / replications <= ALPHA + noise(replications), f"{flagged} of {replications} flagged"


def test_a_sparse_column_still_finds_a_real_change():
    shares = zipf(200)
    moved = shares.copy()
    moved[0], moved[1] = moved[1], moved[0]  # the two most common categories swap places
    rng = np.random.default_rng(5)
    settings = DriftSettings(alpha=ALPHA, threads=1)
    found = sum(compare(build_profile(categorical_frame(rng, shares, 50_000), settings),
                        categorical_frame(rng, moved, 300), settings).feature("c").drifted for _ in range(20))
    assert found >= 18, f"found in {found} of 20"


def two_valued_and_missing(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """Two-valued columns (one split evenly, one 20/80), a three-valued count, and columns with
    missing values (10 % of a number, 5 % of a category)."""
    numbers = rng.normal(size=rows)
    numbers[rng.random(rows) < 0.10] = np.nan
    codes = rng.choice(3, rows, p=[0.5, 0.3, 0.2])
    codes[rng.random(rows) < 0.05] = -1  # missing
    return pd.DataFrame({
        "even_flag": (rng.random(rows) < 0.5).astype(float), "rare_flag": (rng.random(rows) < 0.2).astype(np.int64),
        "count": rng.choice(3, rows, p=[0.6, 0.3, 0.1]).astype(float), "with_missing": numbers,
        "label": pd.Categorical.from_codes(codes, categories=["a", "b", "c"]),
    })


def test_two_valued_and_missing_columns_hold_alpha_for_the_dataset():
    settings, replications, alarms = DriftSettings(alpha=ALPHA, threads=1), REPLICATIONS, 0
    rng = np.random.default_rng(77)
    for seed in range(replications):
        reference, current = two_valued_and_missing(rng, 2_000), two_valued_and_missing(rng, 500)
        report = compare(build_profile(reference, settings), current, DriftSettings(**{**settings.__dict__, "seed": seed}))
        # KS + Levene x 4, missing share x 2, chi2, MMD; Levene is undefined when a flag splits exactly evenly.
        assert 11 <= report.family_size <= 12
        alarms += report.dataset_drift
    assert alarms / replications <= ALPHA + noise(replications), f"{alarms} false alarms in {replications}"


def test_mmd_finds_a_changed_correlation_that_no_single_feature_shows_under_the_default_settings():
    rng = np.random.default_rng(31)
    reference = pd.DataFrame(rng.normal(size=(20_000, 5)), columns=[f"x{i}" for i in range(5)])
    values = rng.normal(size=(5_000, 5))
    values[:, 1] = 0.6 * values[:, 0] + 0.8 * values[:, 1]  # corr(x0, x1) 0 -> 0.6, both still N(0, 1)
    current = pd.DataFrame(values, columns=reference.columns)
    settings = DriftSettings()
    report = compare(build_profile(reference, settings), current, settings)
    assert report.multivariate.drifted and report.dataset_drift
    assert report.drifted_features == [], "no single feature changed"
    assert report.multivariate.p_adjusted < ALPHA


def test_mmd_fires_on_the_drifted_demo_day_under_the_default_settings():
    """The day `tools.drift_demo` drifts (monthly charges +0.5 SD, 4,000 rows): MMD agrees."""
    settings = DriftSettings()
    reference = generate(5_000, seed=100)[list(FEATURES)]
    current = generate(4_000, seed=201, drift=Drift(numeric_shift={"monthly_charges": 0.5}))[list(FEATURES)]
    report = compare(build_profile(reference, settings), current, settings)
    assert report.multivariate.drifted, report.multivariate


def test_a_mostly_empty_column_of_unique_ids_holds_alpha():
    """A real trace log's `parent_span_id`: 70 % empty, the rest IDs seen once; every day's IDs
    are new. Sparse categories are grouped in a hash order of their labels, so a group mixes
    reference-only and current-only IDs as chance does, not by which sample holds them."""
    settings, replications, flagged = DriftSettings(alpha=ALPHA, threads=1), 300, 0
    rng = np.random.default_rng(8)

    def ids(rows: int, day: int) -> pd.DataFrame:
        values = np.where(rng.random(rows) < 0.7, "", [f"{day:03d}-{rng.integers(1 << 60):016x}" for _ in range(rows)])
        return pd.DataFrame({"parent_span_id": values})

    for day in range(replications):
        report = compare(build_profile(ids(5_000, 0), settings), ids(1_000, day + 1), settings)
        assert report.excluded_columns == []  # not an identifier by the 50 % rule: tested
        flagged += report.feature("parent_span_id").drifted
    assert flagged / replications <= ALPHA + noise(replications), f"{flagged} of {replications} flagged"
