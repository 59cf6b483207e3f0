"""Batch scoring benchmark: rows per second and peak memory of `python -m workloads.scoring batch`
at 1M, 5M and 20M rows, against MLflow's own batch CLI (`mlflow models predict`) and in-process
`pyfunc.predict` on the whole frame (the floor: no reading, no writing, the model only).

The model is the platform's churn pipeline (scaled numbers and one-hot categories into a logistic
regression, workloads/training/model.py) trained on the churn data, registered in a local MLflow
(SQLite store, file artifacts) with the alias `champion`. The input is parquet files of the
model's 9 inputs plus `customer_id` and `event_timestamp`, every row inside the scored day. Every
candidate runs in a fresh process; its peak memory is the process's maximum resident set
(`wait4`'s ru_maxrss), and for the job with several workers the peak of its process tree's
proportional set size (PSS, /proc/<pid>/smaps_rollup sampled every 50 ms: pages the forked
workers share with the job counted once, as the container's memory limit counts them). The job writes the output and the prediction log to local directories (the
same Arrow filesystem code as S3, without the network).

- **job, whole process**: start to exit (imports, model load, scoring, commit);
- **job, scoring**: the manifest's `started` to `committed` (what grows with the table);
- **job, N workers**: the same with `--workers N` (N = the cores, when more than 1);
- **mlflow models predict**: its CSV input (it reads only CSV or JSON), `--env-manager local`;
- **floor**: `pyfunc.predict` on the frame already in memory; and, since the job also logs each
  row's probability, `predict` plus the raw model's `predict_proba` (the same model work).
`make bench-scoring` (or `python -m benchmarks.scoring_bench`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from benchmarks.measure import save_results
from workloads.churn import CATEGORIES, FEATURES, generate

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- scoring-bench:begin -->", "<!-- scoring-bench:end -->"
MODEL = "churn-bench"
DAY = date(2026, 11, 30)
CHUNK = 1_000_000

FLOOR = """
import json, sys, time
import mlflow.pyfunc, pyarrow.parquet as pq
frame = pq.read_table(sys.argv[1], columns=json.loads(sys.argv[2])).to_pandas()
model = mlflow.pyfunc.load_model(sys.argv[3])
started = time.perf_counter(); model.predict(frame); predict = time.perf_counter() - started
started = time.perf_counter(); model.get_raw_model().predict_proba(frame); proba = time.perf_counter() - started
print(json.dumps({"predict_s": predict, "predict_proba_s": proba}))
"""


def env(work: Path) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{work}/mlflow.db", "PYTHONPATH": str(ROOT),
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}


def register_model(work: Path) -> None:
    """The churn pipeline, trained and registered as MODEL@champion (in a child process: the
    benchmark's own memory stays small)."""
    script = f"""
import mlflow, mlflow.sklearn
from mlflow.models import infer_signature
from mlflow.tracking import MlflowClient
from workloads.churn import generate, FEATURES, CATEGORIES
from workloads.training.model import build_pipeline
frame = generate(20_000, seed=1)
for name in CATEGORIES: frame[name] = frame[name].astype(str)
X = frame[list(FEATURES)]
pipeline = build_pipeline(X, list(FEATURES)).fit(X, frame["churned"])
experiment = mlflow.create_experiment("bench", artifact_location="file://{work}/artifacts")
with mlflow.start_run(experiment_id=experiment):
    info = mlflow.sklearn.log_model(pipeline, name="model", signature=infer_signature(X, pipeline.predict(X)),
                                    registered_model_name="{MODEL}")
MlflowClient().set_registered_model_alias("{MODEL}", "champion", info.registered_model_version)
"""
    subprocess.run([sys.executable, "-c", script], env=env(work), check=True, capture_output=True, text=True)


def write_input(directory: Path, rows: int, csv: Path | None) -> None:
    """`rows` rows in parquet files of at most CHUNK rows (and, optionally, the inputs as CSV)."""
    directory.mkdir(parents=True)
    for index, start in enumerate(range(0, rows, CHUNK)):
        frame = generate(min(CHUNK, rows - start), seed=100 + index, start=str(DAY), first_customer=start)
        for name in CATEGORIES:
            frame[name] = frame[name].astype(str)
        frame = frame[["customer_id", "event_timestamp", *FEATURES]]
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), directory / f"part-{index:03d}.parquet",
                       row_group_size=250_000)
        if csv is not None:
            frame[list(FEATURES)].to_csv(csv, mode="a", header=index == 0, index=False)


