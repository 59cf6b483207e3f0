"""Calibration: false dataset alarms at most alpha under no drift; a small real shift is found."""

from __future__ import annotations

import math

from workloads.churn import FEATURES, Drift, generate
from workloads.drift.engine import compare
from workloads.drift.profile import build_profile
from workloads.drift.settings import DriftSettings

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
