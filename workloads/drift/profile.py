"""The reference side of every test, computed once per model version and reused for every run.

Sorting the reference columns, fixing the PSI bins, counting reference categories, deciding
which columns are features (screening.py) and fitting the PCA for MMD depend only on the
reference data, so they live in a `ReferenceProfile` that the job caches next to the model
version (an .npz file, no pickles) instead of recomputing them daily. The reference is read one
column at a time (sources.py); the rows the PCA and MMD need are gathered as each column passes.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workloads.drift.columns import CATEGORICAL, EMPTY, NUMERIC
from workloads.drift.errors import NoDataError, UnreadableFileError
from workloads.drift.screening import categorical_exclusion, kind_exclusion, numeric_exclusion
from workloads.drift.settings import DriftSettings
from workloads.drift.sources import Source, as_source
from workloads.drift.stats import bin_shares, median_sorted, psi_edges

PROFILE_FORMAT = 2  # part of the cache key: a profile of another format is rebuilt, never misread
PCA_FIT_ROWS = 20_000


@dataclass(frozen=True)
class NumericProfile:
    sorted_values: np.ndarray  # the finite values
    median: float
    edges: np.ndarray
    shares: np.ndarray
    missing: int  # null or NaN
    nonfinite: int = 0  # +-inf
    mean: float = float("nan")
    std: float = float("nan")


@dataclass(frozen=True)
class CategoricalProfile:
    categories: list[str]
    counts: np.ndarray
    missing: int


@dataclass(frozen=True)
class Projection:
    """Standardise with the reference mean/std, then project on its top principal components."""

    columns: list[str]
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray  # k x d

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Rows x columns of raw values (missing or non-finite -> the reference mean) -> components."""
        standard = (values - self.mean) / self.scale
        standard[~np.isfinite(standard)] = 0.0
        return standard @ self.components.T


@dataclass
class ReferenceProfile:
    rows: int
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)
    excluded: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature
    unusable: dict[str, str] = field(default_factory=dict)  # column -> why it cannot be tested
    columns: list[str] = field(default_factory=list)  # every reference column, in order
    projection: Projection | None = None
    mmd_sample: np.ndarray | None = None

    def kind_of(self, column: str) -> str:
        return NUMERIC if column in self.numeric else CATEGORICAL

    @property
    def features(self) -> list[str]:
        """Columns compared with the current data (tested, or reported as untestable), in order."""
        return [c for c in self.columns if c not in self.excluded]

    # --- persistence: one .npz, no pickles ---------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        meta: dict = {"format": PROFILE_FORMAT, "rows": self.rows, "columns": self.columns, "numeric": {},
                      "categorical": {}, "excluded": self.excluded, "unusable": self.unusable, "projection": None}
        for i, (name, p) in enumerate(self.numeric.items()):
            arrays |= {f"n{i}_sorted": p.sorted_values, f"n{i}_edges": p.edges, f"n{i}_shares": p.shares}
            meta["numeric"][name] = {"index": i, "median": p.median, "missing": p.missing, "nonfinite": p.nonfinite,
                                     "mean": p.mean, "std": p.std}
        for i, (name, p) in enumerate(self.categorical.items()):
            arrays[f"c{i}_counts"] = p.counts
            meta["categorical"][name] = {"index": i, "categories": p.categories, "missing": p.missing}
        if self.projection is not None and self.mmd_sample is not None:
            arrays |= {"pca_mean": self.projection.mean, "pca_scale": self.projection.scale,
                       "pca_components": self.projection.components, "mmd_sample": self.mmd_sample}
            meta["projection"] = self.projection.columns
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> ReferenceProfile:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta.get("format") != PROFILE_FORMAT:
                raise ValueError(f"profile format {meta.get('format')}, expected {PROFILE_FORMAT}")
            profile = cls(rows=meta["rows"], columns=meta["columns"], excluded=meta["excluded"],
                          unusable=meta["unusable"])
            for name, m in meta["numeric"].items():
                i = m["index"]
                profile.numeric[name] = NumericProfile(npz[f"n{i}_sorted"], m["median"], npz[f"n{i}_edges"],
                                                       npz[f"n{i}_shares"], m["missing"], m["nonfinite"],
                                                       m["mean"], m["std"])
            for name, m in meta["categorical"].items():
                profile.categorical[name] = CategoricalProfile(m["categories"], npz[f"c{m['index']}_counts"], m["missing"])
            if meta["projection"] is not None:
                profile.projection = Projection(meta["projection"], npz["pca_mean"], npz["pca_scale"], npz["pca_components"])
                profile.mmd_sample = npz["mmd_sample"]
        return profile


def split_finite(values: np.ndarray) -> tuple[np.ndarray, int, int]:
    """(finite values, count of missing (NaN), count of non-finite (+-inf)) of a float64 column."""
    finite = np.isfinite(values)
    if finite.all():
        return values, 0, 0
    rest = values[~finite]
    missing = int(np.isnan(rest).sum())
    return values[finite], missing, int(rest.size - missing)


def sorted_copy(values: np.ndarray) -> np.ndarray:
    """Sorted values, in place when the array is ours to change."""
    if values.flags.writeable and values.flags.owndata:
        values.sort()
        return values
    return np.sort(values)