def tree_pss_mib(pid: int) -> float:
    """The proportional set size of `pid` and its descendants, MiB (0 once it is gone)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            rollup = Path(f"/proc/{current}/smaps_rollup").read_text()
            total += next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, StopIteration, ValueError):
            continue
    return total / 1024


def run(command: list[str], work: Path, tree: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak resident MiB, stdout) of `command` in a fresh process (its own rusage
    from `wait4`, so no other child's peak is counted). With `tree` (a dict), its "peak_pss_mib"
    is set to the process tree's peak PSS."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env(work), cwd=work, stdout=out, stderr=err, text=True)
        done = threading.Event()

        def sample() -> None:
            peak = 0.0
            while not done.wait(0.05):
                peak = max(peak, tree_pss_mib(process.pid))
            tree["peak_pss_mib"] = peak

        sampler = threading.Thread(target=sample) if tree is not None else None
        if sampler:
            sampler.start()
        _pid, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        if sampler:
            sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            raise RuntimeError(f"{' '.join(command[:6])} failed ({process.returncode}):\n{err.read()[-3000:]}")
        return wall, usage.ru_maxrss / 1024, out.read()


def measure(rows: int, work: Path, mlflow_up_to: int, workers_max: int) -> dict:
    data, csv = work / f"input-{rows}", work / f"input-{rows}.csv"
    write_input(data, rows, csv if rows <= mlflow_up_to else None)
    result: dict = {"rows": rows}
    floor = run([sys.executable, "-c", FLOOR, str(data), json.dumps(list(FEATURES)), f"models:/{MODEL}@champion"], work)
    times = json.loads(floor[2])
    result["floor"] = {"predict_s": round(times["predict_s"], 2),
                       "predict_and_proba_s": round(times["predict_s"] + times["predict_proba_s"], 2),
                       "peak_mib": round(floor[1])}
    out_dir, log_dir = work / f"out-{rows}", work / f"log-{rows}"
    job = [sys.executable, "-m", "workloads.scoring", "batch", "--model", MODEL, "--input", str(data), "--output",
           str(out_dir), "--log-uri", str(log_dir), "--interval-end", (DAY + timedelta(days=1)).isoformat()]
    for workers in sorted({1, workers_max}):
        tree: dict = {}
        wall, peak, _out = run([*job, "--workers", str(workers)], work, tree)
        manifest = json.loads((out_dir / MODEL / f"dt={DAY.isoformat()}" / "_SUCCESS").read_text())
        assert manifest["rows_scored"] == rows, manifest
        scoring = (datetime.fromisoformat(manifest["committed"]) - datetime.fromisoformat(manifest["started"])).total_seconds()
        result["job" if workers == 1 else "job_parallel"] = {
            "workers": workers, "wall_s": round(wall, 1), "scoring_s": round(scoring, 1), "peak_mib": round(peak),
            "peak_pss_mib": round(tree["peak_pss_mib"])}
    if rows <= mlflow_up_to:
        wall, peak, _out = run([str(Path(sys.executable).with_name("mlflow")), "models", "predict", "-m", f"models:/{MODEL}@champion", "-i", str(csv),
                                "-t", "csv", "-o", str(work / f"mlflow-{rows}.json"), "--env-manager", "local"], work)
        result["mlflow"] = {"wall_s": round(wall, 1), "peak_mib": round(peak)}
    for path in (data, out_dir, log_dir):
        shutil.rmtree(path, ignore_errors=True)
    for path in (csv, work / f"mlflow-{rows}.json"):
        path.unlink(missing_ok=True)
    return result


def markdown(result: dict) -> str:
    first = result["results"][0]
    workers = first.get("job_parallel", first["job"])["workers"]
    lines = [
        f"The churn pipeline (9 inputs, one-hot and scaling into a logistic regression), input parquet in files of "
        f"{CHUNK:,} rows; local disk, {result['cores']} cores, Python {result['python']}, MLflow {result['mlflow']}. "
        "Rows per second over each candidate's whole run (start to exit) unless said; `scoring` = the manifest's "
        "started to committed. Generated by `make bench-scoring` (benchmarks/scoring_bench.py).",
        "",
        f"| rows | job, 1 worker | its scoring | job, {workers} workers | its scoring | `mlflow models predict` | "
        f"job ({workers} workers) vs mlflow | floor `predict` | floor `predict`+`predict_proba` | "
        f"scoring vs floor `predict` (1 / {workers} workers) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["results"]:
        rows, job, floor, mlflow = r["rows"], r["job"], r["floor"], r.get("mlflow")
        parallel = r.get("job_parallel", job)
        lines.append(
            f"| {rows:,} | {rows / job['wall_s']:,.0f} | {rows / job['scoring_s']:,.0f} | "
            f"{rows / parallel['wall_s']:,.0f} | {rows / parallel['scoring_s']:,.0f} | "
            + (f"{rows / mlflow['wall_s']:,.0f} | {mlflow['wall_s'] / parallel['wall_s']:.1f}x | " if mlflow
               else "not run | - | ")
            + f"{rows / floor['predict_s']:,.0f} | {rows / floor['predict_and_proba_s']:,.0f} | "
              f"{job['scoring_s'] / floor['predict_s']:.2f}x / {parallel['scoring_s'] / floor['predict_s']:.2f}x |")
    lines += [
        "",
        "Peak memory, MiB: the process's maximum resident set; for the job also the peak proportional set size "
        "of its process tree (pages its forked workers share with it counted once, as a container's memory "
        "limit counts them).",
        "",
        f"| rows | job, 1 worker (RSS / tree PSS) | job, {workers} workers (job's RSS / tree PSS) | "
        "`mlflow models predict` | floor (the frame in memory) |",
        "|---|---|---|---|---|",
    ]
    for r in result["results"]:
        job, mlflow = r["job"], r.get("mlflow")
        parallel = r.get("job_parallel", job)
        mlflow_peak = f"{mlflow['peak_mib']:,}" if mlflow else "not run"
        lines.append(f"| {r['rows']:,} | {job['peak_mib']:,} / {job['peak_pss_mib']:,} | "
                     f"{parallel['peak_mib']:,} / {parallel['peak_pss_mib']:,} | {mlflow_peak} | "
                     f"{r['floor']['peak_mib']:,} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scoring_bench")
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000, 20_000_000])
    parser.add_argument("--mlflow-up-to", type=int, default=5_000_000,
                        help="run `mlflow models predict` up to this many rows (its CSV input at 20M is ~2 GB)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="the parallel job's workers (default: the cores)")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "scoring.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    import mlflow

    work = Path(tempfile.mkdtemp(prefix="scoring-bench-"))
    try:
        register_model(work)
        results = [measure(rows, work, args.mlflow_up_to, args.workers) for rows in args.rows]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {"cores": os.cpu_count(), "python": host.python_version(), "mlflow": mlflow.__version__, "results": results}
    save_results(result, args.json, args.doc, BEGIN, END, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
