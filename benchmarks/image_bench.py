"""Workloads image benchmark: its size, what takes the space, and how long each job's entry point
takes to start in a fresh container.

The image is the one `make image` builds (tools/install/workloads-image.sh). Every start is a new
container with the pods' security context (UID 10001, read-only root, only /tmp writable, no
capabilities), so nothing is shared between starts but the host's page cache. A start imports
what the job's subcommand imports before it does any work: its `__main__` module and the modules
that subcommand imports lazily. Two figures per job:

- **cold**: the host's page cache dropped first (`/proc/sys/vm/drop_caches`, root only; marked
  "not dropped" when the kernel refuses), as on a node that has just pulled the image;
- **warm**: the median of `--repeats` starts right after, as on a node running the job daily.

Each is the container's whole wall time (`podman run` to exit) and, inside it, the import time;
the ratio is against `python -c pass` started the same way in the same run (the floor every job
pays: podman, the runtime, the interpreter).
`make bench-image` (or `python -m benchmarks.image_bench`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.measure import save_results
from tools.servers.image import POD_UID, workloads_image

ROOT = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- image-bench:begin -->", "<!-- image-bench:end -->"
SITE = "/usr/local/lib/python3.11/site-packages"

# Job -> the modules its subcommand has imported when it starts working (workloads/*/__main__.py).
JOBS: dict[str, tuple[str, ...]] = {
    "bucket set-up": ("workloads.buckets.__main__",),
    "smoke": ("workloads.smoke.__main__",),
    "MLflow users": ("workloads.mlflow_access.__main__",),
    "backup, verify, restore": ("workloads.backup.__main__", "boto3", "botocore.config"),
    "drift run": ("workloads.drift.__main__", "workloads.drift.intervals", "boto3", "mlflow.tracking",
                  "workloads.drift.hook", "workloads.drift.job", "workloads.drift.engine"),
    "feast apply": ("workloads.features.__main__", "feast"),
    "materialise": ("workloads.features.__main__", "feast", "workloads.features.materialize"),
    "feature server": ("workloads.features.__main__", "feast", "workloads.features.serve"),
    "training run": ("workloads.training.__main__", "feast", "workloads.features.stage", "workloads.training.run"),
    "promote": ("workloads.training.__main__", "workloads.training.promote"),
    "model server": ("workloads.serving.__main__", "uvicorn", "workloads.serving.app"),
}
BASELINE = "python -c pass"

IMPORT_TIMER = ("import importlib, sys, time\n"
                "started = time.perf_counter()\n"
                "for name in sys.argv[1:]:\n"
                "    importlib.import_module(name)\n"
                "print(time.perf_counter() - started)\n")


def podman_run(image: str, *command: str) -> list[str]:
    return ["podman", "run", "--rm", "--network", "host", "--user", f"{POD_UID}:0", "--cap-drop", "ALL",
            "--security-opt", "no-new-privileges", "--pull", "never", "--read-only", "--read-only-tmpfs=false",
            "--tmpfs", "/tmp:rw,size=64m,mode=1777", image, *command]


def drop_page_cache() -> bool:
    subprocess.run(["sync"], check=True)
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def start(image: str, modules: tuple[str, ...]) -> tuple[float, float]:
    """(wall seconds of the whole container, import seconds inside it)."""
    command = ["python", "-c", "pass"] if not modules else ["python", "-c", IMPORT_TIMER, *modules]
    started = time.perf_counter()
    result = subprocess.run(podman_run(image, *command), capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(modules) or 'python -c pass'} failed in the image:\n{result.stderr[-2000:]}")
    return wall, float(result.stdout.strip() or 0.0)


def startup(image: str, modules: tuple[str, ...], repeats: int) -> dict:
    dropped = drop_page_cache()
    cold_wall, cold_import = start(image, modules)
    warm = [start(image, modules) for _ in range(repeats)]
    return {"cold_wall_s": round(cold_wall, 3), "cold_import_s": round(cold_import, 3), "cache_dropped": dropped,
            "warm_wall_s": round(statistics.median(w for w, _ in warm), 3),
            "warm_import_s": round(statistics.median(i for _, i in warm), 3)}


def in_image(image: str, script: str) -> str:
    result = subprocess.run(["podman", "run", "--rm", "--network", "none", "--pull", "never", image, "sh", "-c", script],
                            capture_output=True, text=True, timeout=600, check=True)
    return result.stdout


def space(image: str) -> dict:
    """Image and base sizes (bytes) and the largest site-packages entries (KiB)."""
    inspect = json.loads(subprocess.run(["podman", "image", "inspect", image], capture_output=True, text=True,
                                        check=True).stdout)[0]
    base_ref = subprocess.run(["bash", str(ROOT / "tools" / "install" / "python-base-image.sh")],
                              capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    base_size = json.loads(subprocess.run(["podman", "image", "inspect", base_ref], capture_output=True, text=True,
                                          check=True).stdout)[0]["Size"]
    listing = in_image(image, f"du -sk {SITE}/* | sort -rn | head -16; echo; du -sk {SITE}; "
                              f"find {SITE} -name '*.pyc' -print0 | du -ck --files0-from=- | tail -1")
    top_text, totals = listing.split("\n\n")
    python = in_image(image, "python -V").split()[-1]
    top = [(int(size), Path(path).name) for size, path in (line.split("\t") for line in top_text.splitlines())]
    site_total, pyc_total = (int(line.split()[0]) for line in totals.strip().splitlines())
    return {"image_bytes": inspect["Size"], "base_bytes": base_size,
            "python": python, "site_packages_kib": site_total, "pyc_kib": pyc_total, "largest_kib": top}


def mb(size: float) -> str:
    return f"{size / 1e6:,.0f} MB"


def render(image: str, sizes: dict, baseline: dict, jobs: dict[str, dict], repeats: int) -> str:
    dropped = all(j["cache_dropped"] for j in [baseline, *jobs.values()])
    lines = [
        f"Image `{image}`, {mb(sizes['image_bytes'])} (podman's size), built FROM the Debian-built base of "
        f"{mb(sizes['base_bytes'])}; site-packages {sizes['site_packages_kib'] / 1024:,.0f} MiB, of which "
        f"compiled bytecode (`.pyc`) {sizes['pyc_kib'] / 1024:,.0f} MiB. Starts: a new container each, UID "
        f"{POD_UID}, read-only root, /tmp tmpfs, no capabilities; cold = page cache "
        f"{'dropped' if dropped else 'NOT dropped (not root)'} first, warm = median of {repeats}. "
        f"Python {sizes['python']} (the image's), 2 cores. Generated by `make bench-image` "
        "(benchmarks/image_bench.py).",
        "",
        "| job | modules imported | cold start s | cold imports s | warm start s | warm imports s | warm start vs `python -c pass` |",
        "|---|---|---|---|---|---|---|",
        f"| (floor) | `{BASELINE}` | {baseline['cold_wall_s']} | - | {baseline['warm_wall_s']} | - | 1.0 |",
    ]
    for job, figures in jobs.items():
        modules = ", ".join(f"`{m}`" for m in JOBS[job])
        ratio = figures["warm_wall_s"] / baseline["warm_wall_s"]
        lines.append(f"| {job} | {modules} | {figures['cold_wall_s']} | {figures['cold_import_s']} | "
                     f"{figures['warm_wall_s']} | {figures['warm_import_s']} | {ratio:.1f} |")
    lines += ["", "Largest entries of site-packages:", "", "| entry | MiB |", "|---|---|"]
    lines += [f"| `{name}` | {size / 1024:,.1f} |" for size, name in sizes["largest_kib"]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.image_bench")
    parser.add_argument("--repeats", type=int, default=3, help="warm starts per job (median reported)")
    parser.add_argument("--jobs", nargs="*", choices=sorted(JOBS), help="only these jobs (default: all)")
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "bench" / "image.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    image = workloads_image()
    sizes = space(image)
    baseline = startup(image, (), args.repeats)
    jobs = {job: startup(image, JOBS[job], args.repeats) for job in (args.jobs or JOBS)}
    result = {"image": image, "space": sizes, "baseline": baseline, "jobs": jobs, "repeats": args.repeats}
    save_results(result, args.json, args.doc, BEGIN, END, render(image, sizes, baseline, jobs, args.repeats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
