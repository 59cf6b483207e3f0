"""Two-sample drift statistics on pre-sorted columns, agreeing with SciPy where SciPy applies.

Sorting dominates the cost of these tests, so every function takes columns already sorted (the
reference once per model version, the current data once per run) and reuses them: KS walks the
two sorted arrays, the Levene median is the middle element, PSI bin counts are binary searches.

| test | reference | how it agrees |
|---|---|---|
| KS | `scipy.stats.ks_2samp(method="auto")` | samples of at most 10,000 each: SciPy's exact distribution (delegated, as SciPy's "auto" does); larger: the same D from the same integer counts, p from `kstwo.sf(D, round(n1*n2/(n1+n2)))`, SciPy's asymptotic branch |
| Levene | `scipy.stats.levene(center="median")` (Brown & Forsythe 1974) | same statistic, p from `f.sf` |
| chi-squared | `scipy.stats.chi2_contingency` on the 2 x K table | delegated on the (small) table; categories whose expected count would be under 5 are pooled first (Cochran 1954) |
| share of missing / non-finite values | `scipy.stats.fisher_exact` on the 2 x 2 table | delegated |
| MMD | Gretton et al. 2012, permutation p-value | Besag & Clifford 1991 sequential stopping; (b+1)/(m+1) otherwise (Phipson & Smyth 2010) |

A test whose statistic or p-value is undefined for the data (no values on one side, Levene's
0/0 when the absolute deviations are constant in both samples) raises `Undefined` with the
reason; the engine reports it as not applicable and leaves it out of the family.
"""

from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import stats

EXACT_KS_MAX_N = 10_000  # SciPy's MAX_AUTO_N: "auto" is exact up to this size
PSI_EPSILON = 1e-4  # floor for empty bins so log ratios stay finite
MIN_EXPECTED = 5.0  # Cochran's rule for chi-squared tests: every expected count at least 5
MMD_STOP_AFTER = 20  # Besag-Clifford: stop permuting once this many permutations beat the observed
MMD_BATCH = 100  # permutations scored per matrix product


class Undefined(ValueError):
    """The test has no defined statistic or p-value for these data; the message says why."""


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float
    mode: str = ""


