"""The drift report as JSON (machine-readable); the HTML page is in html_report.py.

JSON has no NaN or Infinity (RFC 8259): an undefined number is `null`. The results are built
finite-or-None, and `to_json` maps any non-finite float that slipped through to null rather than
failing to write the report.
"""

from __future__ import annotations

import json
import math

from workloads.drift.html_report import to_html
from workloads.drift.results import DriftReport

__all__ = ["finite_json", "to_html", "to_json"]


def finite_json(value):
    """`value` with every non-finite float replaced by None (recursively)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def to_json(report: DriftReport, context: dict | None = None) -> str:
    return json.dumps(finite_json({**(context or {}), **report.to_dict()}), indent=2, allow_nan=False)
