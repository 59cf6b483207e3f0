"""Compare current data with a reference profile: per-feature tests, MMD, corrected decisions.

The family of hypotheses is every applicable test run (KS and Levene per numeric feature,
chi-squared per categorical one, the missing and non-finite shares where either side has any,
and the multivariate MMD); p-values are adjusted across the whole family (Bonferroni by
default, Benjamini-Hochberg with `correction="fdr"`). A feature is drifted when one of its
tests rejects; the dataset is drifted when any test of the family rejects, so under no drift
the chance of a false dataset alarm is at most alpha.

Columns are read and tested a few at a time (one per worker thread), so memory holds the
reference profile plus a few current columns whatever the number of rows. Bad input that still
leaves something to compute (a file that cannot be read among several, a missing column) becomes
a `Problem` in the report instead of stopping it. A reference column without a single value is a
fact about the model version, not about the interval: it is reported as not tested, with the
reason (`untested_columns`), and drift is decided on the other features; only a reference in
which no feature can be tested at all is a problem (UnusableColumnError).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from workloads.drift.columns import CATEGORICAL, NUMERIC, compatible
from workloads.drift.errors import NoDataError, Problem, SchemaMismatchError, UnusableColumnError
from workloads.drift.features import compare_categorical, compare_numeric, run_test
from workloads.drift.profile import ReferenceProfile
from workloads.drift.results import NOT_TESTED, DriftReport, FeatureResult, TestOutcome
from workloads.drift.settings import DriftSettings
from workloads.drift.sources import Source, as_source
from workloads.drift.stats import adjust, mmd_permutation_test, permutations_for_family

try:  # BLAS threads would compete with the per-column worker threads for the same cores.
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn and the image
    threadpool_limits = None


@dataclass
class Plan:
    """Which reference features can be tested on this source, and what is wrong with the rest."""

    tested: list[str] = field(default_factory=list)
    untested: list[FeatureResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unusable: list[dict] = field(default_factory=list)  # {"name", "reason"}: no value in the reference


def _untested(name: str, kind: str, reason: str, profile: ReferenceProfile, rows: int) -> FeatureResult:
    return FeatureResult(name=name, kind=kind, tests=[], psi=None, missing_reference=0, missing_current=0,
                         rows_reference=profile.rows, rows_current=rows, status=NOT_TESTED, reason=reason)


def plan(profile: ReferenceProfile, source: Source) -> Plan:
    """Match the current columns to the reference features (SchemaMismatchError, UnusableColumnError)."""
    kinds, result = source.kinds(), Plan()
    missing, changed = [], []
    for name in profile.features:
        kind = NUMERIC if name in profile.numeric else CATEGORICAL if name in profile.categorical else "none"
        if name in profile.unusable:
            result.untested.append(_untested(name, kind, profile.unusable[name], profile, source.rows))
            result.unusable.append({"name": name, "reason": profile.unusable[name]})
        elif name not in kinds:
            missing.append(name)
            result.untested.append(_untested(name, kind, "missing from the current data", profile, source.rows))
        elif not compatible(kind, kinds[name]):
            what = f"{kinds[name]} {source.type_name(name)}"
            changed.append(f"{name} (reference {kind}, current {what})")
            result.untested.append(_untested(name, kind, f"of another kind in the current data ({what})", profile, source.rows))
        else:
            result.tested.append(name)
    problems = ([f"missing columns: {', '.join(missing)}"] if missing else []) + \
               ([f"columns of another kind: {', '.join(changed)}"] if changed else [])
    if problems:
        result.problems.insert(0, Problem.of(SchemaMismatchError(
            f"{source.where} does not match the reference: " + "; ".join(problems))))
    if result.unusable and len(result.unusable) == len(profile.features):
        result.problems.append(Problem.of(UnusableColumnError(
            "no feature of the reference can be tested: " + "; ".join(u["reason"] for u in result.unusable))))
    result.ignored = [c for c in kinds if c not in profile.columns]
    return result


def _feature(profile: ReferenceProfile, source: Source, name: str, rows: np.ndarray | None):
    """(result, values at the MMD rows or None, problems) of one feature."""
    if name in profile.numeric:
        values, problems = source.numeric(name)
        gathered = values[rows] if rows is not None else None
        return compare_numeric(name, profile.numeric[name], values, profile.rows), gathered, problems
    ref = profile.categorical[name]
    index = {category: i for i, category in enumerate(ref.categories)}
    codes, problems = source.categorical(name, index)
    return compare_categorical(name, ref, codes, list(index), profile.rows), None, problems


def _run_features(profile: ReferenceProfile, source: Source, names: list[str], rows, threads: int):
    limits = threadpool_limits(limits=1) if threadpool_limits else None
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(lambda name: _feature(profile, source, name, rows), names))
    finally:
        if limits is not None:
            limits.unregister()


def _multivariate(profile: ReferenceProfile, gathered: dict[str, np.ndarray], family: int,
                  settings: DriftSettings, rng: np.random.Generator) -> TestOutcome | None:
    if profile.projection is None or profile.mmd_sample is None:
        return None
    columns = profile.projection.columns
    absent = [c for c in columns if c not in gathered]
    if absent:  # imputing a whole column would read as drift of the joint distribution
        return TestOutcome.not_applicable("mmd", f"not tested in the current data: {', '.join(absent)}")
    sample = profile.projection.apply(np.column_stack([gathered[c] for c in columns]))
    permutations = permutations_for_family(family + 1, settings.alpha, settings.mmd_permutations)
    return run_test("mmd", lambda: mmd_permutation_test(profile.mmd_sample, sample, permutations, rng))


def _decide(features: list[FeatureResult], multivariate: TestOutcome | None, settings: DriftSettings) -> list[TestOutcome]:
    family = [t for f in features for t in f.tests if t.applicable] + ([multivariate] if multivariate and multivariate.applicable else [])
    for outcome, p in zip(family, adjust(np.array([t.p_value for t in family]), settings.correction), strict=True):
        outcome.p_adjusted = float(p)
        outcome.drifted = bool(p < settings.alpha)
    for feature in features:
        feature.drifted_by = [t.test for t in feature.tests if t.drifted]
        feature.drifted = bool(feature.drifted_by)
    return family


def compare(profile: ReferenceProfile, current: pd.DataFrame | Source, settings: DriftSettings) -> DriftReport:
    started = time.perf_counter()
    source = as_source(current)
    if source.rows == 0:
        raise NoDataError("the current data has no rows")
    matched = plan(profile, source)
    rng = np.random.default_rng(settings.seed)
    rows = None
    if settings.mmd and profile.projection is not None:
        rows = np.sort(rng.choice(source.rows, size=min(source.rows, settings.mmd_sample), replace=False))
    outputs = _run_features(profile, source, matched.tested, rows, settings.threads)
    tested = [result for result, _, _ in outputs]
    gathered = {r.name: g for r, g, _ in outputs if g is not None}
    problems = source.problems + matched.problems + [p for _, _, found in outputs for p in found]

    applicable = sum(t.applicable for f in tested for t in f.tests)
    multivariate = _multivariate(profile, gathered, applicable, settings, rng) if settings.mmd else None
    family = _decide(tested, multivariate, settings)
    order = {name: i for i, name in enumerate(profile.columns)}
    features = sorted(tested + matched.untested, key=lambda f: (not f.drifted, f.smallest_adjusted_p(), order[f.name]))
    drifted = sorted((f.name for f in tested if f.drifted), key=order.__getitem__)
    return DriftReport(
        settings=asdict(settings), rows_reference=profile.rows, rows_current=source.rows, features=features,
        multivariate=multivariate, dataset_drift=any(t.drifted for t in family),
        share_drifted=len(drifted) / len(features) if features else 0.0, drifted_features=drifted,
        ignored_columns=matched.ignored, untested_columns=matched.unusable, problems=problems, family_size=len(family),
        excluded_columns=[{"name": n, "reason": r} for n, r in profile.excluded.items()],
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"), seconds=time.perf_counter() - started,
    )