def ks_sorted(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Two-sided two-sample KS on sorted, finite arrays (the mode says exact or asymptotic)."""
    n1, n2 = a.size, b.size
    if n1 == 0 or n2 == 0:
        raise Undefined("no values on one side")
    if max(n1, n2) <= EXACT_KS_MAX_N:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            result = stats.ks_2samp(a, b, method="auto")
        # With many ties SciPy's exact computation may give up and fall back to asymptotic.
        mode = "asymptotic" if any("Switching to method=asymp" in str(w.message) for w in caught) else "exact"
        return TestResult(float(result.statistic), float(result.pvalue), mode)
    d = ks_statistic_sorted(a, b)
    m, n = sorted([float(n1), float(n2)], reverse=True)
    p = float(np.clip(stats.kstwo.sf(d, np.round(m * n / (m + n))), 0, 1))
    return TestResult(d, p, "asymptotic")


def ks_statistic_sorted(a: np.ndarray, b: np.ndarray) -> float:
    """sup |F_a - F_b| from binary searches of the smaller sorted sample in the larger one.

    Both empirical CDFs are right-continuous step functions. F_s - F_l rises only at points of
    the smaller sample s, so its maximum is at some s_i, where F_s = (i+1)/n_s at the last of a
    run of ties and F_l counts l <= s_i. F_l - F_s rises only between points of s, so its maximum
    is approached just before some s_i: F_l counts l < s_i and F_s = i/n_s at the first of a run
    of ties. Members inside a run of ties give smaller values, so taking every i is safe. These
    are the same integer counts SciPy divides (cdf1 - cdf2 over the pooled points), hence the
    same D, in O(n_s log n_l) time and O(n_s) memory.
    """
    small, large = (a, b) if a.size <= b.size else (b, a)
    ns, nl = small.size, large.size
    i = np.arange(ns, dtype=np.float64)
    right = np.searchsorted(large, small, side="right")
    # `left` differs from `right` only where a value of `small` also occurs in `large`.
    tied = right > 0
    tied[tied] = large[right[tied] - 1] == small[tied]
    left = right
    if tied.any():
        left = right.copy()
        left[tied] = np.searchsorted(large, small[tied], side="left")
    above = (i + 1) / ns - right / nl
    below = left / nl - i / ns
    return max(float(above.max()), float(np.clip(below.max(), 0, 1)))


def median_sorted(x: np.ndarray) -> float:
    n = x.size
    middle = n // 2
    return float(x[middle]) if n % 2 else float((x[middle - 1] + x[middle]) / 2.0)


def _deviation_moments(x: np.ndarray) -> tuple[float, float]:
    """Mean of |x - median| and the sum of squares about that mean (one temporary array)."""
    deviations = x - median_sorted(x)
    np.abs(deviations, out=deviations)
    mean = float(deviations.mean())
    deviations -= mean
    np.square(deviations, out=deviations)
    return mean, float(deviations.sum())


def levene_sorted(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Brown-Forsythe (median-centred Levene) test for a change of spread; SciPy's formula.

    W = (N - k) sum n_i (Z_i - Z)^2 / ((k - 1) sum (Z_ij - Z_i)^2) with Z_ij = |x_ij - median_i|
    (scipy.stats.levene, center="median"). The denominator is 0 when the deviations are constant
    within each sample (a two-valued column split evenly, a constant column): W is then 0/0 or
    infinite and the F distribution says nothing, so the test is undefined.
    """
    sizes = np.array([a.size, b.size], dtype=float)
    if sizes.min() == 0:
        raise Undefined("no values on one side")
    total, k = sizes.sum(), 2
    if total - k <= 0:
        raise Undefined("fewer than three values in all")
    (mean_a, within_a), (mean_b, within_b) = _deviation_moments(a), _deviation_moments(b)
    group_means = np.array([mean_a, mean_b])
    grand_mean = np.sum(group_means * sizes) / total
    numerator = (total - k) * np.sum(sizes * (group_means - grand_mean) ** 2)
    denominator = (k - 1) * (within_a + within_b)
    if denominator == 0:
        raise Undefined("the absolute deviations from the median are constant within each sample "
                        f"(Levene's W is {'0/0' if numerator == 0 else 'infinite'}); KS compares the values")
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
    return counts / max(sorted_values.size, 1)


def psi(reference_shares: np.ndarray, current_shares: np.ndarray) -> float:
    """Population Stability Index; empty bins are floored at PSI_EPSILON."""
    r = np.maximum(reference_shares, PSI_EPSILON)
    c = np.maximum(current_shares, PSI_EPSILON)
    return float(np.sum((c - r) * np.log(c / r)))


def share_test(reference_hits: int, reference_rows: int, current_hits: int, current_rows: int) -> TestResult:
    """Did the share of rows with some property (missing, non-finite) change?

    Fisher's exact test on the 2 x 2 table [hits, others] x [reference, current], two-sided
    (scipy.stats.fisher_exact): exact at any count, so a single missing value among thousands is
    judged correctly. The statistic reported is the change of share (current - reference).
    """
    if reference_rows == 0 or current_rows == 0:
        raise Undefined("no rows on one side")
    table = [[reference_hits, reference_rows - reference_hits], [current_hits, current_rows - current_hits]]
    p = float(stats.fisher_exact(table).pvalue)
    return TestResult(current_hits / current_rows - reference_hits / reference_rows, min(p, 1.0), "fisher exact")


def label_keys(labels: list[str]) -> np.ndarray:
    """A fixed pseudo-random order of category labels (CRC-32), unrelated to which sample holds them."""
    return np.array([zlib.crc32(label.encode("utf-8", "surrogatepass")) for label in labels], dtype=np.int64)


@dataclass(frozen=True)
class ChiSquaredResult:
    statistic: float
    p_value: float
    dof: int
    pooled: int = 0  # categories merged into the pooled cell

    @property
    def mode(self) -> str:
        return f"dof={self.dof}" + (f", {self.pooled} sparse categories pooled" if self.pooled else "")


def pool_sparse(table: np.ndarray, keys: np.ndarray | None = None, min_expected: float = MIN_EXPECTED) -> tuple[np.ndarray, int]:
    """Merge the columns of a 2 x K table whose expected counts fall under `min_expected`.

    Pearson's statistic is chi-squared distributed only when expected counts are not small:
    Cochran's rule (Cochran 1954, "Some methods for strengthening the common chi-squared tests",
    Biometrics 10: 417-451; the guideline quoted in scipy.stats.chi2_contingency's notes) asks
    for at least 5 in every cell. Under homogeneity the smallest expected count of column j is
    total_j * min(n_ref, n_cur) / N. Columns under `min_expected` ("sparse") are taken from the
    smallest total up, ties in the order of `keys` (a hash of each category's label), and summed
    into groups, a group closing once its expected count reaches the threshold; a last group that
    does not is added to the group before it (or, when there is none, to the smallest column
    kept). The grouping depends only on the column totals, the labels and the two sample sizes,
    never on how a category splits between the samples (so not on the column order either, which
    lists the reference's categories first), and the test remains a test of homogeneity given the
    margins; many rare categories still give many cells. Returns (table, sparse columns merged).
    """
    totals, rows = table.sum(axis=0), table.sum(axis=1)
    factor = rows.min() / rows.sum()
    sparse = totals * factor < min_expected
    if not sparse.any():
        return table, 0
    keys = np.zeros(totals.size) if keys is None else np.asarray(keys)
    kept = table[:, ~sparse][:, np.argsort(totals[~sparse], kind="stable")]
    groups: list[np.ndarray] = []
    group = np.zeros(2)
    for column in table[:, sparse][:, np.lexsort((keys[sparse], totals[sparse]))].T:
        group = group + column
        if group.sum() * factor >= min_expected:
            groups.append(group)
            group = np.zeros(2)
    if group.sum() > 0:  # the rest, still under the threshold
        if groups:
            groups[-1] = groups[-1] + group
        elif kept.shape[1]:
            kept = np.column_stack([kept[:, 0] + group, kept[:, 1:]])
        else:
            groups.append(group)
    return np.column_stack([kept, *groups]) if groups else kept, int(sparse.sum())


def chi2_counts(reference_counts: np.ndarray, current_counts: np.ndarray, keys: np.ndarray | None = None) -> ChiSquaredResult:
    """Pearson chi-squared test of homogeneity on the 2 x K reference-vs-current table.

    A homogeneity test, not goodness of fit: the reference frequencies are estimates too, so
    large reference samples do not make undrifted columns look drifted. Categories absent from
    both samples are dropped; categories new in the current data count with reference 0; sparse
    categories are pooled (`pool_sparse`, ordered by `keys`: see `label_keys`). Without pooling
    this is chi2_contingency on the table.
    """
    table = np.vstack([reference_counts, current_counts]).astype(float)
    seen = table.sum(axis=0) > 0
    table = table[:, seen]
    if table.sum(axis=1).min() == 0:
        raise Undefined("no values on one side")
    table, pooled = pool_sparse(table, None if keys is None else np.asarray(keys)[seen])
    if table.shape[1] < 2:
        raise Undefined(f"fewer than two categories with an expected count of at least {MIN_EXPECTED:g} "
                        "(all values in one category, or too few rows)")
    result = stats.chi2_contingency(table)
    return ChiSquaredResult(float(result.statistic), float(result.pvalue), int(result.dof), pooled)


def adjust(p_values: np.ndarray, method: str) -> np.ndarray:
    """Family-wise adjusted p-values: `bonferroni` (FWER) or `fdr` (Benjamini-Hochberg 1995)."""
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


def permutations_for_family(family_size: int, alpha: float, minimum: int) -> int:
    """Enough permutations that the smallest permutation p-value, 1/(B+1), is at most half of
    the Bonferroni threshold alpha/m: with fewer, the test could never reject in the family."""
    return max(minimum, math.ceil(2 * family_size / alpha) - 1)


@dataclass(frozen=True)
class MmdResult:
    mmd2: float
    p_value: float
    bandwidth: float
    permutations: int  # run
    permutations_max: int

    @property
    def statistic(self) -> float:
        return self.mmd2

    @property
    def mode(self) -> str:
        stopped = "" if self.permutations == self.permutations_max else f" (stopped early of {self.permutations_max})"
        return f"rbf bandwidth={self.bandwidth:.4g}, {self.permutations} permutations{stopped}"


def rbf_kernel(z: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """Gaussian kernel matrix (float32, in place) with the median-heuristic bandwidth."""
    squared_norms = np.einsum("ij,ij->i", z, z)
    kernel = z @ z.T
    kernel *= -2.0
    kernel += squared_norms[:, None]
    kernel += squared_norms[None, :]
    np.maximum(kernel, 0.0, out=kernel)
    sample = rng.choice(z.shape[0], size=min(z.shape[0], 1000), replace=False)
    pairwise = kernel[np.ix_(sample, sample)][np.triu_indices(sample.size, k=1)]
    bandwidth_sq = float(np.median(pairwise)) if pairwise.size else 1.0
    bandwidth_sq = bandwidth_sq or 1.0
    kernel *= np.float32(-1.0 / (2.0 * bandwidth_sq))
    np.exp(kernel, out=kernel)
    return kernel, math.sqrt(bandwidth_sq)


def _scores(kernel: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """diag(S^T K S) for the label vectors in the columns of S."""
    return np.einsum("ij,ij->j", columns, kernel @ columns, dtype=np.float64)


def mmd_permutation_test(x: np.ndarray, y: np.ndarray, permutations: int, rng: np.random.Generator,
                         stop_after: int = MMD_STOP_AFTER) -> MmdResult:
    """Maximum Mean Discrepancy (Gretton et al. 2012, biased MMD^2) with an RBF kernel and a
    permutation p-value.

    The statistic is s^T K s with s = +1/n for x and -1/m for y; permutations are scored a batch
    at a time as diag(S^T K S) from one matrix product K @ S. Permuting stops as soon as
    `stop_after` permuted statistics reach the observed one, after l permutations, with p =
    stop_after / l (Besag & Clifford 1991, "Sequential Monte Carlo p-values", Biometrika 78:
    301-304); undrifted data thus costs a few dozen permutations. Otherwise all B run and p =
    (b + 1) / (B + 1) with b the permutations at least as large (Phipson & Smyth 2010: never 0).
    Both p-values are valid: P(p <= u) <= u under exchangeability.
    """
    n, total = x.shape[0], x.shape[0] + y.shape[0]
    if n < 2 or y.shape[0] < 2:
        raise Undefined("fewer than two rows on one side")
    kernel, bandwidth = rbf_kernel(np.vstack([x, y]).astype(np.float32), rng)
    labels = np.concatenate([np.full(n, 1.0 / n), np.full(total - n, -1.0 / (total - n))]).astype(np.float32)
    # float32 products differ from exact ones by about 1e-8 of |s|^T K |s| (at most 4); statistics
    # closer than 1e-7 of it are ties, so identical rows (every statistic 0) never read as drift.
    tolerance = 1e-7 * float(np.abs(labels) @ kernel @ np.abs(labels))
    observed, beaten, done = None, 0, 0
    while done < permutations:
        batch = min(MMD_BATCH, permutations - done)
        columns = np.empty((total, batch + (observed is None)), dtype=np.float32)
        if observed is None:  # scored in the same product as the first permutations
            columns[:, 0] = labels
        for i in range(columns.shape[1] - batch, columns.shape[1]):
            columns[:, i] = labels[rng.permutation(total)]
        scores = _scores(kernel, columns)
        if observed is None:
            observed, scores = float(scores[0]), scores[1:]
        hits = np.cumsum(scores >= observed - tolerance)
        if hits[-1] + beaten >= stop_after:
            stop = int(np.searchsorted(hits, stop_after - beaten))  # index of the stop_after-th hit
            return MmdResult(observed, stop_after / (done + stop + 1), bandwidth, done + stop + 1, permutations)
        beaten, done = beaten + int(hits[-1]), done + batch
    return MmdResult(observed, (beaten + 1) / (permutations + 1), bandwidth, permutations, permutations)
