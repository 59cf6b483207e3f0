"""The reference side of every test, computed once per model version and reused for every run.

Sorting the reference columns, fixing the PSI bins, counting reference categories and fitting
the PCA for MMD depend only on the reference data, so they live in a `ReferenceProfile` that the
job caches next to the model version (an .npz file) instead of recomputing them daily.
"""

from __future__ import annotations

import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workloads.drift.errors import UnusableColumnError
from workloads.drift.settings import DriftSettings
from workloads.drift.stats import bin_shares, median_sorted, psi_edges

PCA_FIT_ROWS = 20_000


@dataclass(frozen=True)
class NumericProfile:
    sorted_values: np.ndarray
    median: float
    edges: np.ndarray
    shares: np.ndarray
    missing: int


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

    def apply(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.columns].to_numpy(dtype=np.float64, na_value=np.nan)
        standard = (values - self.mean) / self.scale
        np.nan_to_num(standard, copy=False, nan=0.0)  # missing -> reference mean
        return standard @ self.components.T


@dataclass
class ReferenceProfile:
    rows: int
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoricalProfile] = field(default_factory=dict)
    projection: Projection | None = None
    mmd_sample: np.ndarray | None = None

    def kind_of(self, column: str) -> str:
        return "numeric" if column in self.numeric else "categorical"

    # --- persistence: one .npz, no pickles ---------------------------------------------------
    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {}
        meta: dict = {"rows": self.rows, "numeric": {}, "categorical": {}, "projection": None}
        for i, (name, p) in enumerate(self.numeric.items()):
            arrays |= {f"n{i}_sorted": p.sorted_values, f"n{i}_edges": p.edges, f"n{i}_shares": p.shares}
            meta["numeric"][name] = {"index": i, "median": p.median, "missing": p.missing}
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
            profile = cls(rows=meta["rows"])
            for name, m in meta["numeric"].items():
                i = m["index"]
                profile.numeric[name] = NumericProfile(npz[f"n{i}_sorted"], m["median"], npz[f"n{i}_edges"],
                                                       npz[f"n{i}_shares"], m["missing"])
            for name, m in meta["categorical"].items():
                profile.categorical[name] = CategoricalProfile(m["categories"], npz[f"c{m['index']}_counts"], m["missing"])
            if meta["projection"] is not None:
                profile.projection = Projection(meta["projection"], npz["pca_mean"], npz["pca_scale"], npz["pca_components"])
                profile.mmd_sample = npz["mmd_sample"]
        return profile


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def categorical_codes(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(codes with -1 for missing, category labels as strings)."""
    values = series if isinstance(series.dtype, pd.CategoricalDtype) else series.astype("category")
    return np.asarray(values.cat.codes), [str(c) for c in values.cat.categories]


def numeric_values(series: pd.Series, column: str, side: str) -> tuple[np.ndarray, int]:
    """Sorted non-missing values and the number of missing ones."""
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    kept = values[~missing] if missing.any() else values
    if kept.size == 0:
        raise UnusableColumnError(f"column {column!r}: every value is missing in the {side} data")
    return np.sort(kept), int(missing.sum())


def _numeric_profile(column: str, series: pd.Series, bins: int) -> NumericProfile:
    sorted_values, missing = numeric_values(series, column, "reference")
    if sorted_values[0] == sorted_values[-1]:
        raise UnusableColumnError(
            f"column {column!r}: constant in the reference ({float(sorted_values[0])!r}); drop it from monitoring"
        )
    edges = psi_edges(sorted_values, bins)
    return NumericProfile(sorted_values, median_sorted(sorted_values), edges, bin_shares(sorted_values, edges), missing)


def _categorical_profile(column: str, series: pd.Series, bins: int) -> CategoricalProfile:
    codes, categories = categorical_codes(series)
    valid = codes[codes >= 0]
    if valid.size == 0:
        raise UnusableColumnError(f"column {column!r}: every value is missing in the reference data")
    return CategoricalProfile(categories, np.bincount(valid, minlength=len(categories)), int((codes < 0).sum()))


def build_profile(reference: pd.DataFrame, settings: DriftSettings) -> ReferenceProfile:
    """Sort and summarise every reference column, in parallel (NumPy releases the GIL)."""
    profile = ReferenceProfile(rows=len(reference))
    kinds = {c: "numeric" if is_numeric(reference[c]) else "categorical" for c in reference.columns}
    with ThreadPoolExecutor(max_workers=settings.threads) as pool:
        futures = {
            column: pool.submit(_numeric_profile if kind == "numeric" else _categorical_profile,
                                column, reference[column], settings.psi_bins)
            for column, kind in kinds.items()
        }
        for column, future in futures.items():
            target = profile.numeric if kinds[column] == "numeric" else profile.categorical
            target[column] = future.result()
    if settings.mmd and profile.numeric:
        _fit_projection(reference, profile, settings)
    return profile


def _fit_projection(reference: pd.DataFrame, profile: ReferenceProfile, settings: DriftSettings) -> None:
    rng = np.random.default_rng(settings.seed)
    columns = list(profile.numeric)
    fit_rows = rng.choice(len(reference), size=min(len(reference), PCA_FIT_ROWS), replace=False)
    values = reference[columns].iloc[np.sort(fit_rows)].to_numpy(dtype=np.float64, na_value=np.nan)
    mean = np.nanmean(values, axis=0)
    scale = np.nanstd(values, axis=0)
    scale[scale == 0] = 1.0
    standard = np.nan_to_num((values - mean) / scale, nan=0.0)
    k = min(settings.mmd_components, len(columns))
    _, _, vt = np.linalg.svd(standard, full_matrices=False)
    profile.projection = Projection(columns, mean, scale, vt[:k])
    sample_rows = rng.choice(len(reference), size=min(len(reference), settings.mmd_sample), replace=False)
    profile.mmd_sample = profile.projection.apply(reference.iloc[np.sort(sample_rows)])
