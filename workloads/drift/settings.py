"""Typed settings of the drift statistics (what a model's monitoring config may tune)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

CORRECTIONS = ("bonferroni", "fdr")
MAX_DEFAULT_THREADS = 4  # each worker holds about three copies of one current column (400 MiB at 16M rows)


def default_threads() -> int:
    """CPUs this process may run on (a cpuset, as Kubernetes' static CPU manager sets), at most 4."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(available, MAX_DEFAULT_THREADS))


@dataclass(frozen=True)
class DriftSettings:
    alpha: float = 0.05  # family-wise (bonferroni) or false-discovery (fdr) level
    correction: str = "bonferroni"
    psi_bins: int = 10
    mmd: bool = True
    mmd_sample: int = 5_000  # rows per side after seeded subsampling
    mmd_components: int = 10
    # At least this many permutations; raised to what the family needs (stats.permutations_for_family),
    # and stopped early when the data is clearly undrifted (Besag-Clifford).
    mmd_permutations: int = 1_000
    seed: int = 0
    threads: int = field(default_factory=default_threads)

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {self.correction!r}")
        for name in ("psi_bins", "mmd_sample", "mmd_components", "mmd_permutations", "threads"):
            if getattr(self, name) < (2 if name == "psi_bins" else 1):
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