def mean_and_std(sorted_values: np.ndarray, block: int = 1 << 20) -> tuple[float, float]:
    """Mean and population standard deviation, in blocks (no temporary as large as the column)."""
    n = sorted_values.size
    if n == 0:
        return float("nan"), float("nan")
    mean = float(np.mean(sorted_values))
    squares = sum(float(np.sum(np.square(sorted_values[i:i + block] - mean))) for i in range(0, n, block))
    return mean, (squares / n) ** 0.5


@dataclass
class _Column:
    """What reading one reference column gives: its profile or why it is not tested, and the
    raw values at the PCA-fit and MMD-sample rows (numeric features only)."""

    name: str
    kind: str
    profile: NumericProfile | CategoricalProfile | None = None
    excluded: str | None = None
    unusable: str | None = None
    gathered: np.ndarray | None = None


def _numeric_column(source: Source, name: str, rows: np.ndarray | None, bins: int) -> _Column:
    values, problems = source.numeric(name)
    _raise_first(problems)
    gathered = values[rows] if rows is not None else None
    finite, missing, nonfinite = split_finite(values)
    if finite.size == 0:
        return _Column(name, NUMERIC, unusable=f"{source.where}: column {name!r}: no finite value "
                                               f"({missing:,} missing, {nonfinite:,} non-finite)")
    ordered = sorted_copy(finite)
    reason = numeric_exclusion(ordered)
    if reason:
        return _Column(name, NUMERIC, excluded=reason)
    edges = psi_edges(ordered, bins)
    with np.errstate(all="ignore"):  # values near 1e308 overflow: the mean is then undefined (inf)
        mean, std = mean_and_std(ordered)
    profile = NumericProfile(ordered, median_sorted(ordered), edges, bin_shares(ordered, edges), missing, nonfinite, mean, std)
    return _Column(name, NUMERIC, profile, gathered=gathered)


def _categorical_column(source: Source, name: str) -> _Column:
    index: dict[str, int] = {}
    codes, problems = source.categorical(name, index)
    _raise_first(problems)
    present = codes[codes >= 0]
    if present.size == 0:
        return _Column(name, CATEGORICAL, unusable=f"{source.where}: column {name!r}: every value is missing")
    labels, counts = list(index), np.bincount(present, minlength=len(index))
    reason = categorical_exclusion(labels, counts)
    if reason:
        return _Column(name, CATEGORICAL, excluded=reason)
    return _Column(name, CATEGORICAL, CategoricalProfile(labels, counts, int(codes.size - present.size)))


def _raise_first(problems) -> None:
    if problems:  # the reference must be whole: the tests of every day rest on it
        raise UnreadableFileError(f"reference data: {problems[0].message}")


def _read_column(source: Source, name: str, kind: str, rows: np.ndarray | None, bins: int) -> _Column:
    reason = kind_exclusion(kind, source.type_name(name))
    if reason:
        return _Column(name, kind, excluded=reason)
    if kind == EMPTY:
        return _Column(name, kind, unusable=f"{source.where}: column {name!r}: every value is missing")
    if kind == NUMERIC:
        return _numeric_column(source, name, rows, bins)
    return _categorical_column(source, name)


def build_profile(reference: pd.DataFrame | Source, settings: DriftSettings) -> ReferenceProfile:
    """Sort and summarise every reference column, in parallel (NumPy releases the GIL)."""
    source = as_source(reference, "the reference data")
    if source.rows == 0:
        raise NoDataError("the reference data has no rows")
    _raise_first(source.problems)
    kinds = source.kinds()
    rng = np.random.default_rng(settings.seed)
    fit_rows = np.sort(rng.choice(source.rows, size=min(source.rows, PCA_FIT_ROWS), replace=False))
    sample_rows = np.sort(rng.choice(source.rows, size=min(source.rows, settings.mmd_sample), replace=False))
    rows = np.concatenate([fit_rows, sample_rows]) if settings.mmd else None
    with ThreadPoolExecutor(max_workers=settings.threads) as pool:
        columns = list(pool.map(lambda name: _read_column(source, name, kinds[name], rows, settings.psi_bins), kinds))
    profile = ReferenceProfile(rows=source.rows, columns=list(kinds))
    for column in columns:
        if column.excluded:
            profile.excluded[column.name] = column.excluded
        elif column.unusable:
            profile.unusable[column.name] = column.unusable
        elif column.kind == NUMERIC:
            profile.numeric[column.name] = column.profile
        else:
            profile.categorical[column.name] = column.profile
    gathered = {c.name: c.gathered for c in columns if c.gathered is not None and c.name in profile.numeric}
    if settings.mmd and gathered:
        _fit_projection(profile, gathered, fit_rows.size, settings.mmd_components)
    return profile


def _fit_projection(profile: ReferenceProfile, gathered: dict[str, np.ndarray], fit_size: int, components: int) -> None:
    names = list(gathered)
    values = np.column_stack([gathered[name] for name in names])
    mean = np.array([profile.numeric[name].mean for name in names])
    scale = np.array([profile.numeric[name].std for name in names])
    scale[~(scale > 0)] = 1.0
    standard = (values[:fit_size] - mean) / scale
    standard[~np.isfinite(standard)] = 0.0
    _, _, vt = np.linalg.svd(standard, full_matrices=False)
    profile.projection = Projection(names, mean, scale, vt[:min(components, len(names))])
    profile.mmd_sample = profile.projection.apply(values[fit_size:])
