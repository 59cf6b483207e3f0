"""Drift job volume: `python -m workloads.drift compare` on 1M, 4M and 16M current rows.

The setting of the scheduled job: a reference of 1M rows and 25 features (20 numeric, 5
categorical with 20 levels), a day of prediction logs as parquet, default settings (MMD on).
Each size runs in a fresh process, as the CronJob does; its wall time and peak resident memory
(VmHWM of its own address space, read as it exits: what a memory limit is judged on; ru_maxrss
would also count the pages of this large parent process, which the child shares until exec)
are recorded. With
column-projected reads, peak memory should be the reference profile plus a few current columns
whatever the row count, and time linear in rows. Run by `make bench` through drift_bench.py.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

NUMERIC, CATEGORICAL, LEVELS = 20, 5, 20
CHUNK = 1_000_000  # rows generated and written at a time (one row group each)
SIZES = (1_000_000, 4_000_000, 16_000_000)
REFERENCE_ROWS = 1_000_000
MEMORY_LIMIT_MIB = 3 * 1024  # the CronJob's default limit (driftMemoryLimit 3Gi)


def chunk(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns = {}
    for i in range(NUMERIC):
        kind = i % 4
        columns[f"num_{i:02d}"] = (rng.normal(50, 10, rows), rng.lognormal(2, 0.5, rows), rng.exponential(3, rows),
                                   rng.poisson(3, rows).astype(np.float64))[kind]
    labels = [f"level_{k:02d}" for k in range(LEVELS)]
    weights = np.linspace(1, 2, LEVELS)
    for j in range(CATEGORICAL):
        codes = rng.choice(LEVELS, size=rows, p=weights / weights.sum())
        columns[f"cat_{j}"] = pd.Categorical.from_codes(codes, categories=labels)
    return pa.Table.from_pandas(pd.DataFrame(columns), preserve_index=False)


def write(path: Path, rows: int, seed: int) -> None:
    """`rows` rows in chunks of CHUNK, so writing never holds more than one chunk."""
    if path.exists() and pq.ParquetFile(path).metadata.num_rows == rows:
        return
    tmp = path.with_suffix(".tmp")
    writer = None
    try:
        for n, start in enumerate(range(0, rows, CHUNK)):
            table = chunk(min(CHUNK, rows - start), seed * 1_000 + n)
            writer = writer or pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    tmp.replace(path)


# Runs the CLI as `python -m workloads.drift` does, then prints the process's peak RSS in KiB.
CHILD = """
import atexit, runpy, sys
def peak():
    status = open("/proc/self/status").read()
    print("VmHWM", next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")), file=sys.stderr)
atexit.register(peak)
sys.argv = ["workloads.drift", *sys.argv[1:]]
runpy.run_module("workloads.drift", run_name="__main__")
"""


def run_compare(root: Path, reference: Path, current: Path) -> dict:
    """Wall seconds and peak RSS (MiB) of one `compare` in its own process."""
    out = root / f"{current.stem}.json"
    command = [sys.executable, "-c", CHILD, "compare", "--reference", str(reference), "--current", str(current),
               "--json", str(out)]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=Path(__file__).resolve().parents[1], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"compare failed ({result.returncode}): {result.stderr[-2000:]}")
    peak_kib = int(result.stderr.rsplit("VmHWM", 1)[1].split()[0])
    return {"seconds": round(seconds, 2), "peak_mib": round(peak_kib / 1024)}


def run(root: Path, sizes: tuple[int, ...] = SIZES) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    reference = root / "reference.parquet"
    write(reference, REFERENCE_ROWS, seed=1)
    results = {}
    for rows in sizes:
        current = root / f"current-{rows // 1_000_000}M.parquet"
        write(current, rows, seed=2)
        results[rows] = run_compare(root, reference, current)
    return {"reference_rows": REFERENCE_ROWS, "features": NUMERIC + CATEGORICAL, "sizes": results,
            "memory_limit_mib": MEMORY_LIMIT_MIB}


def markdown(volume: dict) -> list[str]:
    lines = [
        "",
        f"**Volume** (`{Path(__file__).name}`): `python -m workloads.drift compare`, one process per size, default "
        f"settings, reference {volume['reference_rows']:,} rows, {volume['features']} features; peak resident memory of "
        f"the process (the CronJob's default limit is {volume['memory_limit_mib']:,} MiB).",
        "",
        "| current rows | seconds | seconds per million rows | peak MiB |",
        "|---|---|---|---|",
    ]
    for rows, m in volume["sizes"].items():
        lines.append(f"| {int(rows):,} | {m['seconds']:.1f} | {m['seconds'] / (int(rows) / 1e6):.2f} | {m['peak_mib']:,.0f} |")
    return lines
