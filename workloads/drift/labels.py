"""Readable labels for numeric bins and for changes, as the report shows them."""

from __future__ import annotations

import math

import numpy as np

MAX_DIGITS = 12


def number(value: float, digits: int = 4) -> str:
    """`value` to `digits` significant digits, compactly: `12.5`, `1,250`, `2,350,000`, `0.00123`, `3.2e-07`."""
    rounded = float(f"{value:.{digits}g}")
    if abs(rounded) >= 1e15 or (rounded != 0 and abs(rounded) < 1e-3):
        return f"{value:.{digits}g}"
    if rounded == int(rounded):
        return f"{int(rounded):,}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    return f"{rounded:,.{decimals}f}".rstrip("0").rstrip(".")


def bin_labels(edges: np.ndarray) -> list[str]:
    """Labels of the bins (-inf, e1], (e1, e2], ..., (e_k, inf): `≤ 1.5`, `1.5 – 3`, `> 3`, with
    the fewest significant digits (3 or more) that keep every edge distinct."""
    values = [float(e) for e in edges]
    for digits in range(3, MAX_DIGITS + 1):
        shown = [number(v, digits) for v in values]
        if len(set(shown)) == len(shown):
            break
    if not shown:
        return ["all values"]
    inner = [f"{lo} – {hi}" for lo, hi in zip(shown[:-1], shown[1:], strict=True)]
    return [f"≤ {shown[0]}", *inner, f"> {shown[-1]}"]


def signed(value: float | None, unit: str = "", digits: int = 2) -> str:
    """`+0.52 SD`, `−4.0 pp`; `n/a` when undefined."""
    if value is None:
        return "n/a"
    sign = "+" if value >= 0 else "−"
    return f"{sign}{abs(value):.{digits}f}{(' ' + unit) if unit else ''}"
