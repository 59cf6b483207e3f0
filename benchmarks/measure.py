"""Wall time and peak resident memory of one call, measured in this process.

Memory is sampled from /proc/self/statm by a background thread (tracemalloc would slow the
pure-Python parts of other tools and miss allocations outside Python's allocator).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


@dataclass
class Measurement:
    seconds: float
    peak_extra_mib: float  # peak RSS during the call minus RSS just before it
    result: Any = None


def measure(call: Callable[[], Any], interval: float = 0.005) -> Measurement:
    gc.collect()
    start_rss = rss_bytes()
    peak = start_rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_bytes())
            time.sleep(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        result = call()
    finally:
        seconds = time.perf_counter() - started
        done.set()
        sampler.join()
    peak = max(peak, rss_bytes())
    return Measurement(seconds, (peak - start_rss) / 2**20, result)


def best_of(call: Callable[[], Any], repeats: int) -> Measurement:
    """Fastest of `repeats` runs (noise on a shared machine only ever adds time); the largest peak."""
    runs = [measure(call) for _ in range(repeats)]
    fastest = min(runs, key=lambda m: m.seconds)
    return Measurement(fastest.seconds, max(m.peak_extra_mib for m in runs), fastest.result)


def write_section(doc: Path, begin: str, end: str, text: str) -> None:
    """Replace what lies between the `begin` and `end` markers of `doc` with `text`."""
    content = doc.read_text()
    start, stop = content.index(begin) + len(begin), content.index(end)
    doc.write_text(content[:start] + "\n" + text + "\n" + content[stop:])


def save_results(result: dict, json_path: Path, doc: Path | None, begin: str, end: str, text: str) -> None:
    """Write the raw figures to `json_path` and `text` into `doc` between the markers; echo both."""
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(result, indent=2))
    if doc and doc.is_file():
        write_section(doc, begin, end, text)
    print(text)
    print(f"\nwrote {json_path}" + (f" and {doc}" if doc and doc.is_file() else ""), file=sys.stderr)
