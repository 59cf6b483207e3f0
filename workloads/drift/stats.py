"""Two-sample drift statistics on pre-sorted columns, agreeing with SciPy.

Sorting dominates the cost of these tests, so every function takes columns already sorted (the
reference once per model version, the current data once per run) and reuses them: KS walks the
two sorted arrays, the Levene median is the middle element, PSI bin counts are binary searches.

| test | SciPy reference | how it agrees |
|---|---|---|
| KS | `ks_2samp(method="auto")` | samples of at most 10,000 each: SciPy's exact distribution (delegated, as SciPy's "auto" does); larger: the same D from the same integer counts, p from `kstwo.sf(D, round(n1*n2/(n1+n2)))`, SciPy's asymptotic branch |
| Levene | `levene(center="median")` (Brown-Forsythe) | same statistic, p from `f.sf` |
| chi-squared | `chi2_contingency` on the 2 x K table | delegated on the (small) table after counting with bincount |
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

EXACT_KS_MAX_N = 10_000  # SciPy's MAX_AUTO_N: "auto" is exact up to this size
PSI_EPSILON = 1e-4  # floor for empty bins so log ratios stay finite


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float


def ks_sorted(a: np.ndarray, b: np.ndarray) -> tuple[TestResult, str]:
    """Two-sided two-sample KS on sorted, NaN-free arrays; returns (result, mode used)."""
    n1, n2 = a.size, b.size
    if max(n1, n2) <= EXACT_KS_MAX_N:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            result = stats.ks_2samp(a, b, method="auto")
        # With many ties SciPy's exact computation may give up and fall back to asymptotic.
        mode = "asymptotic" if any("Switching to method=asymp" in str(w.message) for w in caught) else "exact"
        return TestResult(float(result.statistic), float(result.pvalue)), mode
    # F1 - F2 rises only at points of `a` and falls only at points of `b`, so its maximum is
    # attained at a's points and its minimum at b's. At a's i-th point F1 >= (i+1)/n1, with
    # equality at the last of a run of ties, and members inside a run only give smaller values,
    # so max((i+1)/n1 - F2) is the maximum SciPy finds; likewise for b. The counts come from one
    # stable merge of the two sorted runs (timsort merges them in linear time): a value of `a`
    # has before it every smaller `b`, a value of `b` every `a` not greater than it.
    order = np.argsort(np.concatenate((a, b)), kind="stable")
    from_a = order < n1
    b_below_a = np.flatnonzero(from_a) - np.arange(n1)  # count of b < a_i
    a_up_to_b = np.flatnonzero(~from_a) - np.arange(n2)  # count of a <= b_j
    # F2 at a_i counts b <= a_i: equal values of b sit after a_i in the merge, so add them.
    inside = b_below_a < n2
    ties_across = bool(np.any(b[b_below_a[inside]] == a[inside]))
    b_at_a_right = np.searchsorted(b, a, side="right") if ties_across else b_below_a
    above = np.arange(1, n1 + 1) / n1 - b_at_a_right / n2
    below = a_up_to_b / n1 - np.arange(1, n2 + 1) / n2
    max_s = float(above.max())
    min_s = float(np.clip(-below.min(), 0, 1))
    d = min_s if min_s > max_s else max_s
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return TestResult(d, p), "asymptotic"


def median_sorted(x: np.ndarray) -> float:
    n = x.size
    middle = n // 2
    return float(x[middle]) if n % 2 else float((x[middle - 1] + x[middle]) / 2.0)


def levene_sorted(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Brown-Forsythe (median-centred Levene) test for a change of spread; SciPy's formula."""
    groups = (a, b)
    sizes = np.array([g.size for g in groups], dtype=float)
    total, k = sizes.sum(), len(groups)
    deviations = [np.abs(g - median_sorted(g)) for g in groups]
    group_means = np.array([d.mean() for d in deviations])
    grand_mean = np.sum(group_means * sizes) / total
    numerator = (total - k) * np.sum(sizes * (group_means - grand_mean) ** 2)
    within = sum(np.sum((d - m) ** 2) for d, m in zip(deviations, group_means, strict=True))
    denominator = (k - 1) * within
    w = numerator / denominator
    return TestResult(float(w), float(stats.f.sf(w, k - 1, total - k)))


