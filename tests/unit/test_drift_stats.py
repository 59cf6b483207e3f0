"""Drift statistics agree with SciPy and behave as tests should."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workloads.drift.stats import (
    adjust,
    bin_shares,
    chi2_counts,
    ks_sorted,
    levene_sorted,
    mmd_permutation_test,
    psi,
    psi_edges,
)

RELATIVE = 1e-9
CASES = [  # n1, n2, mean shift, scale, rounding (ties)
    (500, 700, 0.3, 1.0, None),          # exact mode
    (3_000, 3_000, 0.0, 1.0, 1),         # exact mode with ties
    (10_000, 10_000, 0.05, 1.0, None),   # largest exact size
    (10_001, 12_000, 0.02, 1.0, None),   # smallest asymptotic size
    (200_000, 150_000, 0.0, 1.1, None),  # asymptotic, variance change
    (50_000, 50_000, 0.0, 1.0, 1),       # asymptotic with heavy ties
]


def samples(n1, n2, shift, scale, rounding, seed=7):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n1), rng.normal(shift, scale, size=n2)
    if rounding is not None:
        a, b = np.round(a, rounding), np.round(b, rounding)
    return a, b


def close(ours: float, theirs: float) -> bool:
    return ours == theirs or abs(ours - theirs) <= RELATIVE * abs(theirs)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}")
def test_ks_matches_scipy(case):
    a, b = samples(*case)
    ours, mode = ks_sorted(np.sort(a), np.sort(b))
    theirs = stats.ks_2samp(a, b)
    assert ours.statistic == theirs.statistic
    assert close(ours.p_value, theirs.pvalue), (ours.p_value, theirs.pvalue)
    assert mode == ("exact" if max(case[:2]) <= 10_000 else "asymptotic")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}")
def test_levene_brown_forsythe_matches_scipy(case):
    a, b = samples(*case)
    ours = levene_sorted(np.sort(a), np.sort(b))
    theirs = stats.levene(a, b, center="median")
    assert close(ours.statistic, theirs.statistic)
    assert close(ours.p_value, theirs.pvalue), (ours.p_value, theirs.pvalue)


def test_chi2_matches_scipy_contingency():
    reference, current = np.array([500, 300, 200]), np.array([480, 330, 190])
    ours = chi2_counts(reference, current)
    theirs = stats.chi2_contingency(np.vstack([reference, current]))
    assert close(ours.statistic, theirs.statistic) and close(ours.p_value, theirs.pvalue)
    assert ours.dof == 2


def test_chi2_keeps_categories_new_in_the_current_data():
    ours = chi2_counts(np.array([100, 100, 0]), np.array([90, 95, 40]))
    assert ours.dof == 2 and ours.p_value < 1e-6


def test_chi2_homogeneity_does_not_flag_undrifted_columns_at_large_n():
    """The goodness-of-fit variant treats reference shares as exact and flags these; this must not."""
    rng = np.random.default_rng(3)
    weights = rng.dirichlet(np.ones(20))
    flagged = 0
    for _ in range(8):
        reference = np.bincount(rng.choice(20, size=1_000_000, p=weights), minlength=20)
        current = np.bincount(rng.choice(20, size=1_000_000, p=weights), minlength=20)
        flagged += chi2_counts(reference, current).p_value < 0.05 / 8
    assert flagged == 0


def test_bonferroni_and_benjamini_hochberg():
    p = np.array([0.01, 0.04, 0.03, 0.005])
    assert np.allclose(adjust(p, "bonferroni"), [0.04, 0.16, 0.12, 0.02])
    # BH by hand: sorted 0.005,0.01,0.03,0.04 -> *4/rank = 0.02,0.02,0.04,0.04
    assert np.allclose(adjust(p, "fdr"), [0.02, 0.04, 0.04, 0.02])
    with pytest.raises(ValueError):
        adjust(p, "holm")


def test_psi_is_zero_for_identical_shares_and_grows_with_shift():
    rng = np.random.default_rng(0)
    reference = np.sort(rng.normal(size=100_000))
    edges = psi_edges(reference, 10)
    base = bin_shares(reference, edges)
    assert np.allclose(base, 0.1, atol=1e-3)
    same = psi(base, bin_shares(np.sort(rng.normal(size=100_000)), edges))
    moved = psi(base, bin_shares(np.sort(rng.normal(0.5, 1, size=100_000)), edges))
    assert same < 0.01 < 0.1 < moved


def test_mmd_batched_permutations_equal_the_naive_computation():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(40, 3)), rng.normal(0.5, 1, size=(30, 3))
    result = mmd_permutation_test(x, y, permutations=20, rng=np.random.default_rng(1))
    z = np.vstack([x, y])
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-d2 / (2 * result.bandwidth**2))
    s = np.concatenate([np.full(40, 1 / 40), np.full(30, -1 / 30)])
    assert result.mmd2 == pytest.approx(s @ kernel @ s, rel=1e-4)


def test_mmd_detects_a_joint_shift_and_stays_quiet_without_one():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2_000, 5))
    assert mmd_permutation_test(x, rng.normal(size=(2_000, 5)), 100, rng).p_value > 0.01
    shifted = rng.normal(size=(2_000, 5)) + 0.25
    assert mmd_permutation_test(x, shifted, 100, rng).p_value <= 0.01
