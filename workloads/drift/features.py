"""One feature's comparison: its tests, and the direction and size of its change.

Numeric: KS and Levene on the finite values, PSI on the reference's quantile bins, and the shift
of mean and median in reference standard deviations with the ratio of spreads. Categorical: the
chi-squared test of homogeneity with sparse categories pooled, PSI, and the change of each
category's share in percentage points. Both: the share of missing values (and, for numbers, of
+-inf) tested with Fisher's exact test whenever either side has any. Missing and non-finite
values never reach the value tests; they are counted, reported and tested as shares.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from workloads.drift.columns import CATEGORICAL, NUMERIC
from workloads.drift.labels import bin_labels
from workloads.drift.profile import CategoricalProfile, NumericProfile, mean_and_std, sorted_copy, split_finite
from workloads.drift.results import FeatureResult, TestOutcome, finite_or_none
from workloads.drift.stats import (
    Undefined,
    bin_shares,
    chi2_counts,
    ks_sorted,
    label_keys,
    levene_sorted,
    median_sorted,
    psi,
    share_test,
)

MAX_CATEGORY_BARS = 30  # the chart shows the largest categories; the rest share one bar
TOP_SHARE_CHANGES = 10


def run_test(test: str, compute: Callable[[], object]) -> TestOutcome:
    """The outcome of one test; `Undefined` (or a non-finite result) makes it not applicable.
    Overflow in extreme values (1e308) yields inf or NaN, caught by TestOutcome, not a warning."""
    try:
        with np.errstate(all="ignore"):
            result = compute()
    except Undefined as undefined:
        return TestOutcome.not_applicable(test, str(undefined))
    return TestOutcome(test, result.statistic, result.p_value, mode=result.mode)


def share_tests(reference: tuple[int, int, int], current: tuple[int, int, int], numeric: bool) -> list[TestOutcome]:
    """Tests of the missing share (and for numbers the non-finite share); each side is
    (missing, non-finite, rows). A share that is 0 on both sides cannot change: not applicable."""
    tests = []
    for test, position in (("missing_share", 0), ("nonfinite_share", 1))[: 2 if numeric else 1]:
        what = "missing" if position == 0 else "non-finite"
        if reference[position] + current[position] == 0:
            tests.append(TestOutcome.not_applicable(test, f"no {what} values on either side"))
        else:
            tests.append(run_test(test, lambda p=position: share_test(reference[p], reference[2], current[p], current[2])))
    return tests


def numeric_change(ref: NumericProfile, current_sorted: np.ndarray) -> dict:
    """Mean and median shift in reference standard deviations; ratio of standard deviations
    (None where undefined: no spread in the reference, no current values, overflow)."""
    with np.errstate(all="ignore"):
        return _numeric_change(ref, current_sorted)


def _numeric_change(ref: NumericProfile, current_sorted: np.ndarray) -> dict:
    mean, std = mean_and_std(current_sorted)
    median = median_sorted(current_sorted) if current_sorted.size else float("nan")
    scale = ref.std if ref.std > 0 else float("nan")
    return {k: finite_or_none(v) for k, v in {
        "mean_reference": ref.mean, "mean_current": mean, "median_reference": ref.median, "median_current": median,
        "std_reference": ref.std, "std_current": std, "mean_shift_sd": (mean - ref.mean) / scale,
        "median_shift_sd": (median - ref.median) / scale, "std_ratio": std / scale,
    }.items()}


def compare_numeric(name: str, ref: NumericProfile, values: np.ndarray, reference_rows: int) -> FeatureResult:
    finite, missing, nonfinite = split_finite(values)
    current = sorted_copy(finite)
    tests = [run_test("ks", lambda: ks_sorted(ref.sorted_values, current)),
             run_test("levene", lambda: levene_sorted(ref.sorted_values, current)),
             *share_tests((ref.missing, ref.nonfinite, reference_rows), (missing, nonfinite, values.size), numeric=True)]
    shares = bin_shares(current, ref.edges) if current.size else np.zeros(ref.shares.size)
    return FeatureResult(
        name=name, kind=NUMERIC, tests=tests, psi=psi(ref.shares, shares) if current.size else None,
        missing_reference=ref.missing, missing_current=missing, nonfinite_reference=ref.nonfinite,
        nonfinite_current=nonfinite, rows_reference=reference_rows, rows_current=int(values.size),
        bins=bin_labels(ref.edges), reference_shares=ref.shares.tolist(), current_shares=shares.tolist(),
        change=numeric_change(ref, current),
    )


def category_change(labels: list[str], reference_shares: np.ndarray, current_shares: np.ndarray) -> dict:
    """Each category's share change in percentage points, largest first (the top ones)."""
    change = (current_shares - reference_shares) * 100
    order = np.argsort(-np.abs(change), kind="stable")[:TOP_SHARE_CHANGES]
    return {"share_change_pp": [{"category": labels[i], "reference": float(reference_shares[i]),
                                 "current": float(current_shares[i]), "change_pp": float(change[i])} for i in order]}


def category_bars(labels: list[str], reference_shares: np.ndarray, current_shares: np.ndarray):
    """The categories to chart: the largest on either side, the rest summed into one bar."""
    if len(labels) <= MAX_CATEGORY_BARS:
        return labels, reference_shares, current_shares
    top = np.sort(np.argsort(-np.maximum(reference_shares, current_shares), kind="stable")[: MAX_CATEGORY_BARS - 1])
    rest = np.setdiff1d(np.arange(len(labels)), top)
    return ([labels[i] for i in top] + [f"other ({rest.size:,} categories)"],
            np.append(reference_shares[top], reference_shares[rest].sum()),
            np.append(current_shares[top], current_shares[rest].sum()))


def compare_categorical(name: str, ref: CategoricalProfile, codes: np.ndarray, labels: list[str],
                        reference_rows: int) -> FeatureResult:
    """`codes` index `labels`, whose first entries are the reference categories in their order."""
    present = codes[codes >= 0]
    width = len(labels)
    current_counts = np.bincount(present, minlength=width)
    reference_counts = np.concatenate([ref.counts, np.zeros(width - ref.counts.size, dtype=ref.counts.dtype)])
    missing = int(codes.size - present.size)
    tests = [run_test("chi2", lambda: chi2_counts(reference_counts, current_counts, label_keys(labels))),
             *share_tests((ref.missing, 0, reference_rows), (missing, 0, codes.size), numeric=False)]
    reference_shares = reference_counts / max(reference_counts.sum(), 1)
    current_shares = current_counts / max(current_counts.sum(), 1)
    bars, bar_reference, bar_current = category_bars(labels, reference_shares, current_shares)
    return FeatureResult(
        name=name, kind=CATEGORICAL, tests=tests, psi=psi(reference_shares, current_shares) if present.size else None,
        missing_reference=ref.missing, missing_current=missing, rows_reference=reference_rows, rows_current=int(codes.size),
        bins=bars, reference_shares=bar_reference.tolist(), current_shares=bar_current.tolist(),
        change=category_change(labels, reference_shares, current_shares) if present.size else {},
        unseen_categories=[labels[i] for i in range(len(ref.categories), width) if current_counts[i] > 0],
    )
