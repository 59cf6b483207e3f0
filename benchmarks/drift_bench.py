"""Drift statistics at 1M + 1M rows: this engine vs a per-column SciPy loop vs Evidently, and the
sort floor, all on the same data in one process; then the job's volume figures (drift_volume.py:
`compare` on 1M, 4M and 16M current rows, seconds and peak memory). Run by `make bench`.

Data: 40 numeric columns (normal, log-normal, exponential and integer Poisson, so ties occur)
and 10 categorical ones with 20 levels; 8 numeric and 2 categorical columns drifted on purpose.
The per-feature test set is KS + Levene (Brown-Forsythe) + PSI per numeric column and
chi-squared per categorical column, Bonferroni over the 90 tests at family alpha 0.05.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from benchmarks import drift_volume
from benchmarks.measure import best_of, measure, save_results
from workloads.drift.engine import compare
from workloads.drift.profile import build_profile
from workloads.drift.settings import DriftSettings
from workloads.drift.stats import mmd_permutation_test, permutations_for_family

ROOT = Path(__file__).resolve().parents[1]
NUMERIC, CATEGORICAL, LEVELS = 40, 10, 20
ALPHA = 0.05
MEAN_SHIFTS = {0: 0.25, 1: 0.25, 2: 0.25, 3: 0.25, 6: 0.1, 7: 0.1}  # column -> shift in SDs
SCALE_CHANGES = {4: 1.5, 5: 1.5}
CATEGORY_DRIFT = (0, 1)
BEGIN, END = "<!-- drift-bench:begin -->", "<!-- drift-bench:end -->"
REPEATS = 3  # best of; Evidently runs once (about two minutes at 1M rows)


def numeric_column(rng: np.random.Generator, i: int, rows: int) -> np.ndarray:
    kind = i % 4
    if kind == 0:
        return rng.normal(50, 10, rows)
    if kind == 1:
        return rng.lognormal(2, 0.5, rows)
    if kind == 2:
        return rng.exponential(3, rows)
    return rng.poisson(3, rows).astype(np.float64)


def make_dataset(rows: int, seed: int, drifted: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(NUMERIC):
        values = numeric_column(rng, i, rows)
        if drifted and i in MEAN_SHIFTS:
            values = values + MEAN_SHIFTS[i] * values.std()
        if drifted and i in SCALE_CHANGES:
            values = values.mean() + (values - values.mean()) * SCALE_CHANGES[i]
        columns[f"num_{i:02d}"] = values
    labels = [f"level_{k:02d}" for k in range(LEVELS)]
    for j in range(CATEGORICAL):
        weights = np.linspace(1, 2, LEVELS)
        if drifted and j in CATEGORY_DRIFT:
            weights = weights[::-1] ** 1.2
        codes = rng.choice(LEVELS, size=rows, p=weights / weights.sum())
        columns[f"cat_{j}"] = pd.Categorical.from_codes(codes, categories=labels)
    return pd.DataFrame(columns)


def expected_drift() -> set[str]:
    return {f"num_{i:02d}" for i in (*MEAN_SHIFTS, *SCALE_CHANGES)} | {f"cat_{j}" for j in CATEGORY_DRIFT}


def sort_floor(reference: pd.DataFrame, current: pd.DataFrame, threads: int) -> None:
    columns = [c for c in reference.columns if c.startswith("num_")]
    arrays = [frame[c].to_numpy() for frame in (reference, current) for c in columns]
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(np.sort, arrays))


def scipy_loop(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    """What a careful analyst writes: SciPy per column, same tests, same correction."""
    p_values: list[tuple[str, float]] = []
    for column in reference.columns:
        r, c = reference[column], current[column]
        if column.startswith("num_"):
            a, b = r.to_numpy(), c.to_numpy()
            p_values.append((column, stats.ks_2samp(a, b).pvalue))
            p_values.append((column, stats.levene(a, b, center="median").pvalue))
            edges = np.unique(np.quantile(a, np.linspace(0, 1, 11)[1:-1]))
            np.histogram(b, bins=np.concatenate(([-np.inf], edges, [np.inf])))  # PSI counts
        else:
            table = pd.concat([r.value_counts(sort=False), c.value_counts(sort=False)], axis=1).fillna(0).to_numpy().T
            table = table[:, table.sum(axis=0) > 0]
            p_values.append((column, stats.chi2_contingency(table).pvalue))
    threshold = ALPHA / len(p_values)
    return sorted({column for column, p in p_values if p < threshold})


def evidently(reference: pd.DataFrame, current: pd.DataFrame) -> list[str]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    report = Report([DataDriftPreset(num_method="ks", cat_method="chisquare", threshold=ALPHA)])
    snapshot = report.run(current, reference)
    drifted = []
    for metric in snapshot.dict()["metrics"]:
        name = metric["metric_name"]
        if name.startswith("ValueDrift(column=") and float(metric["value"]) < ALPHA:
            drifted.append(name.split("column=", 1)[1].split(",", 1)[0])
    return sorted(drifted)


def run(rows: int, with_evidently: bool) -> dict:
    threads = os.cpu_count() or 1
    reference, current = make_dataset(rows, seed=1, drifted=False), make_dataset(rows, seed=2, drifted=True)
    data_mib = float(reference.memory_usage(deep=True).sum() + current.memory_usage(deep=True).sum()) / 2**20
    settings = DriftSettings(alpha=ALPHA, mmd=False, threads=threads)
    tools: dict[str, dict] = {}

    sort_floor(reference, current, threads)  # warm-up: first-touch page faults, thread start
    floor = best_of(lambda: sort_floor(reference, current, threads), REPEATS)
    tools["sort floor (np.sort, both datasets)"] = {"seconds": floor.seconds, "peak_extra_mib": floor.peak_extra_mib}

    cold = best_of(lambda: compare(build_profile(reference, settings), current, settings), REPEATS)
    tools["this engine, first run of a model version (builds the profile)"] = _tool(cold, cold.result.drifted_features)
    profile = build_profile(reference, settings)
    warm = best_of(lambda: compare(profile, current, settings), REPEATS)
    tools["this engine, daily run (cached reference profile)"] = _tool(warm, warm.result.drifted_features)

    loop = best_of(lambda: scipy_loop(reference, current), REPEATS)
    tools["SciPy per-column loop"] = _tool(loop, loop.result)
    if with_evidently:
        ev = measure(lambda: evidently(reference, current))
        tools["Evidently DataDriftPreset (ks / chisquare)"] = _tool(ev, ev.result)

    mmd_profile = build_profile(reference.iloc[:200_000], DriftSettings(mmd=True, threads=threads))
    rng = np.random.default_rng(0)
    columns = mmd_profile.projection.columns
    sample = mmd_profile.projection.apply(current[columns].iloc[np.sort(rng.choice(rows, 5_000, replace=False))].to_numpy())
    mmd = best_of(lambda: mmd_permutation_test(mmd_profile.mmd_sample, sample, 100, np.random.default_rng(1)), REPEATS)
    # The job sizes the permutations for its family (here every test of the 50 columns and MMD).
    family = cold.result.family_size + 1
    needed = permutations_for_family(family, ALPHA, DriftSettings().mmd_permutations)
    mmd_family = measure(lambda: mmd_permutation_test(mmd_profile.mmd_sample, sample, needed, np.random.default_rng(1)))
    moderate = measure(lambda: stats.kstwo.sf(0.02, rows // 2))

    # The job builds the reference profile once per model version and caches it, so a daily run
    # costs the cached-profile path; the first run of a version pays for profiling too.
    ours = warm.seconds
    result = {
        "rows": rows, "numeric_columns": NUMERIC, "categorical_columns": CATEGORICAL, "levels": LEVELS,
        "threads": threads, "data_mib": round(data_mib, 1), "expected_drift": sorted(expected_drift()),
        "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "tools": tools,
        "mmd": {"rows": [5_000, 5_000], "components": int(mmd_profile.projection.components.shape[0]),
                "permutations": 100, "seconds": round(mmd.seconds, 3), "p_value": float(mmd.result.p_value),
                "family": family, "family_permutations": mmd_family.result.permutations,
                "family_seconds": round(mmd_family.seconds, 3)},
        "kstwo_sf_moderate_drift_seconds": round(moderate.seconds, 3),
        "ratios": {
            "scipy_loop / this engine (daily run)": round(loop.seconds / ours, 2),
            "this engine (daily run) / sort floor": round(ours / floor.seconds, 2),
            "scipy_loop / this engine (first run of a version)": round(loop.seconds / cold.seconds, 2),
            "this engine (first run of a version) / sort floor": round(cold.seconds / floor.seconds, 2),
        },
    }
    if with_evidently:
        result["ratios"]["evidently / this engine (daily run)"] = round(ev.seconds / ours, 2)
        result["ratios"]["evidently / this engine (first run of a version)"] = round(ev.seconds / cold.seconds, 2)
    result["targets"] = {  # plain bools for JSON
        "30x faster than Evidently": with_evidently and ev.seconds / ours >= 30,
        "4x faster than the SciPy loop": loop.seconds / ours >= 4,
        "within 1.6x of the sort floor": ours / floor.seconds <= 1.6,
        "peak memory under twice the data (first run)": data_mib + cold.peak_extra_mib < 2 * data_mib,
        "same drifted columns as the SciPy loop": sorted(cold.result.drifted_features) == loop.result,
        "MMD 5k+5k, 100 permutations under 2 s": mmd.seconds < 2,
    }
    result["targets"] = {name: bool(met) for name, met in result["targets"].items()}
    return result


def _tool(m, drifted) -> dict:
    return {"seconds": round(m.seconds, 3), "peak_extra_mib": round(m.peak_extra_mib, 1), "drifted": sorted(drifted)}


def markdown(result: dict) -> str:
    expected = set(result["expected_drift"])
    lines = [
        f"{result['rows']:,} reference + {result['rows']:,} current rows, {result['numeric_columns']} numeric and "
        f"{result['categorical_columns']} categorical columns ({result['levels']} levels), "
        f"{len(expected)} drifted on purpose; {result['data_mib']:.0f} MiB in memory; {result['threads']} threads; "
        f"Python {result['python']}; best of {REPEATS} runs (Evidently: one). "
        f"Generated by `make bench` ({Path(__file__).relative_to(ROOT)}).",
        "",
        "Ratios are against the daily run (the reference profile is built once per model version and cached).",
        "",
        "| tool | seconds | x daily run | peak extra MiB | drifted columns found | of the 10 drifted |",
        "|---|---|---|---|---|---|",
    ]
    ours = result["tools"]["this engine, daily run (cached reference profile)"]["seconds"]
    for name, tool in result["tools"].items():
        found = tool.get("drifted")
        hits = f"{len(expected & set(found))} (+{len(set(found) - expected)} false)" if found is not None else ""
        lines.append(f"| {name} | {tool['seconds']:.2f} | {tool['seconds'] / ours:.2f} | {tool['peak_extra_mib']:.0f} | "
                     f"{len(found) if found is not None else ''} | {hits} |")
    mmd = result["mmd"]
    lines += [
        "",
        f"MMD on {mmd['rows'][0]:,} + {mmd['rows'][1]:,} rows after PCA ({mmd['components']} components), "
        f"{mmd['permutations']} permutations: {mmd['seconds']:.2f} s; with the {mmd['family_permutations']:,} permutations "
        f"the job runs for this family of {mmd['family']} tests on drifted data (undrifted data stops after a few dozen): "
        f"{mmd['family_seconds']:.2f} s.",
        f"One SciPy `kstwo.sf` for a moderate drift (D = 0.02 at n = {result['rows'] // 2:,}): "
        f"{result['kstwo_sf_moderate_drift_seconds']:.2f} s (see 'Reading the figures').",
        "",
        *(f"- {name}: {value}" for name, value in result["ratios"].items()),
        "",
        "| target (daily run unless noted) | met |",
        "|---|---|",
    ]
    lines += [f"| {target} | {'yes' if met else 'NO'} |" for target, met in result["targets"].items()]
    if "volume" in result:
        lines += drift_volume.markdown(result["volume"])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.drift_bench")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--no-evidently", action="store_true", help="skip Evidently (about two minutes at 1M rows)")
    parser.add_argument("--no-volume", action="store_true", help="skip the 1M/4M/16M-row volume runs (5 GB of files)")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "drift.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    result = run(args.rows, not args.no_evidently)
    if not args.no_volume:
        result["volume"] = drift_volume.run(ROOT / "build" / "bench" / "drift-volume")
    save_results(result, args.json, args.doc, BEGIN, END, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
