"""Drift statistics agree with SciPy and behave as tests should."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from workloads.drift.stats import (
    Undefined,
    adjust,
    bin_shares,
    chi2_counts,
    ks_sorted,
    ks_statistic_sorted,
    levene_sorted,
    mmd_permutation_test,
    permutations_for_family,
    pool_sparse,
    psi,
    psi_edges,
    share_test,
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
    ours = ks_sorted(np.sort(a), np.sort(b))
    theirs = stats.ks_2samp(a, b)
    assert ours.statistic == theirs.statistic
    assert close(ours.p_value, theirs.pvalue), (ours.p_value, theirs.pvalue)
    assert ours.mode == ("exact" if max(case[:2]) <= 10_000 else "asymptotic")


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


def test_ks_statistic_from_binary_searches_equals_scipy_with_unequal_sizes_and_ties():
    rng = np.random.default_rng(9)
    for n1, n2, rounding in ((400_000, 30_000, 2), (30_000, 400_000, None), (100_000, 100_000, 0)):
        a, b = rng.normal(size=n1), rng.normal(0.02, 1, size=n2)
        if rounding is not None:
            a, b = np.round(a, rounding), np.round(b, rounding)
        assert ks_statistic_sorted(np.sort(a), np.sort(b)) == stats.ks_2samp(a, b, method="asymp").statistic


@pytest.mark.parametrize(("a", "b", "why"), [
    ([0.0, 1.0] * 50, [0.0, 1.0] * 30, "0/0"),          # two values split evenly on both sides
    ([0.0, 1.0] * 50, [1.0] * 60, "infinite"),          # a flag stuck at one value
    ([3.0] * 40, [3.0] * 40, "0/0"),                    # constant and equal
    ([1.0, 2.0], [], "no values"),
])
def test_levene_is_undefined_when_deviations_are_constant_in_each_sample(a, b, why):
    with pytest.raises(Undefined, match=why):
        levene_sorted(np.sort(np.array(a)), np.sort(np.array(b)))
    if a and b:
        with np.errstate(all="ignore"):  # SciPy gives nan (0/0) or inf; never a number to test
            theirs = stats.levene(a, b, center="median").statistic
        assert not np.isfinite(theirs)


def test_a_flag_stuck_at_one_value_is_found_by_ks():
    reference, current = np.sort(np.array([0.0, 1.0] * 500)), np.ones(600)
    result = ks_sorted(reference, current)
    assert result.statistic == 0.5 and result.p_value < 1e-30


def test_ks_is_undefined_without_values_on_one_side():
    with pytest.raises(Undefined):
        ks_sorted(np.array([1.0, 2.0]), np.array([]))


def test_share_test_is_fishers_exact_test():
    ours = share_test(0, 1_000, 900, 1_000)
    assert ours.statistic == 0.9 and ours.p_value == stats.fisher_exact([[0, 1_000], [900, 100]]).pvalue
    assert share_test(0, 1_000, 1, 1_000).p_value == 1.0  # one missing value in a thousand is no change


def test_sparse_categories_are_pooled_by_their_column_totals_only():
    table = np.array([[5_000.0, 3_000, 40, 30, 20], [30, 18, 1, 0, 0]])
    pooled, merged = pool_sparse(table)
    # min(n) / N = 49 / 8139: expected counts 30.3, 18.2, 0.25, 0.18, 0.12 -> the last three are
    # sparse; together (0.55) still under 5, so they join the smallest kept column (3,018).
    assert merged == 3 and pooled.shape == (2, 2)
    assert pooled[:, 0].tolist() == [3_090, 19] and pooled[:, 1].tolist() == [5_000, 30]
    swapped = np.array([[5_000.0, 3_000, 41, 29, 20], [30, 18, 0, 1, 0]])  # same totals, other split
    assert pool_sparse(swapped)[1] == merged


def test_many_rare_categories_are_grouped_into_several_cells():
    table = np.vstack([np.full(400, 10.0), np.full(400, 2.0)])  # 400 categories, expected 2 each
    pooled, merged = pool_sparse(table)
    assert merged == 400 and pooled.shape == (2, 133)  # groups of three (expected 6); the last has four
    assert pooled.sum() == table.sum() and (pooled.sum(axis=0) * 800 / 4_800 >= 5).all()


def test_chi2_without_sparse_cells_is_scipy_unchanged_and_a_single_cell_is_undefined():
    reference, current = np.array([500, 300, 200]), np.array([48, 33, 19])
    assert chi2_counts(reference, current).pooled == 0
    with pytest.raises(Undefined, match="fewer than two categories"):
        chi2_counts(np.array([1_000, 2]), np.array([10, 0]))
    with pytest.raises(Undefined, match="no values on one side"):
        chi2_counts(np.array([10, 20]), np.array([0, 0]))


def test_mmd_permutations_are_enough_for_the_family():
    assert permutations_for_family(1, 0.05, 100) == 100
    assert permutations_for_family(13, 0.05, 100) == 519  # 1/520 <= 0.05 / 13 / 2
    assert 1 / (permutations_for_family(101, 0.01, 1) + 1) <= 0.01 / 101 / 2


def test_mmd_stops_early_without_drift_and_runs_every_permutation_with_it():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(500, 3))
    quiet = mmd_permutation_test(x, rng.normal(size=(500, 3)), 2_000, np.random.default_rng(1))
    assert quiet.permutations < 500 and quiet.p_value == 20 / quiet.permutations  # Besag-Clifford h/l
    loud = mmd_permutation_test(x, rng.normal(0.5, 1, size=(500, 3)), 2_000, np.random.default_rng(1))
    assert loud.permutations == 2_000 and loud.p_value == 1 / 2_001  # (b+1)/(B+1), never 0


def test_identical_rows_are_never_an_mmd_drift():
    """Every permuted statistic ties with the observed one (0 up to float32 rounding): p = 1."""
    result = mmd_permutation_test(np.ones((3, 2)), np.ones((3, 2)), 1_000, np.random.default_rng(0))
    assert result.p_value == 1.0 and result.permutations == 20


def test_sequential_mmd_p_values_are_valid_under_no_drift():
    """P(p <= u) <= u: over seeded null replications, the share at or under 0.1 stays near 0.1."""
    rng = np.random.default_rng(12)
    p_values = [mmd_permutation_test(rng.normal(size=(60, 2)), rng.normal(size=(60, 2)), 200, rng).p_value
                for _ in range(200)]
    share = np.mean(np.array(p_values) <= 0.1)
    assert share <= 0.1 + 3 * np.sqrt(0.1 * 0.9 / 200), share
