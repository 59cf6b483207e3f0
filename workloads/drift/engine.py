"""Compare current data with a reference profile: per-feature tests, MMD, corrected decisions.

The family of hypotheses is every test run (KS and Levene per numeric feature, chi-squared per
categorical one, and the multivariate MMD); p-values are adjusted across the whole family
(Bonferroni by default, Benjamini-Hochberg with `correction="fdr"`). A feature is drifted when
one of its tests rejects; the dataset is drifted when any test of the family rejects, so under
no drift the chance of a false dataset alarm is at most alpha.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from workloads.drift.errors import NoDataError, SchemaMismatchError, UnusableColumnError
from workloads.drift.profile import (
    CategoricalProfile,
    NumericProfile,
    ReferenceProfile,
    categorical_codes,
    is_numeric,
    numeric_values,
)
from workloads.drift.settings import DriftSettings
from workloads.drift.stats import adjust, bin_shares, chi2_counts, ks_sorted, levene_sorted, mmd_permutation_test, psi

try:  # BLAS threads would compete with the per-column worker threads for the same cores.
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn and the image
    threadpool_limits = None


@dataclass
class TestOutcome:
    test: str
    statistic: float
    p_value: float
    p_adjusted: float = float("nan")
    drifted: bool = False
    mode: str = ""


@dataclass
class FeatureResult:
    name: str
    kind: str
    tests: list[TestOutcome]
    psi: float | None
    missing_reference: int
    missing_current: int
    bins: list[str]
    reference_shares: list[float]
    current_shares: list[float]
    unseen_categories: list[str] = field(default_factory=list)
    drifted: bool = False


@dataclass
class DriftReport:
    settings: dict
    rows_reference: int
    rows_current: int
    features: list[FeatureResult]
    multivariate: TestOutcome | None
    dataset_drift: bool = False
    share_drifted: float = 0.0
    drifted_features: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


def check_schema(profile: ReferenceProfile, current: pd.DataFrame) -> list[str]:
    """Raise SchemaMismatchError naming missing columns and kind changes; return extra columns."""
    expected = {**{c: "numeric" for c in profile.numeric}, **{c: "categorical" for c in profile.categorical}}
    missing = [c for c in expected if c not in current.columns]
    changed = [
        f"{c} (reference {kind}, current {'numeric' if is_numeric(current[c]) else 'categorical'} {current[c].dtype})"
        for c, kind in expected.items()
        if c in current.columns and (kind == "numeric") != is_numeric(current[c])
    ]
    problems = []
    if missing:
        problems.append(f"missing columns: {', '.join(missing)}")
    if changed:
        problems.append(f"columns of another kind: {', '.join(changed)}")
    if problems:
        raise SchemaMismatchError("current data does not match the reference: " + "; ".join(problems))
    return [c for c in current.columns if c not in expected]


def _numeric_feature(name: str, ref: NumericProfile, series: pd.Series) -> FeatureResult:
    current, missing = numeric_values(series, name, "current")
    ks, mode = ks_sorted(ref.sorted_values, current)
    levene = levene_sorted(ref.sorted_values, current)
    current_shares = bin_shares(current, ref.edges)
    labels = _bin_labels(ref.edges)
    return FeatureResult(
        name=name, kind="numeric",
        tests=[TestOutcome("ks", ks.statistic, ks.p_value, mode=mode), TestOutcome("levene", levene.statistic, levene.p_value)],
        psi=psi(ref.shares, current_shares), missing_reference=ref.missing, missing_current=missing,
        bins=labels, reference_shares=ref.shares.tolist(), current_shares=current_shares.tolist(),
    )


def _bin_labels(edges: np.ndarray) -> list[str]:
    bounds = ["-inf", *(f"{e:.4g}" for e in edges), "inf"]
    return [f"({lo}, {hi}]" for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]


def _categorical_feature(name: str, ref: CategoricalProfile, series: pd.Series) -> FeatureResult:
    codes, categories = categorical_codes(series)
    index = {c: i for i, c in enumerate(ref.categories)}
    unseen = [c for c in categories if c not in index]
    for offset, category in enumerate(unseen):
        index[category] = len(ref.categories) + offset
    mapping = np.array([index[c] for c in categories], dtype=np.int64)
    valid = codes[codes >= 0]
    width = len(ref.categories) + len(unseen)
    current_counts = np.bincount(mapping[valid], minlength=width) if valid.size else np.zeros(width, dtype=np.int64)
    if current_counts.sum() == 0:
        raise UnusableColumnError(f"column {name!r}: every value is missing in the current data")
    reference_counts = np.concatenate([ref.counts, np.zeros(len(unseen), dtype=ref.counts.dtype)])
    chi2 = chi2_counts(reference_counts, current_counts)
    reference_shares = reference_counts / reference_counts.sum()
    current_shares = current_counts / current_counts.sum()
    return FeatureResult(
        name=name, kind="categorical",
        tests=[TestOutcome("chi2", chi2.statistic, chi2.p_value, mode=f"dof={chi2.dof}")],
        psi=psi(reference_shares, current_shares), missing_reference=ref.missing, missing_current=int((codes < 0).sum()),
        bins=ref.categories + unseen, reference_shares=reference_shares.tolist(), current_shares=current_shares.tolist(),
        unseen_categories=unseen,
    )


def compare(profile: ReferenceProfile, current: pd.DataFrame, settings: DriftSettings) -> DriftReport:
    started = time.perf_counter()
    if len(current) == 0:
        raise NoDataError("the current data has no rows")
    ignored = check_schema(profile, current)

    tasks = [(name, _numeric_feature, ref) for name, ref in profile.numeric.items()]
    tasks += [(name, _categorical_feature, ref) for name, ref in profile.categorical.items()]
    limits = threadpool_limits(limits=1) if threadpool_limits else None
    try:
        with ThreadPoolExecutor(max_workers=settings.threads) as pool:
            futures = [pool.submit(run, name, ref, current[name]) for name, run, ref in tasks]
            features = [future.result() for future in futures]
    finally:
        if limits is not None:
            limits.unregister()

    multivariate = None
    if settings.mmd and profile.projection is not None and profile.mmd_sample is not None:
        rng = np.random.default_rng(settings.seed)
        rows = rng.choice(len(current), size=min(len(current), settings.mmd_sample), replace=False)
        sample = profile.projection.apply(current.iloc[np.sort(rows)])
        mmd = mmd_permutation_test(profile.mmd_sample, sample, settings.mmd_permutations, rng)
        multivariate = TestOutcome("mmd", mmd.mmd2, mmd.p_value, mode=f"rbf bandwidth={mmd.bandwidth:.4g}")

    outcomes = [t for f in features for t in f.tests] + ([multivariate] if multivariate else [])
    adjusted = adjust(np.array([t.p_value for t in outcomes]), settings.correction)
    for outcome, p in zip(outcomes, adjusted, strict=True):
        outcome.p_adjusted = float(p)
        outcome.drifted = bool(p < settings.alpha)
    for feature in features:
        feature.drifted = any(t.drifted for t in feature.tests)
    drifted = [f.name for f in features if f.drifted]
    return DriftReport(
        settings=asdict(settings), rows_reference=profile.rows, rows_current=len(current), features=features,
        multivariate=multivariate, dataset_drift=any(t.drifted for t in outcomes),
        share_drifted=len(drifted) / len(features) if features else 0.0, drifted_features=drifted,
        ignored_columns=ignored, seconds=time.perf_counter() - started,
    )