def psi_edges(reference_sorted: np.ndarray, bins: int) -> np.ndarray:
    """Inner edges of `bins` quantile bins of the reference (duplicates from ties removed)."""
    n = reference_sorted.size
    positions = (np.arange(1, bins) * n) // bins
    return np.unique(reference_sorted[positions])


def bin_shares(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of values in (-inf, e1], (e1, e2], ..., (e_last, inf)."""
    cumulative = np.searchsorted(sorted_values, edges, side="right")
    counts = np.diff(np.concatenate(([0], cumulative, [sorted_values.size])))
    return counts / sorted_values.size


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    """Population Stability Index; empty bins are floored at PSI_EPSILON."""
    r = np.maximum(reference_shares, PSI_EPSILON)
    c = np.maximum(current_shares, PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


@dataclass(frozen=True)
class ChiSquaredResult:
    statistic: float
    p_value: float
    dof: int


def chi2_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> ChiSquaredResult:
    """Pearson chi-squared test of homogeneity on the 2 x K reference-vs-current table.

    A homogeneity test, not goodness of fit: the reference frequencies are estimates too, so
    large reference samples do not make undrifted columns look drifted. Categories absent from
    both samples are dropped; categories new in the current data count with reference 0.
    """
    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return ChiSquaredResult(0.0, 1.0, 0)
    result = stats.chi2_contingency(table)
    return ChiSquaredResult(float(result.statistic), float(result.pvalue), int(result.dof))


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Family-wise adjusted p-values: `bonferroni` (FWER) or `fdr` (Benjamini-Hochberg)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    if method == "fdr":
        order = np.argsort(p)
        scaled = p[order] * m / np.arange(1, m + 1)
        monotone = np.minimum.accumulate(scaled[::-1])[::-1]
        adjusted = np.empty(m)
        adjusted[order] = np.minimum(monotone, 1.0)
        return adjusted
    raise ValueError(f"unknown correction {method!r}: use bonferroni or fdr")


@dataclass(frozen=True)
class MmdResult:
    mmd2: float
    p_value: float
    bandwidth: float
    permutations: int


def mmd_permutation_test(x: np.ndarray, y: np.ndarray, permutations: int, rng: np.random.Generator) -> MmdResult:
    """Maximum Mean Discrepancy with an RBF kernel (median heuristic) and a permutation p-value.

    The biased statistic is s^T K s with s = +1/n for x and -1/m for y. All permutations are
    scored at once: S holds the observed and permuted label vectors as columns, and
    diag(S^T K S) comes from a single matrix product K @ S, not a loop re-indexing K.
    """
    z = np.vstack([x, y]).astype(np.float32)
    n, total = x.shape[0], z.shape[0]
    squared_norms = np.einsum("ij,ij->i", z, z)
    kernel = z @ z.T
    kernel *= -2.0
    kernel += squared_norms[:, None]
    kernel += squared_norms[None, :]
    np.maximum(kernel, 0.0, out=kernel)
    sample = rng.choice(total, size=min(total, 1000), replace=False)
    pairwise = kernel[np.ix_(sample, sample)][np.triu_indices(sample.size, k=1)]
    bandwidth_sq = float(np.median(pairwise)) or 1.0
    kernel *= np.float32(-1.0 / (2.0 * bandwidth_sq))
    np.exp(kernel, out=kernel)

    labels = np.concatenate([np.full(n, 1.0 / n), np.full(total - n, -1.0 / (total - n))]).astype(np.float32)
    columns = np.empty((total, permutations + 1), dtype=np.float32)
    columns[:, 0] = labels
    for i in range(1, permutations + 1):
        columns[:, i] = labels[rng.permutation(total)]
    scores = np.einsum("ij,ij->j", columns, kernel @ columns, dtype=np.float64)
    observed = scores[0]
    p_value = (1 + int(np.sum(scores[1:] >= observed))) / (1 + permutations)
    return MmdResult(float(observed), p_value, math.sqrt(bandwidth_sq), permutations)
